// Every node of the palette in Node-RED (node-red-node-test-helper) over a fake PaletteServices: valid input,
// invalid input (field paths), and the error path to a Catch node.
import assert from 'node:assert/strict';
import { helper } from '../support/nodered-palette-helper';
import applyPolicyNode from '../../firmware/nodered/palette/apply-policy';
import deletePolicyNode from '../../firmware/nodered/palette/delete-policy';
import eventsNode from '../../firmware/nodered/palette/events';
import labelPodNode from '../../firmware/nodered/palette/label-pod';
import podsNode from '../../firmware/nodered/palette/pods';
import policyNode from '../../firmware/nodered/palette/policy';
import traceflowNode from '../../firmware/nodered/palette/traceflow';
import whatIfNode from '../../firmware/nodered/palette/what-if';
import { ApiError } from '../../firmware/core/antctl/api-error';
import type { AgentApi, NetworkPolicyView } from '../../firmware/core/antctl/views';
import type { Protocol } from '../../firmware/core/api/types';
import { silentLogger } from '../../firmware/core/logger';
import { createPaletteServices, PodEventHub } from '../../firmware/nodered/palette/firmware-services';
import {
  PaletteError,
  type PaletteEvent,
  type PalettePodView,
  type PaletteServices,
} from '../../firmware/nodered/palette/services';

type Msg = Record<string, unknown> & { payload?: unknown; error?: { message: string; code?: string } };
interface TestNode {
  on(event: 'input', listener: (msg: Msg) => void): void;
  receive(msg: Msg): void;
}

/** A fake that records calls; each method's answer can be replaced per test. */
class FakeServices implements PaletteServices {
  calls: { method: string; args: unknown[] }[] = [];
  listeners = new Set<(event: PaletteEvent) => void>();
  realizationState: 'Realized' | 'Pending' | 'NotFound' = 'Realized';
  hits = 7;
  failApply: PaletteError | undefined;

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }

  apply(objects: unknown[]) {
    this.record('apply', objects);
    if (this.failApply) return Promise.reject(this.failApply);
    return Promise.resolve(
      objects.map((object, index) => ({
        index,
        key: `X/${index}`,
        kind: 'ClusterNetworkPolicy' as const,
        apiVersion: 'crd.antrea.io/v1beta1',
        name: String((object as { metadata?: { name?: string } }).metadata?.name),
        result: 'created' as const,
      })),
    );
  }
  deletePolicy(ref: { kind: string; name: string; namespace?: string }) {
    this.record('deletePolicy', ref);
    if (ref.name === 'missing')
      return Promise.reject(new PaletteError('NotFound', 'ClusterNetworkPolicy "missing" not found'));
    return Promise.resolve({
      key: `${ref.kind}//${ref.name}`,
      kind: ref.kind as 'ClusterNetworkPolicy',
      name: ref.name,
      result: 'deleted' as const,
    });
  }
  listPods(query: unknown) {
    this.record('listPods', query);
    if ((query as { selector?: unknown }).selector === 'bad(') {
      return Promise.reject(
        new PaletteError('Invalid', 'bad selector', [{ path: 'selector', reason: 'unbalanced' }]),
      );
    }
    return Promise.resolve([{ namespace: 'default', name: 'web', ip: '10.10.0.5', labels: { app: 'web' } }]);
  }
  labelPod(namespace: string, name: string, labels: Record<string, string>) {
    this.record('labelPod', namespace, name, labels);
    return Promise.resolve({ namespace, name, labels });
  }
  whatIf(query: { source: string; destination: string; protocol: string; port: number }) {
    this.record('whatIf', query);
    if (!Number.isInteger(query.port)) {
      return Promise.reject(
        new PaletteError('Invalid', 'bad port', [
          { path: 'port', reason: 'must be a port number', value: query.port },
        ]),
      );
    }
    const direction = { verdict: 'Drop' as const };
    return Promise.resolve({
      verdict: 'Drop' as const,
      egress: direction,
      ingress: direction,
      source: { pod: query.source },
      destination: { pod: query.destination },
      protocol: 'TCP' as const,
      port: query.port,
      summary: 'Drop',
    });
  }
  ruleStats(policy: unknown) {
    this.record('ruleStats', policy);
    return Promise.resolve([
      {
        ruleName: 'allow-web',
        direction: 'In' as const,
        ruleIndex: 0,
        action: 'Allow' as const,
        packets: this.hits,
        bytes: 1,
        sessions: this.hits,
      },
    ]);
  }
  realization(policy: unknown) {
    this.record('realization', policy);
    return Promise.resolve({ state: this.realizationState });
  }
  traceflow(request: { source: string }) {
    this.record('traceflow', request);
    if (request.source === 'default/ghost')
      return Promise.reject(new PaletteError('NotFound', 'pod default/ghost not found'));
    return Promise.resolve({
      name: 'tf-1',
      phase: 'Succeeded' as const,
      live: false,
      source: { namespace: 'default', pod: 'a', ip: '10.10.0.2' },
      destination: { ip: '10.10.0.3' },
      packet: 'tcp',
      verdict: 'Delivered' as const,
      observations: [],
      startTime: '2026-01-01T00:00:00Z',
      durationMs: 3,
    });
  }
  subscribe(listener: (event: PaletteEvent) => void) {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
  emit(event: PaletteEvent): void {
    for (const listener of this.listeners) listener(event);
  }
  methods(): string[] {
    return this.calls.map((call) => call.method);
  }
}

