// PolicyEnforcer with fakes: start-up staging before any OVS write, coalescing of bursts, retries with backoff,
// and realization status per policy.
import assert from 'node:assert/strict';
import {
  PolicyEnforcer,
  POLICY_FLOW_OWNER,
  enforcementResyncHook,
} from '../../firmware/agent/policy-enforcer';
import type {
  ControllerChanges,
  ControllerSnapshot,
  InternalNetworkPolicy,
} from '../../firmware/core/controller/internal-types';
import { silentLogger } from '../../firmware/core/logger';
import type { Flow } from '../../firmware/core/pipeline/flow';
import type { FlowPlan } from '../../firmware/core/plan/flow-plan';
import { packetInMeter, type PacketInMeter } from '../../firmware/core/pipeline/controller-userdata';

const EMPTY_SNAPSHOT: ControllerSnapshot = {
  networkPolicies: new Map(),
  addressGroups: new Map(),
  appliedToGroups: new Map(),
};

const EMPTY_PLAN: FlowPlan = { add: [], modify: [], delete: [] };

function policy(uid: string, addressGroups: string[] = []): InternalNetworkPolicy {
  return {
    uid,
    name: uid,
    sourceRef: { type: 'K8sNetworkPolicy', namespace: 'default', name: uid, uid },
    rules: [
      {
        direction: 'In',
        peer: { addressGroups, ipBlocks: [] },
        services: [],
        priority: 0,
        action: 'Allow',
        name: '',
        enableLogging: false,
        appliedToGroups: [],
      },
    ],
    appliedToGroups: ['atg'],
    policyTypes: ['Ingress'],
    span: [],
  } as unknown as InternalNetworkPolicy;
}

function changes(partial: {
  upserted?: InternalNetworkPolicy[];
  deleted?: string[];
  addressGroups?: string[];
}): ControllerChanges {
  return {
    networkPolicies: { upserted: partial.upserted ?? [], deleted: partial.deleted ?? [] },
    addressGroups: {
      upserted: (partial.addressGroups ?? []).map((name) => ({ name }) as never),
      deleted: [],
    },
    appliedToGroups: { upserted: [], deleted: [] },
  };
}

class FakePolicies {
  readonly listeners = new Set<(c: ControllerChanges) => void>();
  policies = new Map<string, InternalNetworkPolicy>();
  replayed = 0;

  onChanges(listener: (c: ControllerChanges) => void, options: { replay?: boolean } = {}): () => void {
    this.listeners.add(listener);
    if (options.replay) {
      this.replayed++;
      listener(changes({ upserted: [...this.policies.values()] }));
    }
    return () => this.listeners.delete(listener);
  }

  view(): { snapshot(): ControllerSnapshot } {
    // The flows themselves are the pipeline's business (tested there): an empty snapshot compiles to none.
    return { snapshot: () => EMPTY_SNAPSHOT };
  }

  emit(c: ControllerChanges): void {
    for (const p of c.networkPolicies.upserted) this.policies.set(p.uid, p);
    for (const uid of c.networkPolicies.deleted) this.policies.delete(uid);
    for (const l of this.listeners) l(c);
  }
}

class FakeFlows {
  readonly calls: string[] = [];
  staged: Flow[] | undefined;
  failuresLeft = 0;
  gate: Promise<void> | undefined;

  stage(owner: string, flows: Flow[]): void {
    this.calls.push(`stage:${owner}`);
    this.staged = flows;
  }

  async setOwnerFlows(owner: string, _flows: Flow[]): Promise<FlowPlan> {
    this.calls.push(`set:${owner}`);
    if (this.gate) await this.gate;
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error('bundle failed');
    }
    return EMPTY_PLAN;
  }
}

function makeEnforcer(policies: FakePolicies, flows: FakeFlows): PolicyEnforcer {
  return new PolicyEnforcer({
    nodeName: 'n1',
    policies,
    localPods: () => new Map(),
    flows,
    logger: silentLogger,
    minRetryDelayMs: 1,
    maxRetryDelayMs: 4,
  });
}

