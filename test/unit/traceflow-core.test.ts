// Traceflow's pure parts: request checking, the injected packet, the temporary flows in canonical text,
// packet-in decoding into observations, ofproto/trace parsing and the table rendering.
import assert from 'node:assert/strict';
import { parseFrame, ipv4ChecksumValid, transportChecksumValid } from '../../firmware/core/packets/frame';
import {
  decodeControllerUserdata,
  ControllerPurpose,
} from '../../firmware/core/pipeline/controller-userdata';
import { formatFlow, type Flow } from '../../firmware/core/pipeline/flow';
import { Tables } from '../../firmware/core/pipeline/tables';
import { decodeMessage, encodeMessage, packetOutMessage } from '../../firmware/core/openflow/messages';
import { registerField } from '../../firmware/core/openflow/oxm';
import { OfpPort } from '../../firmware/core/openflow/constants';
import {
  decisionKind,
  observeAction,
  traceflowCookie,
  traceflowFlows,
  traceflowTagOfCookie,
} from '../../firmware/core/traceflow/flows';
import { decodeObservations, type ObservationContext } from '../../firmware/core/traceflow/observations';
import { ofprotoTraceFlow, parseOfprotoTrace } from '../../firmware/core/traceflow/ofproto-trace';
import { buildTracePacket } from '../../firmware/core/traceflow/packet';
import { observationTable, traceflowText } from '../../firmware/core/traceflow/render';
import {
  normalizeTraceRequest,
  TraceflowError,
  type TraceflowResult,
} from '../../firmware/core/traceflow/types';

const POLICY = 0x0600000000000000n;
const CONTROLLER_ID = 0xae01;

describe('traceflow request', () => {
  it('applies Antrea-like defaults: ICMP without ports, TCP with a port, 20 s', () => {
    assert.deepEqual(normalizeTraceRequest({ source: 'default/a', destinationIp: '10.0.0.9' }), {
      source: { namespace: 'default', name: 'a' },
      destinationIp: '10.0.0.9',
      protocol: 'ICMP',
      live: false,
      timeoutSeconds: 20,
    });
    const tcp = normalizeTraceRequest({ source: 'a', destination: 'ns/b', port: 80 });
    assert.equal(tcp.protocol, 'TCP');
    assert.deepEqual(tcp.destination, { namespace: 'ns', name: 'b' });
  });

  it('rejects what cannot be traced, with TRACEFLOW_INVALID', () => {
    const bad: unknown[] = [
      {},
      { source: 'a' },
      { source: 'a', destination: 'b', destinationIp: '10.0.0.1' },
      { source: 'a', destination: 'b', protocol: 'UDP' },
      { source: 'a', destination: 'b', protocol: 'ICMP', port: 1 },
      { source: 'a', destination: 'b', port: 70000 },
      { source: 'a', destinationIp: 'nope' },
      { source: 'a/b/c', destination: 'b' },
      { source: 'a', destination: 'b', timeoutSeconds: 0 },
      { source: 'a', destination: 'b', extra: true },
    ];
    for (const input of bad) {
      assert.throws(
        () => normalizeTraceRequest(input),
        (e: unknown) => e instanceof TraceflowError && e.code === 'TRACEFLOW_INVALID',
        JSON.stringify(input),
      );
    }
    // Live traces need no destination and no port.
    assert.equal(normalizeTraceRequest({ source: 'a', protocol: 'TCP', live: true }).live, true);
  });
});