let services: FakeServices;

async function load(nodes: unknown, flow: Record<string, unknown>[]): Promise<void> {
  helper.settings({ antreaEdge: services });
  await helper.load(nodes, flow);
}

function node(id: string): TestNode {
  return helper.getNode(id) as TestNode;
}

function next(id: string): Promise<Msg> {
  return new Promise((resolve) => node(id).on('input', resolve));
}

/** A flow of one node under test (n1 → out), with a Catch node (→ caught). */
function flowOf(type: string, config: Record<string, unknown> = {}): Record<string, unknown>[] {
  return [
    { id: 'n1', type, name: 'under test', wires: [['out']], ...config },
    { id: 'out', type: 'helper' },
    { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ];
}

function statusText(id: string): Promise<string> {
  return new Promise((resolve) => {
    const target = helper.getNode(id) as { status: (s: { text?: string }) => void };
    const original = target.status.bind(target);
    target.status = (status) => {
      original(status);
      resolve(status.text ?? '');
    };
  });
}

describe('nodered palette nodes (node-red-node-test-helper, fake services)', function () {
  this.timeout(10000);

  beforeEach(() => {
    services = new FakeServices();
  });

  afterEach(async () => {
    await helper.unload();
  });

  describe('apply policy', () => {
    it('applies YAML text and outputs the results', async () => {
      await load(applyPolicyNode, flowOf('antrea-apply-policy', { namespace: 'shop' }));
      const out = next('out');
      node('n1').receive({
        payload:
          'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web\nspec:\n  podSelector: {}\n',
      });
      const msg = await out;
      assert.deepEqual(
        (msg.payload as { name: string }[]).map((r) => r.name),
        ['web'],
      );
      const applied = services.calls[0]?.args[0] as { metadata: { namespace: string } }[];
      assert.equal(applied[0]?.metadata.namespace, 'shop');
    });

    it('sends YAML syntax errors to Catch with line and column, applying nothing', async () => {
      await load(applyPolicyNode, flowOf('antrea-apply-policy'));
      const caught = next('caught');
      node('n1').receive({ payload: 'kind: [NetworkPolicy\n' });
      const msg = await caught;
      assert.equal(msg.error?.code, 'Invalid');
      assert.match((msg.fieldErrors as { path: string }[])[0]?.path ?? '', /^line \d+ column \d+$/);
      assert.deepEqual(services.methods(), []);
    });

    it('sends validation failures to Catch with every field path', async () => {
      services.failApply = new PaletteError('Invalid', 'nothing was applied', [
        {
          index: 0,
          object: 'K8sNetworkPolicy default/web',
          path: 'spec.ingress[0].ports[0].port',
          reason: 'must be 1-65535',
          value: 0,
        },
        {
          index: 0,
          object: 'K8sNetworkPolicy default/web',
          path: 'metadata.name',
          reason: 'is invalid',
          value: 'Web',
        },
      ]);
      await load(applyPolicyNode, flowOf('antrea-apply-policy'));
      const caught = next('caught');
      node('n1').receive({ payload: { kind: 'NetworkPolicy' } });
      const msg = await caught;
      assert.equal(msg.error?.code, 'Invalid');
      assert.equal(msg.error?.message, 'PaletteError: nothing was applied');
      assert.deepEqual(
        (msg.fieldErrors as { path: string }[]).map((e) => e.path),
        ['spec.ingress[0].ports[0].port', 'metadata.name'],
      );
    });

    it('without antrea-edge services (a plain Node-RED) fails to Catch as Unavailable', async () => {
      helper.settings({ antreaEdge: undefined });
      await helper.load(applyPolicyNode, flowOf('antrea-apply-policy'));
      const caught = next('caught');
      node('n1').receive({ payload: {} });
      assert.equal((await caught).error?.code, 'Unavailable');
    });
  });

  describe('delete policy', () => {
    it('deletes the configured policy', async () => {
      await load(
        deletePolicyNode,
        flowOf('antrea-delete-policy', { kind: 'ClusterNetworkPolicy', policyName: 'a' }),
      );
      const out = next('out');
      node('n1').receive({ payload: 'go' });
      assert.equal(((await out).payload as { result: string }).result, 'deleted');
      assert.deepEqual(services.calls[0]?.args[0], { kind: 'ClusterNetworkPolicy', name: 'a' });
    });

    it('deletes the policy object in msg.payload (a Kubernetes policy defaults to namespace default)', async () => {
      await load(deletePolicyNode, flowOf('antrea-delete-policy'));
      const out = next('out');
      node('n1').receive({
        payload: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'web' } },
      });
      await out;
      assert.deepEqual(services.calls[0]?.args[0], {
        kind: 'K8sNetworkPolicy',
        name: 'web',
        namespace: 'default',
      });
    });

    it('sends NotFound to Catch', async () => {
      await load(
        deletePolicyNode,
        flowOf('antrea-delete-policy', { kind: 'ClusterNetworkPolicy', policyName: 'missing' }),
      );
      const caught = next('caught');
      node('n1').receive({ payload: 'go' });
      assert.equal((await caught).error?.code, 'NotFound');
    });
  });

  describe('pods', () => {
    it('lists pods by selector from the message', async () => {
      await load(podsNode, flowOf('antrea-pods', { namespace: 'default' }));
      const out = next('out');
      node('n1').receive({ payload: { selector: 'app=web' } });
      assert.equal(((await out).payload as unknown[]).length, 1);
      assert.deepEqual(services.calls[0]?.args[0], { namespace: 'default', selector: 'app=web' });
    });

    it('sends a bad selector to Catch with its field path', async () => {
      await load(podsNode, flowOf('antrea-pods', { selector: 'bad(' }));
      const caught = next('caught');
      node('n1').receive({ payload: '' });
      const msg = await caught;
      assert.equal(msg.error?.code, 'Invalid');
      assert.equal((msg.fieldErrors as { path: string }[])[0]?.path, 'selector');
    });
  });

  describe('label pod', () => {
    it('labels the configured pod', async () => {
      await load(
        labelPodNode,
        flowOf('antrea-label-pod', { namespace: 'default', podName: 'web', labels: '{"app":"web2"}' }),
      );
      const out = next('out');
      node('n1').receive({ payload: true });
      assert.deepEqual((await out).payload, { namespace: 'default', name: 'web', labels: { app: 'web2' } });
    });

    it('sends configured labels that are not JSON to Catch with path labels', async () => {
      await load(labelPodNode, flowOf('antrea-label-pod', { podName: 'web', labels: '{app' }));
      const caught = next('caught');
      node('n1').receive({ payload: true });
      const msg = await caught;
      assert.equal(msg.error?.code, 'Invalid');
      assert.equal((msg.fieldErrors as { path: string }[])[0]?.path, 'labels');
      assert.deepEqual(services.methods(), []);
    });
  });

  describe('what-if', () => {
    it('asks with the message overriding the configuration', async () => {
      await load(
        whatIfNode,
        flowOf('antrea-what-if', {
          source: 'default/a',
          destination: 'default/b',
          protocol: 'TCP',
          port: '80',
        }),
      );
      const out = next('out');
      node('n1').receive({ payload: { port: 443 } });
      assert.equal(((await out).payload as { verdict: string }).verdict, 'Drop');
      assert.deepEqual(services.calls[0]?.args[0], {
        source: 'default/a',
        destination: 'default/b',
        protocol: 'TCP',
        port: 443,
      });
    });

    it('sends an invalid port to Catch with path port', async () => {
      await load(whatIfNode, flowOf('antrea-what-if', { source: 'a', destination: 'b', port: 'http' }));
      const caught = next('caught');
      node('n1').receive({ payload: 1 });
      const msg = await caught;
      assert.equal(msg.error?.code, 'Invalid');
      assert.equal((msg.fieldErrors as { path: string }[])[0]?.path, 'port');
    });
  });

  describe('traceflow', () => {
    it('runs a trace to an IP and outputs the Antrea-shaped result', async () => {
      await load(
        traceflowNode,
        flowOf('antrea-traceflow', {
          source: 'default/a',
          destinationIp: '10.10.0.3',
          protocol: 'tcp',
          port: '80',
        }),
      );
      const out = next('out');
      node('n1').receive({ payload: 'go' });
      assert.equal(((await out).payload as { phase: string }).phase, 'Succeeded');
      assert.deepEqual(services.calls[0]?.args[0], {
        source: 'default/a',
        destinationIp: '10.10.0.3',
        protocol: 'TCP',
        port: 80,
      });
    });

    it('sends an unknown pod to Catch', async () => {
      await load(
        traceflowNode,
        flowOf('antrea-traceflow', { source: 'default/ghost', destination: 'default/b' }),
      );
      const caught = next('caught');
      node('n1').receive({ payload: 'go' });
      assert.equal((await caught).error?.code, 'NotFound');
    });
  });

  describe('events', () => {
    it('sends events, only drops and rejects of the audit log when asked, and unsubscribes on close', async () => {
      await load(
        eventsNode,
        flowOf('antrea-events', { policy: false, pods: true, audit: true, dropsOnly: true }),
      );
      const received: Msg[] = [];
      node('out').on('input', (msg) => received.push(msg));
      const entry = (disposition: 'Allow' | 'Drop') => ({
        time: 't',
        policy: 'p',
        direction: 'Ingress' as const,
        disposition,
        srcIp: 'a',
        dstIp: 'b',
        protocol: 'TCP',
        count: 1,
      });
      services.emit({ type: 'AuditLog', entry: entry('Allow') });
      services.emit({ type: 'AuditLog', entry: entry('Drop') });
      services.emit({ type: 'PolicyFailed', reason: 'x', fieldErrors: [] });
      services.emit({
        type: 'PodAdded',
        pod: { namespace: 'default', name: 'a', ip: '10.10.0.9', labels: {} },
      });
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        received.map((msg) => msg.topic),
        ['AuditLog', 'PodAdded'],
      );
      assert.equal(services.listeners.size, 1);
      await helper.unload();
      assert.equal(services.listeners.size, 0);
    });

    it('without services reports the error (to Catch) and stays red', async () => {
      helper.settings({ antreaEdge: undefined });
      const flow = flowOf('antrea-events');
      await helper.load(eventsNode, flow);
      const log = helper.log();
      const errors = log.args.filter((args) => args[0]?.level === 20);
      assert.ok(errors.some((args) => String(args[0]?.msg).includes('settings.antreaEdge')));
    });
  });

  describe('policy', () => {
    const form = {
      kind: 'ClusterNetworkPolicy',
      priority: '5',
      appliedTo: [{ type: 'pods', value: 'app=web' }],
      rules: [
        {
          direction: 'Ingress',
          action: 'Allow',
          name: 'allow-web',
          peers: [{ type: 'pods', value: 'app=client' }],
          ports: 'TCP/80',
        },
      ],
      statusIntervalMs: 20,
    };

    it('applies on deploy, shows Realized with rule hit counts, refreshes them, and stops on close', async () => {
      helper.settings({ antreaEdge: services });
      const flow = [{ id: 'n1', type: 'antrea-policy', name: 'allow-web', wires: [[]], ...form }];
      await helper.load(policyNode, flow);
      const texts: string[] = [];
      const target = helper.getNode('n1') as { status: (s: { text?: string }) => void };
      const original = target.status.bind(target);
      target.status = (status) => {
        original(status);
        texts.push(status.text ?? '');
      };
      await until(() => texts.includes('Realized · hits allow-web 7'));
      services.hits = 9;
      await until(() => texts.includes('Realized · hits allow-web 9'));
      const apply = services.calls.find((call) => call.method === 'apply');
      assert.deepEqual((apply?.args[0] as { metadata: unknown }[])[0]?.metadata, { name: 'allow-web' });
      await helper.unload();
      const callsAtClose = services.calls.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(services.calls.length, callsAtClose, 'the status timer kept running after close');
    });

    it('shows pending while the flows are not in OVS', async () => {
      services.realizationState = 'Pending';
      helper.settings({ antreaEdge: services });
      await helper.load(policyNode, [{ id: 'n1', type: 'antrea-policy', name: 'p', wires: [[]], ...form }]);
      const text = await statusText('n1');
      assert.equal(text, 'pending');
    });

    it('an invalid form fails on deploy with the form field paths, to Catch, applying nothing', async () => {
      helper.settings({ antreaEdge: services });
      const caughtFlow = [
        { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ];
      await helper.load(policyNode, [
        ...caughtFlow,
        {
          id: 'n1',
          type: 'antrea-policy',
          name: 'p',
          wires: [[]],
          ...form,
          rules: [{ direction: 'Up', action: 'Allow', peers: [] }],
        },
      ]);
      const caught = await waitForCaught();
      assert.equal(caught.error?.code, 'Invalid');
      assert.deepEqual(
        (caught.fieldErrors as { path: string }[]).map((e) => e.path),
        ['rules[0].direction'],
      );
      assert.deepEqual(services.methods(), []);
    });

    it('a rejected policy fails on deploy with the object field paths; input re-applies and outputs the result', async () => {
      services.failApply = new PaletteError('Invalid', 'nothing was applied', [
        { path: 'spec.tier', reason: 'tier "nope" does not exist' },
      ]);
      helper.settings({ antreaEdge: services });
      await helper.load(policyNode, [
        { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
        { id: 'n1', type: 'antrea-policy', name: 'p', wires: [['out']], ...form, tier: 'nope' },
        { id: 'out', type: 'helper' },
      ]);
      const caught = await waitForCaught();
      assert.deepEqual(
        (caught.fieldErrors as { path: string }[]).map((e) => e.path),
        ['spec.tier'],
      );
      services.failApply = undefined;
      const out = next('out');
      node('n1').receive({ payload: 'again' });
      const msg = await out;
      assert.equal((msg.payload as { result: string }[])[0]?.result, 'created');
      assert.equal((msg.policy as { spec: { tier: string } }).spec.tier, 'nope');
    });

    it('removing the node deletes its policy', async () => {
      helper.settings({ antreaEdge: services });
      await helper.load(policyNode, [
        { id: 'n1', type: 'antrea-policy', name: 'gone', wires: [[]], ...form },
      ]);
      await until(() => services.methods().includes('realization'));
      await helper.setFlows([]);
      await until(() => services.methods().includes('deletePolicy'));
      assert.deepEqual(services.calls.find((c) => c.method === 'deletePolicy')?.args[0], {
        kind: 'ClusterNetworkPolicy',
        name: 'gone',
      });
    });
  });

  function waitForCaught(): Promise<Msg> {
    // The deploy-time error may come before the test subscribes: the helper node buffers nothing, so poll.
    return new Promise((resolve) => {
      const caught = helper.getNode('caught') as {
        on(e: 'input', l: (m: Msg) => void): void;
      } | null;
      caught?.on('input', resolve);
    });
  }
});

