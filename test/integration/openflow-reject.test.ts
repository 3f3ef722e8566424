// Reject rules end to end with the real OVS 3.1 and real packets: ovs-vswitchd (userspace datapath) in its own
// network namespace, br-int in fail_mode=secure, two "pods" (namespaces with veths, tx offload off), flows that
// send TCP to :8080 and UDP to :5353 from pod A to the agent behind a meter, and the OpenFlowChannel +
// RejectResponder answering them. Pod A must see a refusal (not a timeout) and pod B must never see the packet.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RejectResponder, type RejectEvent } from '../../firmware/agent/reject-responder';
import type { LogFields, Logger } from '../../firmware/core/logger';
import { isTcpFrame, parseFrame } from '../../firmware/core/packets/frame';
import { icmpUnreachableFor, tcpResetFor } from '../../firmware/core/packets/reject-replies';
import {
  ControllerPurpose,
  controllerAction,
  meteredControllerActions,
  packetInMeter,
  type PacketInMeter,
} from '../../firmware/core/pipeline/controller-userdata';
import { OvsMeters, type MeterChange } from '../../firmware/ovs/meters';
import { OpenFlowChannel, type PacketIn } from '../../firmware/ovs/openflow-channel';
import { OvsProcesses } from '../../firmware/ovs/ovs-processes';
import { must, run } from '../support/run';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lines at warn and above go to the test output; everything is kept for assertions. */
function testLogger(
  lines: { level: string; msg: string; fields: LogFields }[],
  base: LogFields = {},
): Logger {
  const at =
    (level: string) =>
    (msg: string, fields: LogFields = {}) => {
      lines.push({ level, msg, fields: { ...base, ...fields } });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => testLogger(lines, { ...base, ...fields }),
  };
}

// Python helpers run inside the pods (python3 is on every test machine; see PLATFORM.md).
const LISTENER = `
import socket, sys, threading
log = open(sys.argv[1], 'a', buffering=1)
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port)); s.listen(256)
    while True:
        c, a = s.accept(); log.write('tcp %d %s:%d\\n' % (port, a[0], a[1])); c.close()
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', port))
    while True:
        d, a = s.recvfrom(2048); log.write('udp %d %s:%d\\n' % (port, a[0], a[1]))
for f, p in ((tcp, 8080), (tcp, 8081), (udp, 5353), (udp, 5354)):
    threading.Thread(target=f, args=(p,), daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
`;

const CONNECTS = `
import errno, json, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for i in range(n):
    s = socket.socket(); s.settimeout(3)
    t0 = time.perf_counter()
    try:
        s.connect((host, port)); outcome = 'connected'
    except ConnectionRefusedError:
        outcome = 'refused'
    except socket.timeout:
        outcome = 'timeout'
    except OSError as e:
        outcome = errno.errorcode.get(e.errno, str(e))
    out.append([outcome, (time.perf_counter() - t0) * 1000])
    s.close()
print(json.dumps(out))
`;

const UDP_PROBE = `
import errno, json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(float(sys.argv[3]) if len(sys.argv) > 3 else 3)
s.connect((sys.argv[1], int(sys.argv[2])))
t0 = time.perf_counter()
s.send(b'are you there?')
try:
    s.recv(2048); outcome = 'data'
except socket.timeout:
    outcome = 'timeout'
except OSError as e:
    outcome = errno.errorcode.get(e.errno, str(e))
print(json.dumps([outcome, (time.perf_counter() - t0) * 1000]))
`;

// 2000 SYNs from a raw socket in bursts of 50 (~0.25 s in all), source ports 20000..21999.
const SYN_STORM = `
import json, socket, struct, sys, time
src, dst, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s > 0xffff: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, 20)
segments = []
for i in range(n):
    seg = struct.pack('!HHIIBBHHH', 20000 + i, port, 1000 + i, 0, 0x50, 0x02, 64240, 0, 0)
    segments.append(seg[:16] + struct.pack('!H', csum(pseudo + seg)) + seg[18:])
t0 = time.perf_counter()
for i, seg in enumerate(segments):
    raw.sendto(seg, (dst, 0))
    # Unpaced, most of a 2000-packet burst overflows the socket OVS reads the veth with before OVS sees it.
    if i % 50 == 49: time.sleep(0.005)
print(json.dumps({'sent': n, 'seconds': time.perf_counter() - t0}))
`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** A classic pcap file (LINKTYPE_ETHERNET) holding `frames`. */
function pcap(frames: Uint8Array[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  const records = frames.map((f, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1_700_000_000 + i, 0);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    return Buffer.concat([r, Buffer.from(f)]);
  });
  return Buffer.concat([header, ...records]);
}