describe('traceflow packet', () => {
  const base = {
    srcMac: '02:00:00:00:00:01',
    dstMac: '0a:5e:00:00:00:02',
    srcIp: '10.10.0.5',
    dstIp: '10.10.0.2',
  };

  it('builds a TCP SYN with valid checksums that the frame parser reads back', () => {
    const parsed = parseFrame(
      buildTracePacket({ ...base, protocol: 'TCP', srcPort: 40000, dstPort: 80, identifier: 7 }),
    );
    assert.ok(parsed.ok && parsed.frame.kind === 'ipv4');
    const frame = parsed.frame;
    assert.equal(frame.payload.kind, 'tcp');
    assert.ok(frame.payload.kind === 'tcp' && frame.payload.flags === 0x02 && frame.payload.dstPort === 80);
    assert.equal(frame.ipv4.ttl, 64);
    assert.equal(ipv4ChecksumValid(frame), true);
    assert.equal(transportChecksumValid(frame), true);
    assert.equal(Array.from(frame.ethernet.src, (b) => b.toString(16)).join(':'), '2:0:0:0:0:1');
  });

  it('builds UDP and ICMP echo requests with valid checksums', () => {
    for (const spec of [
      { ...base, protocol: 'UDP' as const, srcPort: 5000, dstPort: 53 },
      { ...base, protocol: 'ICMP' as const, identifier: 0x1234 },
    ]) {
      const parsed = parseFrame(buildTracePacket(spec));
      assert.ok(parsed.ok && parsed.frame.kind === 'ipv4', spec.protocol);
      assert.equal(transportChecksumValid(parsed.frame), true, spec.protocol);
      assert.equal(parsed.frame.payload.kind, spec.protocol.toLowerCase());
    }
    const icmp = parseFrame(buildTracePacket({ ...base, protocol: 'ICMP' }));
    assert.ok(icmp.ok && icmp.frame.kind === 'ipv4' && icmp.frame.payload.kind === 'icmp');
    assert.equal(icmp.frame.payload.type, 8);
  });

  it('refuses a TCP packet without ports and bad addresses', () => {
    assert.throws(() => buildTracePacket({ ...base, protocol: 'TCP' }), /port is required/);
    assert.throws(() => buildTracePacket({ ...base, srcIp: '10.0.0', protocol: 'ICMP' }), TraceflowError);
  });
});