describe('PolicyEnforcer', () => {
  it('stages at start-up without writing, then marks the replayed policies realized', () => {
    const policies = new FakePolicies();
    policies.policies.set('p1', policy('p1'));
    const flows = new FakeFlows();
    const enforcer = makeEnforcer(policies, flows);
    enforcer.stageForStartup();
    assert.deepEqual(flows.calls, [`stage:${POLICY_FLOW_OWNER}`]);
    assert.equal(policies.replayed, 1);
    assert.equal(enforcer.status('p1')?.realized, false);
    enforcer.startupRealized();
    assert.deepEqual(enforcer.status('p1'), { generation: 1, realizedGeneration: 1, realized: true });
    assert.deepEqual(flows.calls, [`stage:${POLICY_FLOW_OWNER}`], 'nothing more to write');
  });

  it('coalesces a burst that arrives during a reconcile into exactly one more', async () => {
    const policies = new FakePolicies();
    const flows = new FakeFlows();
    const enforcer = makeEnforcer(policies, flows);
    enforcer.stageForStartup();
    enforcer.startupRealized();
    let open = (): void => undefined;
    flows.gate = new Promise((resolve) => (open = resolve));
    policies.emit(changes({ upserted: [policy('p1')] }));
    // The reconcile starts on a later turn of the event loop; let it start and block on the gate.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 2; i <= 6; i++) policies.emit(changes({ upserted: [policy(`p${i}`)] }));
    assert.equal(enforcer.status('p6')?.realized, false);
    flows.gate = undefined;
    open();
    await enforcer.idle();
    assert.deepEqual(flows.calls, ['stage:policy', 'set:policy', 'set:policy']);
    for (let i = 1; i <= 6; i++) assert.equal(enforcer.status(`p${i}`)?.realized, true, `p${i}`);
    assert.equal(enforcer.stats.realizedSequence, enforcer.stats.sequence);
    await enforcer.stop();
  });

  it('realizes the changes of one synchronous burst (one API apply) with a single computation', async () => {
    const policies = new FakePolicies();
    const flows = new FakeFlows();
    const enforcer = makeEnforcer(policies, flows);
    enforcer.stageForStartup();
    enforcer.startupRealized();
    for (let i = 1; i <= 5; i++) policies.emit(changes({ upserted: [policy(`p${i}`)] }));
    assert.deepEqual(flows.calls, ['stage:policy'], 'nothing is computed while the caller still runs');
    await enforcer.idle();
    assert.deepEqual(flows.calls, ['stage:policy', 'set:policy']);
    for (let i = 1; i <= 5; i++) assert.equal(enforcer.status(`p${i}`)?.realized, true, `p${i}`);
    await enforcer.stop();
  });

  it('retries a failed reconcile with backoff until it succeeds', async () => {
    const policies = new FakePolicies();
    const flows = new FakeFlows();
    const enforcer = makeEnforcer(policies, flows);
    enforcer.stageForStartup();
    enforcer.startupRealized();
    flows.failuresLeft = 3;
    policies.emit(changes({ upserted: [policy('p1')] }));
    await enforcer.idle();
    assert.equal(flows.calls.filter((c) => c === 'set:policy').length, 4);
    assert.equal(enforcer.stats.failures, 3);
    assert.equal(enforcer.status('p1')?.realized, true);
    await enforcer.stop();
  });

  it('a group change bumps the generation of the policies that use the group only', async () => {
    const policies = new FakePolicies();
    const flows = new FakeFlows();
    const enforcer = makeEnforcer(policies, flows);
    enforcer.stageForStartup();
    enforcer.startupRealized();
    const p1 = policy('p1', ['ag-1']);
    const p2 = policy('p2', ['ag-2']);
    // The fake's snapshot is empty, so put the policies where the enforcer looks them up.
    const snapshot: ControllerSnapshot = { ...EMPTY_SNAPSHOT, networkPolicies: new Map() };
    policies.view = () => ({ snapshot: () => snapshot });
    policies.emit(changes({ upserted: [p1, p2] }));
    await enforcer.idle();
    (snapshot.networkPolicies as Map<string, InternalNetworkPolicy>).set('p1', p1);
    (snapshot.networkPolicies as Map<string, InternalNetworkPolicy>).set('p2', p2);
    const before2 = enforcer.status('p2')?.generation;
    policies.listeners.forEach((l) => l(changes({ addressGroups: ['ag-1'] })));
    assert.equal(enforcer.status('p1')?.realized, false);
    assert.equal(enforcer.status('p2')?.generation, before2);
    (snapshot.networkPolicies as Map<string, InternalNetworkPolicy>).clear();
    await enforcer.idle();
    assert.equal(enforcer.status('p1')?.realized, true);
    policies.emit(changes({ deleted: ['p1'] }));
    assert.equal(enforcer.status('p1'), undefined);
    await enforcer.stop();
  });

  it('the resync hook writes the meter before staging, and marks realized after the resync', async () => {
    const order: string[] = [];
    const policies = new FakePolicies();
    const flows = new FakeFlows();
    const enforcer = makeEnforcer(policies, flows);
    const originalStage = flows.stage.bind(flows);
    flows.stage = (owner, f) => {
      order.push('stage');
      originalStage(owner, f);
    };
    const hook = enforcementResyncHook({
      enforcer,
      meter: packetInMeter(),
      meters: {
        ensure: (meter: PacketInMeter) => {
          order.push(`meter:${meter.meterId}`);
          return Promise.resolve('added');
        },
      },
    });
    await hook.beforeResync('start');
    hook.afterResync?.('start');
    await hook.beforeResync('vswitchd-restart');
    hook.afterResync?.('vswitchd-restart');
    assert.deepEqual(order, ['meter:256', 'stage', 'meter:256']);
    assert.equal(enforcer.stats.realizations, 1);
    await enforcer.stop();
  });
});
