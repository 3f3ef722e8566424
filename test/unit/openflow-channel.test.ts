// OpenFlowChannel against a fake switch on a unix socket that speaks the codec (the real OVS is in
// test/integration/openflow-reject.test.ts). Fast: timers are tens of milliseconds.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LogFields, Logger } from '../../firmware/core/logger';
import { OfpPort } from '../../firmware/core/openflow/constants';
import { OpenFlowFramer } from '../../firmware/core/openflow/framer';
import { decodeMessage, encodeMessage, type OpenFlowMessage } from '../../firmware/core/openflow/messages';
import { readPacketMetadata } from '../../firmware/core/openflow/oxm';
import {
  OpenFlowChannel,
  type OpenFlowSwitchError,
  type PacketIn,
} from '../../firmware/ovs/openflow-channel';

interface LogLine {
  level: string;
  msg: string;
  fields: LogFields;
}

function recordingLogger(lines: LogLine[], base: LogFields = {}): Logger {
  const at =
    (level: string) =>
    (msg: string, fields: LogFields = {}) =>
      lines.push({ level, msg, fields: { ...base, ...fields } });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => recordingLogger(lines, { ...base, ...fields }),
  };
}

type Behaviour = {
  /** Answer to the client's HELLO; default OpenFlow 1.5 without bitmap (what OVS 3.1 sends). */
  hello?: OpenFlowMessage;
  /** Reply to a request; return undefined for the default, null for no reply. */
  reply?: (message: OpenFlowMessage, peer: FakePeer) => OpenFlowMessage | null | undefined;
};

interface FakePeer {
  socket: net.Socket;
  received: OpenFlowMessage[];
  send(message: OpenFlowMessage): void;
}

class FakeSwitch {
  readonly peers: FakePeer[] = [];
  private server: net.Server | undefined;
  private waiters: (() => void)[] = [];
  behaviour: Behaviour = {};

  constructor(readonly socketPath: string) {}

  async listen(): Promise<void> {
    this.server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => this.server!.listen(this.socketPath, () => resolve()));
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  get last(): FakePeer {
    const peer = this.peers[this.peers.length - 1];
    assert.ok(peer, 'no client connected');
    return peer;
  }