describe('traceflow flows', () => {
  const installed: Flow[] = [
    // a K8s allow rule's action flow and a clause flow
    {
      table: 90,
      priority: 200,
      match: 'conj_id=1,ip',
      actions: 'load:0x1->NXM_NX_REG6[],goto_table:105',
      cookie: POLICY | 1n,
    },
    {
      table: 90,
      priority: 200,
      match: 'ip,nw_src=10.10.0.3',
      actions: 'conjunction(1,1/2)',
      cookie: POLICY | 1n,
    },
    // an isolation drop
    { table: 100, priority: 200, match: 'ip,reg1=0x3', actions: 'drop', cookie: POLICY | 2n },
    // an ACNP Reject and a logged Drop
    {
      table: 89,
      priority: 14900,
      match: 'conj_id=5,ip',
      actions: 'meter:256,controller(reason=no_match,id=44545,userdata=01.00.00.00.05)',
      cookie: POLICY | 5n,
    },
    {
      table: 89,
      priority: 14800,
      match: 'conj_id=6,ip',
      actions: 'meter:256,controller(reason=no_match,max_len=128,id=44545,userdata=02.00.00.00.06)',
      cookie: POLICY | 6n,
    },
    // a logged Allow: the injected copy must not write an audit entry
    {
      table: 45,
      priority: 14000,
      match: 'conj_id=7,ip',
      actions:
        'controller(reason=no_match,max_len=128,id=44545,userdata=02.00.00.00.07),load:0x7->NXM_NX_REG5[],goto_table:70',
      cookie: POLICY | 7n,
    },
  ];

  it('classifies policy flows by what they do to a packet', () => {
    assert.equal(decisionKind('conjunction(1,1/2),conjunction(3,2/2)'), undefined);
    assert.equal(decisionKind('drop'), 'drop');
    assert.equal(decisionKind('load:0x1->NXM_NX_REG6[],goto_table:105'), 'continue');
    assert.equal(
      decisionKind('meter:256,controller(reason=no_match,id=9,userdata=81.00.00.00.05)'),
      'reject',
    );
    assert.equal(
      decisionKind('meter:256,controller(reason=no_match,max_len=128,id=9,userdata=02.00.00.00.06)'),
      'drop',
    );
  });

  it('injected: copies decisions one priority up with the mark, observes output and misses, skips commit', () => {
    const flows = traceflowFlows({ tag: 3, controllerId: CONTROLLER_ID, policyFlows: installed });
    const cookie = '0x10000007f000003';
    assert.deepEqual(flows.map(formatFlow), [
      `cookie=${cookie}, table=90, priority=201,conj_id=1,ip,reg7=0x3 actions=load:0x1->NXM_NX_REG6[],goto_table:105`,
      `cookie=${cookie}, table=100, priority=201,ip,reg1=0x3,reg7=0x3 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.02)`,
      `cookie=${cookie}, table=89, priority=14901,conj_id=5,ip,reg7=0x3 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.05)`,
      `cookie=${cookie}, table=89, priority=14801,conj_id=6,ip,reg7=0x3 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.06)`,
      `cookie=${cookie}, table=45, priority=14001,conj_id=7,ip,reg7=0x3 actions=load:0x7->NXM_NX_REG5[],goto_table:70`,
      `cookie=${cookie}, table=110, priority=220,ip,reg0=0x10000/0x10000,reg7=0x3 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.00)`,
      `cookie=${cookie}, table=0, priority=1,ip,reg7=0x3 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.00)`,
      `cookie=${cookie}, table=10, priority=1,ip,reg7=0x3 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.00)`,
      `cookie=${cookie}, table=30, priority=1,ip,reg7=0x3 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.00)`,
      `cookie=${cookie}, table=110, priority=1,ip,reg7=0x3 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.00)`,
      `cookie=${cookie}, table=31, priority=191,ct_state=+inv+trk,ip,reg7=0x3 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.00)`,
      `cookie=${cookie}, table=105, priority=220,ip,reg7=0x3 actions=goto_table:110`,
    ]);
    assert.equal(traceflowTagOfCookie(traceflowCookie(3)), 3);
    assert.equal(traceflowTagOfCookie(POLICY | 3n), undefined);
  });

  it('live: the real packet keeps its effects (output, reject, audit) and is marked once per new connection', () => {
    const flows = traceflowFlows({
      tag: 4,
      controllerId: CONTROLLER_ID,
      policyFlows: installed,
      live: { inPort: 5, protocol: 'TCP', dstIp: '10.10.0.2', dstPort: 80 },
    }).map(formatFlow);
    const cookie = '0x10000007f000004';
    assert.ok(
      flows.includes(
        `cookie=${cookie}, table=89, priority=14901,conj_id=5,ip,reg7=0x4 actions=meter:256,controller(reason=no_match,id=44545,userdata=01.00.00.00.05),controller(reason=no_match,id=44545,userdata=03.00.00.00.05)`,
      ),
    );
    assert.ok(
      flows.includes(
        `cookie=${cookie}, table=110, priority=220,ip,reg0=0x10000/0x10000,reg7=0x4 actions=controller(reason=no_match,id=44545,userdata=03.00.00.00.00),output:NXM_NX_REG1[]`,
      ),
    );
    assert.ok(
      flows.includes(
        `cookie=${cookie}, table=31, priority=220,ct_state=+new-inv+trk,tcp,in_port=5,nw_dst=10.10.0.2,tp_dst=80 actions=load:0x4->NXM_NX_REG7[],goto_table:40`,
      ),
    );
    assert.ok(flows.some((f) => f.includes('conj_id=7') && f.includes('userdata=02.00.00.00.07')));
    assert.ok(!flows.some((f) => f.includes('table=105')), 'live connections are committed as usual');
  });

  it('observation userdata decodes as purpose Traceflow with the rule id', () => {
    const text = /userdata=([0-9a-f.]+)/.exec(observeAction(CONTROLLER_ID, 0x01020304))?.[1] ?? '';
    const bytes = Uint8Array.from(text.split('.'), (h) => Number.parseInt(h, 16));
    assert.deepEqual(decodeControllerUserdata(bytes), {
      ok: true,
      userdata: { purpose: ControllerPurpose.Traceflow, ruleId: 0x01020304 },
    });
  });
});

describe('traceflow packet-out', () => {
  it('carries the mark register in the packet-out match next to in_port, and round-trips', () => {
    const message = packetOutMessage(9, Uint8Array.of(1, 2, 3), { inPort: 5, outPort: OfpPort.Table }, [
      registerField(7, 3),
    ]);
    const decoded = decodeMessage(encodeMessage(message));
    assert.ok(decoded.ok && decoded.message.type === 'packet-out');
    assert.deepEqual(
      decoded.message.match.map((f) => [f.oxmClass, f.field, Array.from(f.value)]),
      [
        [0x8000, 0, [0, 0, 0, 5]],
        [0x0001, 7, [0, 0, 0, 3]],
      ],
    );
    assert.throws(() => registerField(16, 1));
  });
});