describe('OpenFlow channel + Reject responder against the real OVS', function () {
  this.timeout(180_000);
  const id = crypto.randomBytes(3).toString('hex');
  const nodeNs = `orj${id}-n`;
  const podA = `orj${id}-a`;
  const podB = `orj${id}-b`;
  const ipA = '10.97.0.2';
  const ipB = '10.97.0.3';
  const controllerId = 0x5a17;
  const ruleId = 0x2a;
  // Low enough that a storm is clearly limited, high enough for 50 sequential connects.
  const meter: PacketInMeter = packetInMeter({ rate: 100, burst: 60 });
  let dir: string;
  let ovs: OvsProcesses;
  let meters: OvsMeters;
  let channel: OpenFlowChannel;
  let responder: RejectResponder;
  let listener: ChildProcess | undefined;
  let listenerLog: string;
  const logs: { level: string; msg: string; fields: LogFields }[] = [];
  const rejected: RejectEvent[] = [];
  const namespaces = [nodeNs, podA, podB];

  const inPod = (ns: string, args: string[], timeoutMs?: number) =>
    run('ip', ['netns', 'exec', ns, ...args], { timeoutMs });

  async function installFlows(): Promise<MeterChange> {
    const change = await meters.ensure(meter);
    const reject = meteredControllerActions(meter, {
      controllerId,
      userdata: { purpose: ControllerPurpose.Reject, ruleId },
    });
    const flows = [
      `table=0,priority=200,tcp,in_port=1,nw_dst=${ipB},tp_dst=8080 actions=${reject}`,
      `table=0,priority=200,udp,in_port=1,nw_dst=${ipB},tp_dst=5353 actions=${reject}`,
      'table=0,priority=0 actions=NORMAL',
    ];
    const file = path.join(dir, 'flows.txt');
    fs.writeFileSync(file, flows.join('\n') + '\n');
    await ovs.ofctl(['--bundle', 'add-flows', 'br-int', file]);
    return change;
  }

  async function connects(port: number, n: number): Promise<[string, number][]> {
    const r = await inPod(podA, ['python3', '-c', CONNECTS, ipB, String(port), String(n)], 120_000);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as [string, number][];
  }

  function listenerLines(): string[] {
    return fs.existsSync(listenerLog) ? fs.readFileSync(listenerLog, 'utf8').split('\n').filter(Boolean) : [];
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orj-'));
    listenerLog = path.join(dir, 'listener.log');
    for (const ns of namespaces) await must('ip', ['netns', 'add', ns]);
    ovs = new OvsProcesses({ dir, netns: nodeNs });
    await ovs.start();
    await ovs.vsctl([
      'add-br',
      'br-int',
      '--',
      'set',
      'bridge',
      'br-int',
      'datapath_type=netdev',
      'fail_mode=secure',
      'protocols=OpenFlow13,OpenFlow15',
    ]);
    assert.equal((await ovs.vsctl(['get', 'Interface', 'br-int', 'ofport'])).trim(), '65534', 'br-int is up');
    for (const [i, ns, ip] of [
      [1, podA, ipA],
      [2, podB, ipB],
    ] as const) {
      const host = `orj${id}${i}`;
      await must('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await must('ip', ['link', 'set', host, 'netns', nodeNs]);
      await must('ip', ['-n', nodeNs, 'link', 'set', host, 'up']);
      await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', `02:97:00:00:00:0${i}`]);
      await must('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await must('ip', ['netns', 'exec', ns, 'ethtool', '-K', 'eth0', 'tx', 'off']);
      await ovs.vsctl(['add-port', 'br-int', host, '--', 'set', 'Interface', host, `ofport_request=${i}`]);
      assert.equal((await ovs.vsctl(['get', 'Interface', host, 'ofport'])).trim(), String(i));
    }
    meters = new OvsMeters({ bridge: 'br-int', env: ovs.env(), logger: testLogger(logs) });
    assert.equal(await installFlows(), 'added');

    listener = spawn('ip', ['netns', 'exec', podB, 'python3', '-c', LISTENER, listenerLog], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      listener!.stdout!.once('data', () => resolve());
      listener!.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
    });

    channel = new OpenFlowChannel({
      socketPath: ovs.bridgeMgmtSocket('br-int'),
      controllerId,
      logger: testLogger(logs),
      minReconnectDelayMs: 50,
      maxReconnectDelayMs: 500,
    });
    responder = new RejectResponder({
      channel,
      logger: testLogger(logs),
      onRejected: (e) => rejected.push(e),
    });
    responder.start();
    channel.start();
    await channel.waitUntilConnected(10_000);
  });

  after(async () => {
    responder?.stop();
    await channel?.stop();
    listener?.kill();
    await ovs?.stop().catch(() => undefined);
    for (const ns of namespaces) await run('ip', ['netns', 'del', ns]);
    if (dir && !process.env['KEEP_TEST_STATE']) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('installs the metered controller action in the form dump-flows prints back', async () => {
    const dump = await ovs.ofctl(['--no-stats', 'dump-flows', 'br-int']);
    const action = controllerAction({
      controllerId,
      userdata: { purpose: ControllerPurpose.Reject, ruleId },
    });
    assert.equal(action, 'controller(reason=no_match,id=23063,userdata=01.00.00.00.2a)');
    assert.ok(dump.includes(`actions=meter:${meter.meterId},${action}`), dump);
    const listed = await meters.list();
    assert.deepEqual(listed.find((m) => m.meterId === meter.meterId)?.bands, [
      { type: 'drop', rate: 100, burstSize: 60 },
    ]);
    assert.equal(await meters.ensure(meter), 'unchanged');
    assert.equal(await meters.ensure({ ...meter, rate: 150 }), 'modified');
    assert.equal((await meters.list()).find((m) => m.meterId === meter.meterId)?.bands[0]?.rate, 150);
    assert.equal(await meters.ensure(meter), 'modified');
    assert.equal(await meters.ensure(meter), 'unchanged');
    assert.equal(await meters.ensure(packetInMeter({ meterId: 9, rate: 5 })), 'added');
    await meters.delete(9);
    assert.deepEqual(
      (await meters.list()).map((m) => m.meterId),
      [meter.meterId],
    );
    assert.equal(channel.isConnected, true);
    assert.ok(channel.datapathId !== undefined && channel.datapathId > 0n);
  });

  it('lets allowed traffic through NORMAL (pod B’s listener answers on 8081)', async () => {
    const ok = await connects(8081, 1);
    assert.equal(ok[0]?.[0], 'connected');
    await sleep(100);
    assert.ok(
      listenerLines().some((l) => l.startsWith(`tcp 8081 ${ipA}:`)),
      listenerLines().join('\n'),
    );
  });

  it('refuses TCP to 8080 quickly with a RST the client sees as "Connection refused"; B never sees the SYN', async () => {
    const before = responder.stats.tcpResets;
    const results = await connects(8080, 50);
    const outcomes = new Set(results.map(([o]) => o));
    assert.deepEqual([...outcomes], ['refused'], JSON.stringify(results));
    const ms = results.map(([, t]) => t).sort((a, b) => a - b);
    const p50 = percentile(ms, 50);
    const p95 = percentile(ms, 95);
    console.log(
      `      refusal latency over ${ms.length} connects: p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, max ${ms[ms.length - 1]!.toFixed(2)} ms`,
    );
    assert.equal(responder.stats.tcpResets - before, 50);
    assert.ok(rejected.some((e) => e.ruleId === ruleId && e.reply === 'tcp-reset' && e.inPort === 1));
    assert.ok(
      !listenerLines().some((l) => l.startsWith('tcp 8080')),
      'the listener on 8080 accepted nothing',
    );
  });

  it('refuses UDP to 5353 with ICMP host-administratively-prohibited, which Linux reports as EHOSTUNREACH', async () => {
    const r = await inPod(podA, ['python3', '-c', UDP_PROBE, ipB, '5353']);
    assert.equal(r.code, 0, r.stderr);
    const [outcome, ms] = JSON.parse(r.stdout) as [string, number];
    console.log(`      UDP refusal: ${outcome} after ${ms.toFixed(2)} ms`);
    assert.equal(outcome, 'EHOSTUNREACH');
    await sleep(100);
    assert.ok(!listenerLines().some((l) => l.startsWith('udp 5353')), 'the UDP listener received nothing');
    // The same probe to an allowed port reaches B (and times out waiting for an answer that never comes).
    const allowed = await inPod(podA, ['python3', '-c', UDP_PROBE, ipB, '5354', '0.5']);
    assert.equal((JSON.parse(allowed.stdout) as [string])[0], 'timeout');
    assert.ok(listenerLines().some((l) => l.startsWith(`udp 5354 ${ipA}:`)));
  });

  it('puts correct checksums on the wire: tcpdump in pod A verifies the RST and the ICMP error', async () => {
    const file = path.join(dir, 'pod-a.pcap');
    const tcpdump = spawn(
      'ip',
      // -Z root: Debian's tcpdump otherwise opens the file as user tcpdump, which cannot write into the test dir.
      // --immediate-mode: without it packets wait in libpcap's ring for up to a second and a SIGINT loses them.
      [
        'netns',
        'exec',
        podA,
        'tcpdump',
        '-Z',
        'root',
        '--immediate-mode',
        '-i',
        'eth0',
        '-n',
        '-U',
        '-w',
        file,
        'tcp port 8080 or icmp',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await new Promise<void>((resolve) =>
      tcpdump.stderr.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
    );
    assert.equal((await connects(8080, 1))[0]?.[0], 'refused');
    await inPod(podA, ['python3', '-c', UDP_PROBE, ipB, '5353']);
    await sleep(200);
    tcpdump.kill('SIGINT');
    await new Promise((r) => tcpdump.once('exit', r));
    const read = await run('tcpdump', ['-r', file, '-n', '-vv']);
    assert.equal(read.code, 0, read.stderr);
    const text = read.stdout;
    assert.match(text, /Flags \[S\]/, `the capture holds the SYN: ${text}`);
    // The SYN from A and our RST|ACK back, with the TCP checksum verified by tcpdump.
    assert.match(
      text,
      new RegExp(
        `${ipB.replace(/\./g, '\\.')}\\.8080 > ${ipA.replace(/\./g, '\\.')}\\.\\d+: Flags \\[R\\.\\], cksum 0x[0-9a-f]{4} \\(correct\\), seq 0, ack \\d+, win 0, length 0`,
      ),
    );
    assert.match(text, /ICMP host 10\.97\.0\.3 unreachable - admin prohibited/);
    assert.doesNotMatch(text, /bad cksum|incorrect|wrong icmp cksum/);
  });

  it('builds frames that tcpdump decodes with correct checksums (pcap of the builders’ output)', async () => {
    // Craft a SYN and a UDP datagram as Linux would send them, then let tcpdump judge the replies.
    // Checksums computed separately (Python): IP 0x7a3c / TCP 0xd33f, IP 0x13d3 / UDP 0x7d6e.
    const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
    const syn = hex(
      '029700000003 029700000001 0800' +
        '45000028abcd40004006 7a3c 0a6100020a610003' +
        'd4311f90 00bc614e 00000000 5002 7210 d33f 0000',
    );
    const udp = hex(
      '029700000003 029700000001 0800' +
        '45000020123440004011 13d3 0a6100020a610003' +
        'd43114e9000c 7d6e 41424344',
    );
    assert.equal(syn.length, 54);
    assert.equal(udp.length, 46);
    const parse = (b: Uint8Array) => {
      const r = parseFrame(b);
      assert.ok(r.ok && r.frame.kind === 'ipv4');
      return r.frame;
    };
    const synFrame = parse(syn);
    assert.ok(isTcpFrame(synFrame));
    const rst = tcpResetFor(synFrame);
    const icmp = icmpUnreachableFor(parse(udp));
    const file = path.join(dir, 'builders.pcap');
    fs.writeFileSync(file, pcap([rst, icmp]));
    const read = await run('tcpdump', ['-r', file, '-n', '-vv']);
    assert.equal(read.code, 0, read.stderr);
    assert.match(
      read.stdout,
      /10\.97\.0\.3\.8080 > 10\.97\.0\.2\.54321: Flags \[R\.\], cksum 0x[0-9a-f]{4} \(correct\), seq 0, ack 12345679, win 0, length 0/,
    );
    assert.match(read.stdout, /ICMP host 10\.97\.0\.3 unreachable - admin prohibited, length 36/);
    assert.match(read.stdout, /10\.97\.0\.2\.54321 > 10\.97\.0\.3\.5353: /, 'the quoted datagram is decoded');
    assert.doesNotMatch(read.stdout, /bad cksum|incorrect|wrong icmp cksum/);
  });

  it('limits a packet-in storm with the meter: 2000 SYNs, packet-ins ≤ burst + rate × duration', async () => {
    await sleep(1000); // let the bucket refill after the previous tests
    const storm: number[] = [];
    const onPacketIn = (p: PacketIn) => {
      const f = parseFrame(p.packet);
      if (
        f.ok &&
        f.frame.kind === 'ipv4' &&
        f.frame.payload.kind === 'tcp' &&
        f.frame.payload.srcPort >= 20000
      ) {
        storm.push(performance.now());
      }
    };
    channel.on('packetIn', onPacketIn);
    const statsBefore = await ovs.run('ovs-ofctl', [
      '-O',
      'OpenFlow15',
      'meter-stats',
      'br-int',
      `meter=${meter.meterId}`,
    ]);
    const start = performance.now();
    const r = await inPod(podA, ['python3', '-c', SYN_STORM, ipA, ipB, '8080', '2000']);
    assert.equal(r.code, 0, r.stderr);
    const sender = JSON.parse(r.stdout) as { sent: number; seconds: number };
    await sleep(1000);
    channel.off('packetIn', onPacketIn);
    const last = storm[storm.length - 1] ?? start;
    const windowSeconds = (last - start) / 1000;
    const bound = meter.burst + meter.rate * windowSeconds;
    const statsAfter = await ovs.run('ovs-ofctl', [
      '-O',
      'OpenFlow15',
      'meter-stats',
      'br-int',
      `meter=${meter.meterId}`,
    ]);
    const count = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    const meterIn = count(statsAfter, /packet_in_count:(\d+)/) - count(statsBefore, /packet_in_count:(\d+)/);
    const dropped = count(statsAfter, /0: packet_count:(\d+)/) - count(statsBefore, /0: packet_count:(\d+)/);
    console.log(
      `      storm: ${sender.sent} SYNs sent in ${(sender.seconds * 1000).toFixed(0)} ms; meter saw ${meterIn}, dropped ${dropped}; ` +
        `${storm.length} packet-ins in a ${(windowSeconds * 1000).toFixed(0)} ms window (bound ${bound.toFixed(0)})`,
    );
    assert.ok(storm.length > 0, 'some SYNs reached the agent');
    assert.ok(storm.length <= bound, `${storm.length} packet-ins exceed ${bound}`);
    assert.ok(dropped > 0, 'the meter dropped part of the storm');
    assert.equal(dropped + storm.length, meterIn, 'what the meter did not drop reached the agent');
    assert.ok(!listenerLines().some((l) => l.startsWith('tcp 8080')));
  });

  it('reconnects after ovs-vswitchd restarts, and rejects again once the flows are replayed', async () => {
    await sleep(700); // refill the meter bucket
    const disconnected = new Promise<void>((resolve) => channel.once('disconnected', () => resolve()));
    const connected = new Promise<void>((resolve) => channel.once('connected', () => resolve()));
    const connectsBefore = channel.stats.connects;
    const restartStart = performance.now();
    await ovs.restartVswitchd();
    await disconnected;
    await connected;
    console.log(
      `      channel back ${(performance.now() - restartStart).toFixed(0)} ms after the restart began`,
    );
    assert.equal(channel.stats.connects, connectsBefore + 1);
    assert.equal(channel.isConnected, true);
    // Flows and meters do not survive the restart (the meter is added, not found): the agent replays them on
    // `connected`, meter first, since OVS rejects a flow whose meter does not exist.
    assert.equal(await installFlows(), 'added');
    const results = await connects(8080, 5);
    assert.deepEqual(
      results.map(([o]) => o),
      ['refused', 'refused', 'refused', 'refused', 'refused'],
    );
    const udp = await inPod(podA, ['python3', '-c', UDP_PROBE, ipB, '5353']);
    assert.equal((JSON.parse(udp.stdout) as [string])[0], 'EHOSTUNREACH');
    assert.deepEqual(
      logs.filter((l) => l.level === 'error'),
      [],
    );
  });
});