  /** Resolves when some peer has received a message matching `predicate`. */
  async waitFor(predicate: (m: OpenFlowMessage) => boolean, timeoutMs = 3000): Promise<OpenFlowMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const p of this.peers) {
        const found = p.received.find(predicate);
        if (found) return found;
      }
      if (Date.now() > deadline) throw new Error('fake switch: expected message not received');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }

  private accept(socket: net.Socket): void {
    const peer: FakePeer = {
      socket,
      received: [],
      send: (m) => {
        if (!socket.destroyed) socket.write(encodeMessage(m));
      },
    };
    this.peers.push(peer);
    socket.on('error', () => undefined);
    const framer = new OpenFlowFramer({
      onMessage: (bytes) => {
        const decoded = decodeMessage(bytes);
        assert.ok(decoded.ok, 'client sent an undecodable message');
        peer.received.push(decoded.message);
        this.respond(decoded.message, peer);
        for (const w of this.waiters.splice(0)) w();
      },
      onError: (e) => assert.fail(`client sent garbage: ${e.message}`),
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
  }

  private respond(m: OpenFlowMessage, peer: FakePeer): void {
    const custom = this.behaviour.reply?.(m, peer);
    if (custom === null) return;
    if (custom) return peer.send(custom);
    switch (m.type) {
      case 'hello':
        peer.send(this.behaviour.hello ?? { type: 'hello', xid: 99, version: 6, versions: [] });
        return;
      case 'features-request':
        peer.send({
          type: 'features-reply',
          xid: m.xid,
          datapathId: 0xc2711fdbb043n,
          nBuffers: 0,
          nTables: 254,
          auxiliaryId: 0,
          capabilities: 0x24f,
        });
        return;
      case 'barrier-request':
        peer.send({ type: 'barrier-reply', xid: m.xid });
        return;
      case 'echo-request':
        peer.send({ type: 'echo-reply', xid: m.xid, data: m.data });
        return;
      default:
        return;
    }
  }
}

const fixtures = new Map(
  (
    JSON.parse(
      fs.readFileSync(path.join(__dirname, '../fixtures/openflow/ovs-3.1-messages.json'), 'utf8'),
    ) as {
      fixtures: { name: string; hex: string }[];
    }
  ).fixtures.map((f) => [f.name, Buffer.from(f.hex, 'hex')]),
);

function once<T>(channel: OpenFlowChannel, event: 'packetIn' | 'switchError' | 'disconnected'): Promise<T> {
  return new Promise((resolve) => channel.once(event, (value: unknown) => resolve(value as T)));
}

describe('OpenFlowChannel (fake switch)', function () {
  this.timeout(10_000);
  let dir: string;
  let fake: FakeSwitch;
  let channel: OpenFlowChannel | undefined;
  let logs: LogLine[];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofch-'));
    fake = new FakeSwitch(path.join(dir, 'br-int.mgmt'));
    await fake.listen();
    logs = [];
  });

  afterEach(async () => {
    await channel?.stop();
    channel = undefined;
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function makeChannel(
    options: { echoIntervalMs?: number; requestTimeoutMs?: number } = {},
  ): OpenFlowChannel {
    channel = new OpenFlowChannel({
      socketPath: fake.socketPath,
      controllerId: 4321,
      logger: recordingLogger(logs),
      minReconnectDelayMs: 10,
      maxReconnectDelayMs: 40,
      ...options,
    });
    return channel;
  }

  it('handshakes: HELLO 1.5 bitmap, controller id, packet-in format 2, miss_send_len, features, barrier', async () => {
    const ch = makeChannel();
    assert.equal(ch.state, 'stopped');
    ch.start();
    await ch.waitUntilConnected(3000);
    assert.equal(ch.isConnected, true);
    assert.equal(ch.state, 'connected');
    assert.equal(ch.datapathId, 0xc2711fdbb043n);
    const sent = fake.last.received.map((m) => m.type);
    assert.deepEqual(sent, [
      'hello',
      'nx-set-controller-id',
      'nx-set-packet-in-format',
      'set-config',
      'features-request',
      'barrier-request',
    ]);
    const [hello, controllerId, format, config] = fake.last.received;
    assert.deepEqual(hello && hello.type === 'hello' && hello.versions, [6]);
    assert.equal(controllerId?.type === 'nx-set-controller-id' && controllerId.controllerId, 4321);
    assert.equal(format?.type === 'nx-set-packet-in-format' && format.format, 2);
    assert.equal(config?.type === 'set-config' && config.missSendLength, 0xffff);
    assert.equal(ch.stats.connects, 1);
  });

  it('delivers NXT_PACKET_IN2 captured from OVS as a PacketIn with metadata and userdata', async () => {
    const ch = makeChannel();
    ch.start();
    await ch.waitUntilConnected(3000);
    const received = once<PacketIn>(ch, 'packetIn');
    fake.last.socket.write(fixtures.get('packet-in2-tcp-syn')!);
    const pin = await received;
    assert.equal(pin.tableId, 45);
    assert.equal(pin.cookie, 0x0600000000001234n);
    assert.equal(pin.metadata.inPort, 1);
    assert.equal(pin.metadata.registers[1], 0xabcd);
    assert.deepEqual([...(pin.userdata ?? [])], [1, 0, 0, 0x12, 0x34]);
    assert.equal(pin.packet.length, 74);
    assert.equal(ch.stats.packetIns, 1);
  });

  it('sends PACKET_OUT with in_port CONTROLLER and the requested output port, or IN_PORT', async () => {
    const ch = makeChannel();
    ch.start();
    await ch.waitUntilConnected(3000);
    const frame = Uint8Array.from({ length: 54 }, (_, i) => i);
    await ch.packetOut(frame, { outPort: 7 });
    await ch.packetOut(frame, { inPort: 3, outPort: 'IN_PORT' });
    const outs = [] as OpenFlowMessage[];
    await fake.waitFor((m) => m.type === 'packet-out' && (outs.push(m), outs.length === 2));
    const [first, second] = fake.last.received.filter((m) => m.type === 'packet-out');
    assert.ok(first?.type === 'packet-out' && second?.type === 'packet-out');
    assert.equal(readPacketMetadata(first.match).inPort, OfpPort.Controller);
    assert.deepEqual(first.actions, [{ type: 'output', port: 7, maxLength: 0 }]);
    assert.deepEqual([...first.packet], [...frame]);
    assert.equal(readPacketMetadata(second.match).inPort, 3);
    assert.deepEqual(second.actions, [{ type: 'output', port: OfpPort.InPort, maxLength: 0 }]);
    await ch.barrier();
  });

  it('answers the switch’s echo requests with the same xid and data', async () => {
    const ch = makeChannel();
    ch.start();
    await ch.waitUntilConnected(3000);
    fake.last.send({ type: 'echo-request', xid: 0x5151, data: Uint8Array.of(7, 7) });
    const reply = await fake.waitFor((m) => m.type === 'echo-reply');
    assert.deepEqual(reply, { type: 'echo-reply', xid: 0x5151, data: Uint8Array.of(7, 7) });
  });

  it('reports a switch ERROR for a packet-out with the request name and error names, and stays connected', async () => {
    fake.behaviour.reply = (m) =>
      m.type === 'packet-out'
        ? {
            type: 'error',
            xid: m.xid,
            version: 6,
            errorType: 2,
            errorCode: 4,
            data: encodeMessage(m).subarray(0, 64),
          }
        : undefined;
    const ch = makeChannel();
    ch.start();
    await ch.waitUntilConnected(3000);
    const reported = once<OpenFlowSwitchError>(ch, 'switchError');
    await ch.packetOut(new Uint8Array(60), { outPort: 99 });
    const error = await reported;
    assert.equal(error.request, 'packet-out');
    assert.equal(error.errorType, 'OFPET_BAD_ACTION');
    assert.equal(error.errorCode, 'OFPBAC_BAD_OUT_PORT');
    const line = logs.find((l) => l.msg === 'switch rejected an OpenFlow request');
    assert.equal(line?.level, 'warn');
    assert.equal(line?.fields['errorCode'], 'OFPBAC_BAD_OUT_PORT');
    assert.equal(ch.isConnected, true);
  });

  it('reconnects after the switch closes the connection and handshakes again', async () => {
    const ch = makeChannel();
    ch.start();
    await ch.waitUntilConnected(3000);
    const disconnected = once<{ reason: string }>(ch, 'disconnected');
    fake.last.socket.destroy();
    await disconnected;
    assert.equal(ch.isConnected, false);
    await assert.rejects(ch.packetOut(new Uint8Array(60), { outPort: 1 }), {
      code: 'OPENFLOW_NOT_CONNECTED',
    });
    await ch.waitUntilConnected(3000);
    assert.equal(ch.stats.connects, 2);
    assert.equal(fake.peers.length, 2);
    assert.equal(fake.last.received.filter((m) => m.type === 'nx-set-controller-id').length, 1);
  });

  it('keeps retrying with backoff while the socket does not exist, then connects', async () => {
    await fake.close();
    fs.rmSync(fake.socketPath, { force: true });
    const ch = makeChannel();
    ch.start();
    await new Promise((r) => setTimeout(r, 200));
    assert.notEqual(ch.state, 'connected');
    const failures = logs.filter((l) => l.msg === 'OpenFlow connection attempt failed; retrying');
    assert.ok(failures.length >= 3, `${failures.length} attempts in 200 ms`);
    assert.equal(failures.filter((l) => l.level === 'warn').length, 1, 'only the first failure is a warning');
    assert.ok(
      failures.every((l) => Number(l.fields['delayMs']) <= 40),
      'delay is capped',
    );
    await fake.listen();
    await ch.waitUntilConnected(3000);
  });

  it('reconnects when the switch stops answering echo requests', async () => {
    fake.behaviour.reply = (m, peer) =>
      m.type === 'echo-request' && peer === fake.peers[0] ? null : undefined;
    const ch = makeChannel({ echoIntervalMs: 30 });
    ch.start();
    await ch.waitUntilConnected(3000);
    const disconnected = once<{ reason: string }>(ch, 'disconnected');
    await disconnected;
    assert.ok(logs.some((l) => l.msg === 'OpenFlow echo unanswered; reconnecting'));
    await ch.waitUntilConnected(3000);
    assert.equal(fake.peers.length, 2);
    // The second peer answers echoes: the connection survives several intervals.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(ch.isConnected, true);
    assert.ok(fake.peers[1]!.received.filter((m) => m.type === 'echo-request').length >= 2);
  });

  it('fails the handshake when the switch rejects the configuration, and retries', async () => {
    fake.behaviour.reply = (m) =>
      m.type === 'nx-set-packet-in-format'
        ? { type: 'error', xid: m.xid, version: 6, errorType: 1, errorCode: 5, data: encodeMessage(m) }
        : undefined;
    const ch = makeChannel();
    ch.start();
    await fake.waitFor(() => fake.peers.length >= 3);
    assert.equal(ch.isConnected, false);
    const failed = logs.find((l) => l.msg === 'OpenFlow handshake failed');
    assert.match(String(failed?.fields['error']), /OFPBRC_EPERM/);
    assert.ok(logs.some((l) => l.fields['request'] === 'nx-set-packet-in-format'));
  });

  it('refuses a switch without OpenFlow 1.5', async () => {
    fake.behaviour.hello = { type: 'hello', xid: 1, version: 4, versions: [1, 4] };
    const ch = makeChannel();
    ch.start();
    await fake.waitFor(() => fake.peers.length >= 2);
    assert.equal(ch.isConnected, false);
    assert.match(
      String(logs.find((l) => l.msg === 'OpenFlow handshake failed')?.fields['error']),
      /OpenFlow 1\.5/,
    );
  });

  it('logs garbage from the switch and keeps delivering packet-ins', async () => {
    const ch = makeChannel();
    ch.start();
    await ch.waitUntilConnected(3000);
    const received = once<PacketIn>(ch, 'packetIn');
    fake.last.socket.write(Buffer.concat([Buffer.from('garbage!'), fixtures.get('packet-in2-udp')!]));
    const pin = await received;
    assert.equal(pin.metadata.inPort, 1);
    assert.ok(logs.some((l) => l.msg === 'OpenFlow stream error' && l.fields['code'] === 'OPENFLOW_GARBAGE'));
    assert.equal(ch.isConnected, true);
    assert.equal(ch.stats.decodeErrors, 1);
  });

  it('stops: closes the connection and does not reconnect', async () => {
    const ch = makeChannel();
    ch.start();
    await ch.waitUntilConnected(3000);
    await ch.stop();
    assert.equal(ch.state, 'stopped');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fake.peers.length, 1);
    assert.equal(fake.last.socket.destroyed || fake.last.socket.readableEnded, true);
  });

  it('rejects an invalid controller id at start', () => {
    const ch = new OpenFlowChannel({
      socketPath: fake.socketPath,
      controllerId: 0,
      logger: recordingLogger([]),
    });
    assert.throws(() => ch.start(), { code: 'OPENFLOW_INVALID_OPTION' });
  });
});
