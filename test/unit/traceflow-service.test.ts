// TraceflowService against fakes: flows installed before the packet and removed after (also on timeout), the
// packet-out carries the tag, packet-ins are routed by tag; and antctl's traceflow command line.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { TraceflowService, type TraceflowChannel } from '../../firmware/agent/traceflow';
import { silentLogger } from '../../firmware/core/logger';
import { OfpPort } from '../../firmware/core/openflow/constants';
import { isParseError, parseArgs } from '../../firmware/core/antctl/commands';
import type { Flow } from '../../firmware/core/pipeline/flow';
import type { PacketIn, PacketOutOptions, PacketOutTarget } from '../../firmware/ovs/openflow-channel';

const PODS = [
  { namespace: 'default', name: 'client', ip: '10.10.0.5', mac: '02:00:00:00:00:05', ofport: 5 },
  { namespace: 'default', name: 'web', ip: '10.10.0.2', mac: '02:00:00:00:00:02', ofport: 3 },
];

class FakeChannel extends EventEmitter implements TraceflowChannel {
  readonly isConnected = true;
  readonly sent: { packet: Uint8Array; target: PacketOutTarget; options?: PacketOutOptions }[] = [];
  /** What the "switch" answers a packet-out with; undefined: nothing (the packet vanished). */
  answer: ((tag: number) => PacketIn | undefined) | undefined;

  packetOut(packet: Uint8Array, target: PacketOutTarget, options?: PacketOutOptions): Promise<void> {
    this.sent.push({ packet, target, ...(options ? { options } : {}) });
    const tag = options?.registers?.[7] ?? 0;
    const reply = this.answer?.(tag);
    if (reply) setImmediate(() => this.emit('packetIn', reply));
    return Promise.resolve();
  }
}

function packetIn(tag: number, tableId: number, registers: Record<number, number>, ruleId = 0): PacketIn {
  const regs = Array.from({ length: 16 }, (_, i) => registers[i] ?? 0);
  regs[7] = tag;
  return {
    packet: new Uint8Array(0),
    fullLength: 0,
    tableId,
    cookie: 0n,
    reason: 0,
    userdata: Uint8Array.of(3, ruleId >>> 24, (ruleId >>> 16) & 0xff, (ruleId >>> 8) & 0xff, ruleId & 0xff),
    metadata: {
      inPort: 5,
      registers: regs,
      metadata: undefined,
      tunnelId: undefined,
      tunnelIpv4Src: undefined,
      tunnelIpv4Dst: undefined,
      pktMark: undefined,
      ctState: undefined,
      ctZone: undefined,
      ctMark: undefined,
    },
    metadataFields: [],
  };
}

function setup(): {
  service: TraceflowService;
  channel: FakeChannel;
  owners: Map<string, Flow[]>;
  log: string[];
} {
  const channel = new FakeChannel();
  const owners = new Map<string, Flow[]>();
  const log: string[] = [];
  const service = new TraceflowService({
    channel,
    flows: {
      setOwnerFlows: (owner, flows) => {
        log.push(`set ${owner} ${flows.length}`);
        if (flows.length === 0) owners.delete(owner);
        else owners.set(owner, flows);
        return Promise.resolve({ add: flows, modify: [], delete: [] });
      },
      removeOwner: (owner) => {
        log.push(`remove ${owner}`);
        owners.delete(owner);
        return Promise.resolve({ add: [], modify: [], delete: [] });
      },
    },
    installedFlows: { dumpFlows: () => Promise.resolve([]) },
    rules: {
      conjunctionRule: (id) =>
        id === 7
          ? {
              conjId: 7,
              kind: 'rule',
              policy: { type: 'AntreaClusterNetworkPolicy', name: 'deny', uid: 'u1' },
              ruleName: 'r',
              direction: 'In',
              action: 'Drop',
              enableLogging: false,
              table: 89,
              priority: 100,
            }
          : undefined,
    },
    pods: {
      pod: (namespace, name) => PODS.find((p) => p.namespace === namespace && p.name === name),
      byOfport: (ofport) => PODS.find((p) => p.ofport === ofport),
      byIp: (ip) => PODS.find((p) => p.ip === ip),
    },
    node: () => ({ gatewayOfport: 2, gatewayMac: '0a:5e:00:00:00:01', tunnelOfport: 1 }),
    controllerId: 0xae01,
    logger: silentLogger,
  });
  service.start();
  return { service, channel, owners, log };
}