describe('traceflow observations', () => {
  const context: ObservationContext = {
    gatewayOfport: 2,
    tunnelOfport: 1,
    rule: (id) =>
      id === 5
        ? {
            kind: 'rule',
            policy: { type: 'AntreaClusterNetworkPolicy', name: 'deny' },
            ruleName: 'no-web',
            direction: 'In',
            action: 'Reject',
            table: Tables.CNPApplicationIngressRule,
          }
        : id === 9
          ? {
              kind: 'rule',
              policy: { type: 'K8sNetworkPolicy', namespace: 'default', name: 'allow' },
              direction: 'Out',
              action: 'Allow',
              table: Tables.EgressRule,
            }
          : id === 2
            ? {
                kind: 'isolation',
                direction: 'In',
                action: 'Drop',
                table: Tables.IngressDefaultRule,
                pod: 'default/web',
              }
            : undefined,
    podByOfport: (port) => (port === 4 ? 'default/web' : undefined),
    isolatingPolicy: (direction) =>
      direction === 'In' ? { type: 'K8sNetworkPolicy', namespace: 'default', name: 'web-only' } : undefined,
  };
  const registers = (values: Record<number, number>): number[] =>
    Array.from({ length: 16 }, (_, i) => values[i] ?? 0);

  it('Delivered: spoof guard, the egress rule that allowed it, forwarding, output to the Pod', () => {
    const observations = decodeObservations(
      { tableId: Tables.Output, registers: registers({ 0: 0x10002, 1: 4, 5: 9, 7: 3 }), ruleId: 0 },
      context,
    );
    assert.deepEqual(
      observations.map((o) => [o.component, o.componentInfo, o.action, o.tableName]),
      [
        ['SpoofGuard', 'SpoofGuard', 'Forwarded', 'SpoofGuard'],
        ['NetworkPolicy', 'EgressRule', 'Forwarded', 'EgressRule'],
        ['Forwarding', 'L2Forwarding', 'Forwarded', 'L2Forwarding'],
        ['Output', 'Output', 'Delivered', 'Output'],
      ],
    );
    assert.deepEqual(observations[1]?.networkPolicy, {
      type: 'K8sNetworkPolicy',
      namespace: 'default',
      name: 'allow',
    });
    assert.equal(observations[3]?.pod, 'default/web');
  });

  it('Rejected and isolation Dropped in ingress tables, with policy and rule', () => {
    const rejected = decodeObservations(
      { tableId: Tables.CNPApplicationIngressRule, registers: registers({ 0: 0x10002, 1: 4 }), ruleId: 5 },
      context,
    );
    assert.deepEqual(rejected.at(-1), {
      component: 'NetworkPolicy',
      componentInfo: 'IngressRule',
      action: 'Rejected',
      tableName: 'CNPApplicationIngressRule',
      tableId: Tables.CNPApplicationIngressRule,
      direction: 'Ingress',
      ruleId: 5,
      networkPolicy: { type: 'AntreaClusterNetworkPolicy', name: 'deny' },
      ruleName: 'no-web',
    });
    const isolated = decodeObservations(
      { tableId: Tables.IngressDefaultRule, registers: registers({ 0: 0x10002, 1: 4 }), ruleId: 2 },
      context,
    );
    assert.equal(isolated.at(-1)?.componentInfo, 'IngressDefaultRule');
    assert.equal(isolated.at(-1)?.action, 'Dropped');
    assert.equal(isolated.at(-1)?.networkPolicy?.name, 'web-only');
  });

  it('tunnel, gateway, spoofing and an unknown output port', () => {
    const tunnel = decodeObservations(
      {
        tableId: Tables.Output,
        registers: registers({ 0: 0x10002, 1: 1 }),
        ruleId: 0,
        tunnelDst: '192.168.1.2',
      },
      context,
    );
    assert.equal(tunnel[1]?.componentInfo, 'l3Forwarding');
    assert.equal(tunnel.at(-1)?.action, 'Forwarded');
    assert.equal(tunnel.at(-1)?.tunnelDstIP, '192.168.1.2');
    const gateway = decodeObservations(
      { tableId: Tables.Output, registers: registers({ 0: 0x10002, 1: 2 }), ruleId: 0 },
      context,
    );
    assert.equal(gateway.at(-1)?.action, 'ForwardedOutOfOverlay');
    const spoofed = decodeObservations(
      { tableId: Tables.SpoofGuard, registers: registers({}), ruleId: 0 },
      context,
    );
    assert.deepEqual(
      spoofed.map((o) => `${o.component}/${o.action}`),
      ['SpoofGuard/Dropped'],
    );
    const noPort = decodeObservations(
      { tableId: Tables.Output, registers: registers({ 0: 2 }), ruleId: 0 },
      context,
    );
    assert.equal(noPort.at(-1)?.action, 'Dropped');
  });
});