describe('nodered palette services over the agent API (createPaletteServices)', () => {
  function fakeApi(overrides: Partial<AgentApi>): AgentApi {
    return overrides as AgentApi;
  }

  it('turns a rejected apply into PaletteError Invalid with each object field path, and a PolicyFailed event', async () => {
    const api = fakeApi({
      applyObjects: () =>
        Promise.reject(
          new ApiError('BadRequest', 'nothing was applied', {
            objectCount: 1,
            invalidObjects: [
              {
                index: 0,
                kind: 'ClusterNetworkPolicy',
                name: 'x',
                errors: [{ path: 'spec.priority', reason: 'must be at least 1', value: 0 }],
              },
            ],
          }),
        ),
    });
    const services = createPaletteServices({ api, logger: silentLogger });
    const events: PaletteEvent[] = [];
    services.subscribe((event) => events.push(event));
    await assert.rejects(
      services.apply([
        { apiVersion: 'crd.antrea.io/v1beta1', kind: 'ClusterNetworkPolicy', metadata: { name: 'x' } },
      ]),
      (error: unknown) =>
        error instanceof PaletteError &&
        error.code === 'Invalid' &&
        error.fieldErrors[0]?.path === 'spec.priority' &&
        error.fieldErrors[0]?.object === 'ClusterNetworkPolicy x',
    );
    assert.equal(events[0]?.type, 'PolicyFailed');
    assert.deepEqual(events[0]?.type === 'PolicyFailed' ? events[0].policy : undefined, {
      kind: 'ClusterNetworkPolicy',
      name: 'x',
    });
  });

  it('reports realization, and PolicyRealized only for realizations after subscribing', async () => {
    let realized = false;
    const policy = (generation: number): NetworkPolicyView =>
      ({
        uid: 'u1',
        name: 'u1',
        sourceRef: { type: 'AntreaClusterNetworkPolicy', name: 'web', uid: 'u1' },
        rules: [],
        appliedToGroups: [],
        realization: { generation, realizedGeneration: realized ? generation : generation - 1, realized },
      }) as unknown as NetworkPolicyView;
    let generation = 3;
    const api = fakeApi({ networkPolicies: () => Promise.resolve([policy(generation)]) });
    let onRealized: (() => void) | undefined;
    const pods = new PodEventHub();
    const services = createPaletteServices({
      api,
      logger: silentLogger,
      realizations: { onRealized: (listener) => ((onRealized = listener), () => (onRealized = undefined)) },
      podEvents: pods,
    });
    assert.deepEqual(await services.realization({ kind: 'ClusterNetworkPolicy', name: 'web' }), {
      state: 'Pending',
      uid: 'u1',
      generation: 3,
      realizedGeneration: 2,
    });
    realized = true;
    const events: PaletteEvent[] = [];
    const unsubscribe = services.subscribe((event) => events.push(event));
    await until(() => onRealized !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(events, [], 'what was realized before subscribing is not news');
    generation = 4;
    onRealized?.();
    await until(() => events.length > 0);
    assert.deepEqual(events[0], {
      type: 'PolicyRealized',
      policy: { kind: 'ClusterNetworkPolicy', name: 'web' },
      uid: 'u1',
      generation: 4,
    });
    pods.podAdded({ namespace: 'default', name: 'a', ip: '10.10.0.2', labels: { app: 'a' } });
    assert.equal((events as PaletteEvent[])[1]?.type, 'PodAdded');
    unsubscribe();
    assert.equal(onRealized, undefined, 'sources are released with the last listener');
  });

  it('checks what-if, delete and label input before asking the agent', async () => {
    const services = createPaletteServices({ api: fakeApi({}), logger: silentLogger });
    await assert.rejects(
      services.whatIf({ source: '', destination: 'b', protocol: 'ICMP' as unknown as Protocol, port: 0 }),
      (error: unknown) =>
        error instanceof PaletteError &&
        error.fieldErrors.map((e) => e.path).join() === 'source,protocol,port',
    );
    await assert.rejects(
      services.deletePolicy({ kind: 'K8sNetworkPolicy', name: 'a' }),
      (error: unknown) => error instanceof PaletteError && error.fieldErrors[0]?.path === 'namespace',
    );
    await assert.rejects(
      services.labelPod('default', 'a', { app: 1 as unknown as string }),
      (error: unknown) => error instanceof PaletteError && error.fieldErrors[0]?.path === 'labels[app]',
    );
    await assert.rejects(
      services.listPods({ selector: 'app=web' }),
      (error: unknown) => error instanceof PaletteError && error.code === 'Unavailable',
    );
  });

  it('selects pods by label', async () => {
    const services = createPaletteServices({
      api: fakeApi({}),
      logger: silentLogger,
      pods: {
        list: (): PalettePodView[] => [
          { namespace: 'default', name: 'b', ip: '10.10.0.3', labels: { app: 'web', tier: 'x' } },
          { namespace: 'default', name: 'a', ip: '10.10.0.2', labels: { app: 'web' } },
          { namespace: 'other', name: 'c', ip: '10.10.0.4', labels: { app: 'db' } },
        ],
      },
    });
    assert.deepEqual(
      (await services.listPods({ selector: 'app=web,!tier' })).map((p) => p.name),
      ['a'],
    );
    assert.deepEqual(
      (await services.listPods({ selector: { matchLabels: { app: 'web' } } })).map((p) => p.name),
      ['a', 'b'],
    );
    await assert.rejects(
      services.listPods({ selector: 'app in (' }),
      (error: unknown) => error instanceof PaletteError && error.fieldErrors[0]?.path === 'selector',
    );
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
