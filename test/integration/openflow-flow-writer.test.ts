// OpenFlowFlowWriter against a private ovs-vswitchd: every policy flow shape the compiler makes goes in as an ONF
// bundle over our own OpenFlow 1.3 connection on bridge A and through ovs-ofctl on bridge B, and dump-flows must
// print both the same. The encoder is also compared byte for byte with what ovs-ofctl itself sends (a fake switch
// records it). Bad bundles change nothing, deletes work, 35k flows install. Timings are printed, not asserted.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PolicyController } from '../../firmware/core/controller/policy-controller';
import { silentLogger } from '../../firmware/core/logger';
import { FlowModEncoder, canEncode, type FlowMod } from '../../firmware/core/openflow/flow-mod';
import {
  CookieCategory,
  flow,
  formatFlowMod,
  formatFlowSelector,
  makeCookie,
  type Flow,
} from '../../firmware/core/pipeline/flow';
import {
  pipelineFlows,
  podFlows,
  remoteNodeFlows,
  type NodeNetwork,
} from '../../firmware/core/pipeline/pipeline-flows';
import {
  compilePolicyFlows,
  createPolicyFlowState,
  mergeRuleFlows,
  type PolicyFlowState,
} from '../../firmware/core/pipeline/policy-flows';
import type { LocalPodPorts } from '../../firmware/core/pipeline/rule-flows';
import { planFlows, type FlowPlan } from '../../firmware/core/plan/flow-plan';
import { FlowWriter } from '../../firmware/ovs/flow-writer';
import { OpenFlowChannel } from '../../firmware/ovs/openflow-channel';
import { OpenFlowFlowWriteError, OpenFlowFlowWriter } from '../../firmware/ovs/openflow-flow-writer';
import { OvsProcesses } from '../../firmware/ovs/ovs-processes';
import { antreaPolicy, clusterPolicy, k8sPolicy, namespace, pod } from '../unit/controller-helpers';
import { captureOfctlBundle } from '../support/openflow-flow-capture';

const TAG = `ofw${process.pid % 100000}`;
const BRIDGE_A = `${TAG}a`;
const BRIDGE_B = `${TAG}b`;
const METER_ID = 256;
const CONTROLLER_ID = 7;

const node: NodeNetwork = {
  gatewayOfport: 2,
  gatewayMac: '0a:00:00:00:00:01',
  gatewayIp: '10.10.0.1',
  podCidr: '10.10.0.0/24',
  tunnelOfport: 1,
  serviceCidr: '10.96.0.0/12',
};

/** Policies covering every rule shape: actions, logging, both directions, ports, ranges, named ports, ipBlocks. */
function policyObjects(): Record<string, unknown>[] {
  return [
    {
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'Tier',
      metadata: { name: 'ofw-tier' },
      spec: { priority: 120 },
    },
    clusterPolicy('acnp-1', {
      priority: 1,
      tier: 'securityops',
      appliedTo: [{ podSelector: { matchLabels: { app: 'web' } } }],
      ingress: [
        {
          action: 'Allow',
          enableLogging: true,
          from: [{ podSelector: { matchLabels: { app: 'client' } } }],
          ports: [{ port: 80 }],
        },
        {
          action: 'Drop',
          from: [{ ipBlock: { cidr: '10.20.0.0/27', except: ['10.20.0.16/28'] } }],
          ports: [{ port: 8000, endPort: 9200 }],
        },
        { action: 'Reject', from: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 53 }] },
        {
          action: 'Drop',
          enableLogging: true,
          ports: [{ protocol: 'TCP', sourcePort: 1000, sourceEndPort: 1100 }],
        },
      ],
      egress: [
        {
          action: 'Pass',
          enableLogging: true,
          to: [{ podSelector: { matchLabels: { app: 'db' } } }],
          ports: [{ port: 'pg' }],
        },
        { action: 'Reject', enableLogging: true, to: [{ ipBlock: { cidr: '192.168.0.0/16' } }] },
        { action: 'Drop', ports: [{ protocol: 'SCTP', port: 9000 }] },
        { action: 'Pass', to: [{ ipBlock: { cidr: '172.16.5.4/32' } }] },
      ],
    }),
    antreaPolicy('ns-a', 'anp-1', {
      priority: 2.5,
      tier: 'ofw-tier',
      appliedTo: [{ podSelector: { matchLabels: { app: 'db' } } }],
      ingress: [
        {
          action: 'Allow',
          from: [{ podSelector: { matchLabels: { app: 'web' } } }],
          ports: [{ port: 'pg' }],
        },
        { action: 'Reject', enableLogging: true, from: [{ podSelector: {} }] },
      ],
      egress: [{ action: 'Drop', enableLogging: true, to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }],
    }),
    clusterPolicy('baseline-1', {
      priority: 5,
      tier: 'baseline',
      appliedTo: [{ namespaceSelector: { matchLabels: { team: 'x' } } }],
      ingress: [{ action: 'Drop', from: [{ namespaceSelector: { matchLabels: { team: 'y' } } }] }],
      egress: [{ action: 'Allow', to: [{ podSelector: {} }], ports: [{ protocol: 'UDP', port: 53 }] }],
    }),
    k8sPolicy('ns-a', 'k8s-1', {
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { app: 'client' } } }],
          ports: [{ port: 80 }, { port: 'http' }],
        },
      ],
      egress: [{ to: [{ ipBlock: { cidr: '10.30.0.0/16', except: ['10.30.1.0/24'] } }] }],
    }),
    k8sPolicy('ns-b', 'k8s-2', { podSelector: {}, policyTypes: ['Ingress'] }),
  ];
}