describe('traceflow ofproto/trace and rendering', () => {
  it('builds the trace flow and parses the per-table path', () => {
    assert.equal(
      ofprotoTraceFlow(
        {
          protocol: 'TCP',
          srcMac: '02:00:00:00:00:01',
          dstMac: '02:00:00:00:00:02',
          srcIp: '10.0.0.1',
          dstIp: '10.0.0.2',
          srcPort: 4000,
          dstPort: 80,
        },
        5,
        3,
      ),
      'in_port=5,reg7=3,tcp,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64,tp_src=4000,tp_dst=80,tcp_flags=syn',
    );
    const output = [
      'Flow: tcp,reg7=0x3,in_port=5,...',
      '',
      'bridge("br-int")',
      '----------------',
      ' 0. in_port=5, priority 190, cookie 0x400000005',
      '    load:0x2->NXM_NX_REG0[0..15]',
      '    goto_table:10',
      '10. ip,in_port=5,dl_src=02:00:00:00:00:01,nw_src=10.0.0.1, priority 200, cookie 0x400000005',
      '    goto_table:30',
      '30. ip, priority 200, cookie 0x100000000000000',
      '    ct(table=31,zone=65520)',
      '    drop',
      '     -> A clone of the packet is forked to recirculate.',
      '',
      'Final flow: unchanged',
      '',
      '===============================================================================',
      'recirc(0x1) - resume conntrack with default ct_state=trk|new (use --ct-next to customize)',
      '===============================================================================',
      '',
      '110. ip,reg0=0x10000/0x10000,reg7=0x3, priority 220, cookie 0x10000007f000003',
      '    controller(reason=no_match,id=44545,userdata=03.00.00.00.00)',
    ].join('\n');
    const steps = parseOfprotoTrace(output);
    assert.deepEqual(
      steps.map((s) => [s.tableId, s.tableName, s.actions.length]),
      [
        [0, 'Classification', 2],
        [10, 'SpoofGuard', 1],
        [30, 'ConntrackZone', 2],
        [110, 'Output', 1],
      ],
    );
    assert.equal(steps[0]?.flow, 'in_port=5, priority 190, cookie 0x400000005');
    assert.deepEqual(parseOfprotoTrace('garbage'), []);
  });

  it('renders a summary and the observations table with Antrea-like columns', () => {
    const result: TraceflowResult = {
      name: 'tf-1-0',
      phase: 'Succeeded',
      live: false,
      source: { namespace: 'default', pod: 'client', ip: '10.0.0.1' },
      destination: { namespace: 'default', pod: 'web', ip: '10.0.0.2' },
      packet: 'tcp 10.0.0.1:4000 > 10.0.0.2:80 [S]',
      verdict: 'Dropped',
      observations: [
        {
          component: 'SpoofGuard',
          componentInfo: 'SpoofGuard',
          action: 'Forwarded',
          tableName: 'SpoofGuard',
          tableId: 10,
        },
        {
          component: 'NetworkPolicy',
          componentInfo: 'IngressRule',
          action: 'Dropped',
          tableName: 'CNPApplicationIngressRule',
          tableId: 89,
          direction: 'Ingress',
          networkPolicy: { type: 'AntreaClusterNetworkPolicy', name: 'deny' },
          ruleName: 'no-web',
        },
      ],
      startTime: '1970-01-01T00:00:00.000Z',
      durationMs: 3,
    };
    const text = traceflowText(result);
    assert.match(text, /^verdict:\s+Dropped$/m);
    assert.match(text, /^destination: default\/web \(10\.0\.0\.2\)$/m);
    assert.match(
      text,
      /^NetworkPolicy\s+IngressRule\s+Dropped\s+CNPApplicationIngressRule\s+ACNP deny\s+no-web\s+Ingress$/m,
    );
    assert.deepEqual(observationTable([]).columns, [
      'COMPONENT',
      'COMPONENT-INFO',
      'ACTION',
      'TABLE',
      'NETWORK-POLICY',
      'RULE',
      'DETAIL',
    ]);
  });
});