describe('TraceflowService', () => {
  it('installs the flows, injects at the source port with the tag, decodes the packet-in, removes the flows', async () => {
    const { service, channel, owners, log } = setup();
    channel.answer = (tag) => packetIn(tag, 89, { 0: 0x10002, 1: 3 }, 7);
    const result = await service.trace({ source: 'default/client', destination: 'default/web', port: 80 });
    assert.equal(result.phase, 'Succeeded');
    assert.equal(result.verdict, 'Dropped');
    assert.deepEqual(result.observations.at(-1)?.networkPolicy, {
      type: 'AntreaClusterNetworkPolicy',
      name: 'deny',
    });
    assert.equal(channel.sent.length, 1);
    const sent = channel.sent[0];
    assert.deepEqual(sent?.target, { inPort: 5, outPort: OfpPort.Table });
    const tag = sent?.options?.registers?.[7];
    assert.ok(tag !== undefined && tag > 0);
    assert.match(result.packet, /^tcp 10\.10\.0\.5:\d+ > 10\.10\.0\.2:80 \[S\]/);
    assert.deepEqual(
      log.map((l) => l.replace(/ \d+$/, '')),
      [`set traceflow/${tag}`, `remove traceflow/${tag}`],
    );
    assert.equal(owners.size, 0);
    service.stop();
  });

  it('fails after the timeout when nothing comes back, ignores other tags, and still removes its flows', async () => {
    const { service, channel, owners } = setup();
    channel.answer = (tag) => packetIn(tag + 1, 110, { 0: 0x10002, 1: 3 });
    const result = await service.trace({
      source: 'default/client',
      destinationIp: '10.10.0.2',
      timeoutSeconds: 1,
    });
    assert.equal(result.phase, 'Failed');
    assert.match(result.reason ?? '', /not observed within 1s/);
    assert.equal(service.stats.strayPacketIns, 1);
    assert.equal(owners.size, 0);
    service.stop();
  });

  it('rejects unknown pods and bad requests with typed errors', async () => {
    const { service } = setup();
    await assert.rejects(service.trace({ source: 'default/nope', destination: 'default/web', port: 80 }), {
      code: 'TRACEFLOW_NOT_FOUND',
    });
    await assert.rejects(service.trace({ source: 'default/client' }), { code: 'TRACEFLOW_INVALID' });
    service.stop();
  });
});

describe('antctl traceflow command line', () => {
  it('parses Antrea-like flags into a request', () => {
    const parsed = parseArgs([
      'traceflow',
      '-S',
      'default/a',
      '-D',
      '10.0.0.9',
      '--port',
      '80',
      '--live',
      '--timeout',
      '30',
    ]);
    assert.ok(!isParseError(parsed) && parsed.kind === 'traceflow');
    assert.deepEqual(parsed.request, {
      source: 'default/a',
      destinationIp: '10.0.0.9',
      port: 80,
      timeoutSeconds: 30,
      live: true,
    });
    const bad = parseArgs(['traceflow', '-S', 'a', '-D', 'b', '--protocol', 'UDP']);
    assert.ok(isParseError(bad) && /destination port is required/.test(bad.message));
    const both = parseArgs(['traceflow', '-S', 'a', '-D', 'b', '--destination-ip', '10.0.0.1']);
    assert.ok(isParseError(both) && both.code === 'BadFlagValue');
  });

  it("takes the packet in Antrea's -f filter syntax, and refuses filters it cannot honour", () => {
    const tcp = parseArgs([
      'traceflow',
      '-S',
      'default/a',
      '-D',
      'default/b',
      '-f',
      'tcp,tcp_dst=80,tcp_src=4000',
    ]);
    assert.ok(!isParseError(tcp) && tcp.kind === 'traceflow');
    assert.deepEqual(tcp.request, {
      source: 'default/a',
      destination: 'default/b',
      protocol: 'TCP',
      port: 80,
      sourcePort: 4000,
    });
    const icmp = parseArgs([
      'traceflow',
      '-S',
      'default/a',
      '--destination-ip',
      '10.0.0.9',
      '--flow',
      'icmp',
    ]);
    assert.ok(!isParseError(icmp) && icmp.kind === 'traceflow');
    assert.equal(icmp.request.protocol, 'ICMP');
    for (const [filter, reason] of [
      ['sctp,sctp_dst=1', /must start with the protocol/],
      ['udp,tcp_dst=53', /unsupported field "tcp_dst"/],
      ['tcp,tcp_dst=http', /needs a port number/],
      ['icmp,icmp_type=8', /unsupported field/],
    ] as const) {
      const parsed = parseArgs(['traceflow', '-S', 'a', '-D', 'b', '-f', filter]);
      assert.ok(isParseError(parsed) && parsed.code === 'BadFlagValue', filter);
      assert.match(parsed.message, reason);
    }
    const conflict = parseArgs(['traceflow', '-S', 'a', '-D', 'b', '--port', '81', '-f', 'tcp,tcp_dst=80']);
    assert.ok(isParseError(conflict) && /disagrees with --port 81/.test(conflict.message));
  });
});