function compile(state: PolicyFlowState): Flow[] {
  const controller = new PolicyController();
  controller.applyNamespace(namespace('ns-a', { team: 'x' }));
  controller.applyNamespace(namespace('ns-b', { team: 'y' }));
  const pods = [
    pod(
      'ns-a',
      'web-1',
      { app: 'web' },
      { ip: '10.10.0.11', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] },
    ),
    pod('ns-a', 'web-2', { app: 'web' }, { ip: '10.10.0.12' }),
    pod(
      'ns-a',
      'db-1',
      { app: 'db' },
      { ip: '10.10.0.13', ports: [{ name: 'pg', containerPort: 5432, protocol: 'TCP' }] },
    ),
    pod('ns-b', 'client-1', { app: 'client' }, { ip: '10.10.0.14' }),
  ];
  for (const p of pods) controller.applyPod(p);
  for (const obj of policyObjects()) controller.applyObject(obj);
  const local: LocalPodPorts = new Map(
    pods.map((p, i) => [`${p.namespace}/${p.name}`, { ofport: 11 + i, ip: p.ip }]),
  );
  return mergeRuleFlows(
    compilePolicyFlows(controller.snapshot(), { name: 'ofw-node', pods: local }, state).flows,
  );
}

/** dump-flows lines without the counters and durations, sorted. */
async function dumpText(ovs: OvsProcesses, bridge: string): Promise<string[]> {
  const out = await ovs.ofctl(['dump-flows', '--no-names', '--no-stats', bridge]);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes('actions='))
    .sort();
}

function clauseFlows(count: number, table: number, conjBase: number): Flow[] {
  return Array.from({ length: count }, (_, i) =>
    flow(table)
      .priority(14000)
      .cookie(makeCookie(CookieCategory.Policy, conjBase + (i % 1000)))
      .matchProtocol('ip')
      .matchSrcIp(`10.${100 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`)
      .conjunction(conjBase + (i % 1000), 1, 2)
      .done(),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

describe('OpenFlowFlowWriter (integration, private OVS)', function () {
  this.timeout(300_000);
  let dir: string;
  let ovs: OvsProcesses;
  let channel: OpenFlowChannel;
  let ofctlA: FlowWriter;
  let ofctlB: FlowWriter;
  let writer: OpenFlowFlowWriter;
  let shapesA: Flow[];
  let shapesB: Flow[];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofw-'));
    ovs = new OvsProcesses({ dir });
    await ovs.start();
    for (const bridge of [BRIDGE_A, BRIDGE_B]) {
      await ovs.vsctl(['add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev']);
      await ovs.ofctl(['add-meter', bridge, `meter=${METER_ID},pktps,band=type=drop,rate=100`]);
      // A new bridge has `priority=0 actions=NORMAL`; start empty so that dumps hold only the test's flows.
      await ovs.ofctl(['del-flows', bridge]);
    }
    channel = new OpenFlowChannel({
      socketPath: ovs.bridgeMgmtSocket(BRIDGE_A),
      version: 'OpenFlow13',
      logger: silentLogger,
    });
    channel.start();
    await channel.waitUntilConnected(20_000);
    ofctlA = new FlowWriter({ bridge: BRIDGE_A, env: ovs.env(), logger: silentLogger });
    ofctlB = new FlowWriter({ bridge: BRIDGE_B, env: ovs.env(), logger: silentLogger });
    writer = new OpenFlowFlowWriter({ channel, fallback: ofctlA, logger: silentLogger });
    shapesA = compile(
      createPolicyFlowState({
        packetIn: { controllerId: CONTROLLER_ID, meterId: METER_ID, auditDefaultDrops: true },
      }),
    );
    shapesB = compile(createPolicyFlowState());
  });

  after(async () => {
    await channel?.stop();
    await ovs?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('covers every shape: the compiled policies use each action and match kind', () => {
    const all = [...shapesA, ...shapesB];
    const text = all.map(formatFlowMod).join('\n');
    for (const needle of [
      'load:0x',
      'goto_table:',
      'actions=drop',
      `meter:${METER_ID},controller(reason=no_match,max_len=128,id=${CONTROLLER_ID},userdata=02.`,
      'controller(userdata=01.',
      `controller(reason=no_match,id=${CONTROLLER_ID},userdata=81.`,
      'conjunction(',
      'conj_id=',
      ',tcp,',
      ',udp,',
      ',sctp,',
      'nw_src=10.20.0.0/28',
      'nw_dst=192.168.0.0/16',
      'tp_dst=0x',
      'tp_src=0x',
      'reg1=0x',
    ]) {
      assert.ok(text.includes(needle), `no compiled flow contains ${needle}`);
    }
    assert.ok(all.length > 60, `only ${all.length} flows`);
    assert.deepEqual(
      all.filter((f) => !canEncode(f)).map(formatFlowMod),
      [],
      'every policy flow must be encodable',
    );
  });

  it('encodes byte for byte what ovs-ofctl sends (policy, pipeline, pod and node flows)', async () => {
    const pipeline = [
      ...pipelineFlows(node),
      ...podFlows(node, { ofport: 11, ip: '10.10.0.11', mac: '0a:00:00:00:00:11' }),
      ...remoteNodeFlows(node, { podCidr: '10.10.1.0/24', nodeIp: '192.168.77.2', gatewayIp: '10.10.1.1' }),
    ];
    // Every other token the encoder supports, as text.
    const extra: Flow[] = [
      ['in_port=LOCAL', 'output:3'],
      ['in_port=7,dl_src=0a:00:00:00:00:01,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00', 'NORMAL'],
      [
        'arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24,arp_sha=0a:00:00:00:00:01,arp_tha=0a:00:00:00:00:02',
        'IN_PORT',
      ],
      ['icmp,icmp_type=3,icmp_code=1', 'LOCAL'],
      ['ct_state=-new+trk,ct_zone=65520,ct_mark=0x20/0x20,ip', 'CONTROLLER:128'],
      ['tun_dst=192.168.1.2,reg15=0x1,reg3=0x4/0xf', 'controller(reason=no_match,id=3)'],
      ['udp,tp_src=53,nw_dst=10.0.0.1/255.255.0.255', 'controller(pause,userdata=01.02.03)'],
      ['sctp,tp_dst=0x2000/0xfe00', 'controller(max_len=64)'],
      ['ip', 'dec_ttl,set_field:0a:00:00:00:00:01->eth_dst,set_field:0x5->reg3,resubmit(,40)'],
      [
        'ip',
        'move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],move:NXM_NX_REG0[0..15]->NXM_NX_REG1[16..31],output:NXM_NX_REG1[0..15]',
      ],
      [
        'ip',
        'load:0xa000001->NXM_NX_TUN_IPV4_DST[],load:0x1->NXM_NX_REG0[16],load:0xaabbccddeeff->NXM_OF_ETH_DST[],goto_table:70',
      ],
      ['arp', 'load:0x1->NXM_NX_PKT_MARK[3],load:0x2->NXM_OF_ARP_OP[]'],
    ].map(([match, actions], i) => ({
      table: 20 + i,
      priority: 100 + i,
      match: match as string,
      actions: actions as string,
      cookie: 0x123n + BigInt(i),
    }));
    const mods: FlowMod[] = [
      ...[...shapesA, ...shapesB, ...pipeline, ...extra].map((f): FlowMod => ({ command: 'add', flow: f })),
      ...shapesA.slice(0, 10).map((f): FlowMod => ({ command: 'delete_strict', flow: f })),
    ];
    const encoder = new FlowModEncoder();
    const supported = mods.filter((m) => encoder.check(m.flow).ok);
    const unsupported = mods.filter((m) => !encoder.check(m.flow).ok);
    // Only pipeline flows with actions this encoder leaves to ovs-ofctl (ct()) may be unsupported.
    for (const m of unsupported) {
      const check = encoder.check(m.flow);
      assert.ok(
        !check.ok && check.token.startsWith('ct('),
        `unexpected unsupported token in ${formatFlowMod(m.flow)}`,
      );
    }
    assert.ok(supported.length > unsupported.length);
    const lines = supported.map((m) =>
      m.command === 'add' ? `add ${formatFlowMod(m.flow)}` : `delete_strict ${formatFlowSelector(m.flow)}`,
    );
    const captured = await captureOfctlBundle(dir, lines);
    assert.equal(captured.exitCode, 0, captured.stderr);
    assert.equal(captured.flowMods.length, supported.length);
    // ovs-ofctl's open request has xid 1, its adds 2, 3, ...
    const encoded = encoder.encodeBundle(supported, { bundleId: 0, firstXid: 1 });
    if (!encoded.ok) throw new Error(`${encoded.token}: ${encoded.reason}`);
    const bytes: Uint8Array = encoded.bytes;
    let at = 24;
    for (let i = 0; i < supported.length; i++) {
      const length = (bytes[at + 2] as number) * 256 + (bytes[at + 3] as number);
      const mine: string = Buffer.from(bytes.subarray(at, at + length)).toString('hex');
      assert.equal(mine, (captured.bundleAdds[i] as Buffer).toString('hex'), lines[i]);
      at += length;
    }
  });

  it('installs every policy flow shape exactly as ovs-ofctl does (one bundle), then modifies and deletes', async () => {
    const before = writer.stats.bundles;
    await writer.apply(planFlows(shapesA, []));
    await ofctlB.apply(planFlows(shapesA, []));
    const a = await dumpText(ovs, BRIDGE_A);
    assert.deepEqual(a, await dumpText(ovs, BRIDGE_B));
    assert.equal(a.length, shapesA.length);
    assert.equal(writer.stats.bundles, before + 1);

    // From one compilation to the other: the same matches with other actions (Reject and logging differ).
    const change = planFlows(shapesB, shapesA);
    assert.ok(change.modify.length > 0);
    await writer.apply(change);
    await ofctlB.apply(change);
    const a2 = await dumpText(ovs, BRIDGE_A);
    assert.equal(a2.length, shapesB.length);
    assert.deepEqual(a2, await dumpText(ovs, BRIDGE_B));

    // Some deletes, then all.
    const fewer = planFlows(shapesB.slice(10), shapesB);
    assert.equal(fewer.delete.length, 10);
    await writer.apply(fewer);
    await ofctlB.apply(fewer);
    const a3 = await dumpText(ovs, BRIDGE_A);
    assert.equal(a3.length, shapesB.length - 10);
    assert.deepEqual(a3, await dumpText(ovs, BRIDGE_B));

    await writer.apply(planFlows([], shapesB.slice(10)));
    await ofctlB.apply(planFlows([], shapesB.slice(10)));
    assert.deepEqual(await dumpText(ovs, BRIDGE_A), []);
    assert.equal(writer.stats.bundles, before + 4);
    assert.equal(writer.stats.fallbackUnsupported + writer.stats.fallbackNotConnected, 0);
  });

  it('a bundle with one flow the switch rejects changes nothing and names the flow', async () => {
    await writer.apply(planFlows(shapesA.slice(0, 5), []));
    const installed = await dumpText(ovs, BRIDGE_A);
    const backwards: Flow = {
      table: 45,
      priority: 100,
      match: 'ip,nw_src=10.99.0.1',
      actions: 'goto_table:5',
      cookie: 1n,
    };
    const plan: FlowPlan = {
      add: [...shapesA.slice(5, 30), backwards, ...shapesA.slice(30, 40)],
      modify: [],
      delete: [shapesA[0] as Flow],
    };
    await assert.rejects(writer.apply(plan), (err: unknown) => {
      assert.ok(err instanceof OpenFlowFlowWriteError, String(err));
      assert.equal(err.code, 'BUNDLE_REJECTED');
      assert.equal(err.switchError?.code, 'OFPBIC_BAD_TABLE_ID');
      assert.match(err.flowText ?? '', /goto_table:5/);
      return true;
    });
    assert.deepEqual(await dumpText(ovs, BRIDGE_A), installed);
    // The channel is still usable: the next bundle goes through.
    await writer.apply(planFlows([], shapesA.slice(0, 5)));
    assert.deepEqual(await dumpText(ovs, BRIDGE_A), []);
  });

  it('hands a plan with a flow it cannot encode to ovs-ofctl', async () => {
    const ct = flow(31)
      .priority(190)
      .cookie(makeCookie(CookieCategory.Pipeline))
      .matchProtocol('ip')
      .ct({ table: 40, zone: 65520 })
      .done();
    const before = writer.stats.fallbackUnsupported;
    await writer.apply(planFlows([ct, ...shapesA.slice(0, 3)], []));
    assert.equal(writer.stats.fallbackUnsupported, before + 1);
    const dumped = await dumpText(ovs, BRIDGE_A);
    assert.equal(dumped.length, 4);
    assert.ok(dumped.some((l) => l.includes('ct(table=40,zone=65520)')));
    await writer.apply(planFlows([], [ct, ...shapesA.slice(0, 3)]));
  });

  it('installs 35k flows in one bundle (and measures against ovs-ofctl)', async () => {
    const flows = [...clauseFlows(17_500, 45, 100_000), ...clauseFlows(17_500, 85, 200_000)];
    const t0 = process.hrtime.bigint();
    await writer.apply(planFlows(flows, []));
    const oursMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const count = (await ovs.ofctl(['dump-flows', '--no-stats', BRIDGE_A]))
      .split('\n')
      .filter((l) => l.includes('actions=')).length;
    assert.equal(count, 35_000);
    const t1 = process.hrtime.bigint();
    await ofctlB.apply(planFlows(flows, []));
    const ofctlMs = Number(process.hrtime.bigint() - t1) / 1e6;
    const encoder = new FlowModEncoder();
    const mods = flows.map((f): FlowMod => ({ command: 'add', flow: f }));
    const t2 = process.hrtime.bigint();
    const encoded = encoder.encodeBundle(mods, { bundleId: 1, firstXid: 1 });
    const encodeMs = Number(process.hrtime.bigint() - t2) / 1e6;
    assert.ok(encoded.ok);
    const t = writer.lastBundle;
    assert.equal(t?.mods, 35_000);
    console.log(
      `    35k flows: channel bundle ${oursMs.toFixed(0)} ms (encode ${t?.encodeMs.toFixed(0)}, stage ${t?.stageMs.toFixed(0)}, commit ${t?.commitMs.toFixed(0)}), ovs-ofctl --bundle ${ofctlMs.toFixed(0)} ms; encoding again with a new encoder ${encodeMs.toFixed(1)} ms (${encoded.bytes.length} bytes)`,
    );
    await writer.apply(planFlows([], flows));
    await ofctlB.apply(planFlows([], flows));
    assert.deepEqual(await dumpText(ovs, BRIDGE_A), []);
  });

  it('measures one-flow change latency (channel vs ovs-ofctl)', async () => {
    const one = shapesA[0] as Flow;
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = process.hrtime.bigint();
      await writer.apply(i % 2 === 0 ? planFlows([one], []) : planFlows([], [one]));
      ours.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const t1 = process.hrtime.bigint();
      await ofctlB.apply(i % 2 === 0 ? planFlows([one], []) : planFlows([], [one]));
      theirs.push(Number(process.hrtime.bigint() - t1) / 1e6);
    }
    console.log(
      `    one-flow change, median of 50: channel ${median(ours).toFixed(2)} ms (max ${Math.max(...ours).toFixed(1)}), ovs-ofctl ${median(theirs).toFixed(2)} ms (max ${Math.max(...theirs).toFixed(1)})`,
    );
    assert.deepEqual(await dumpText(ovs, BRIDGE_A), await dumpText(ovs, BRIDGE_B));
  });
});
