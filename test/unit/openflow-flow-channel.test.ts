// OpenFlowChannel in OpenFlow 1.3 mode (the flow-programming connection) against a fake switch speaking raw
// OpenFlow 1.3: the handshake asks for no asynchronous messages, transact() streams a batch and returns the reply
// with the errors of the batch's xids, and large batches arrive whole.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../firmware/core/logger';
import {
  BundleControlType,
  encodeBundleAdd,
  encodeBundleControl,
} from '../../firmware/core/openflow/flow-mod';
import { OpenFlowChannel, OpenFlowChannelError } from '../../firmware/ovs/openflow-channel';

interface Received {
  version: number;
  type: number;
  xid: number;
  bytes: Buffer;
}

class RawSwitch {
  received: Received[] = [];
  bytesReceived = 0;
  /** Extra answers before the default one, by request xid. */
  errorsFor = new Map<number, number>();
  private server: net.Server | undefined;
  private sockets: net.Socket[] = [];

  constructor(readonly socketPath: string) {}

  async listen(): Promise<void> {
    this.server = net.createServer((socket) => {
      this.sockets.push(socket);
      socket.on('error', () => undefined);
      let pending = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        this.bytesReceived += chunk.length;
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 8 && pending.length >= pending.readUInt16BE(2)) {
          const length = pending.readUInt16BE(2);
          const bytes = pending.subarray(0, length);
          pending = pending.subarray(length);
          const m = {
            version: bytes[0] as number,
            type: bytes[1] as number,
            xid: bytes.readUInt32BE(4),
            bytes,
          };
          this.received.push(m);
          this.answer(socket, m);
        }
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(this.socketPath, resolve));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private answer(socket: net.Socket, m: Received): void {
    const code = this.errorsFor.get(m.xid);
    if (code !== undefined) {
      // OFPT_ERROR, OFPET_BAD_INSTRUCTION, the code, the start of the request.
      const error = Buffer.alloc(12 + 8);
      error.writeUInt8(4, 0);
      error.writeUInt8(1, 1);
      error.writeUInt16BE(error.length, 2);
      error.writeUInt32BE(m.xid, 4);
      error.writeUInt16BE(3, 8);
      error.writeUInt16BE(code, 10);
      m.bytes.copy(error, 12, 0, 8);
      socket.write(error);
      return;
    }
    const header = (type: number, length: number): Buffer => {
      const b = Buffer.alloc(length);
      b.writeUInt8(4, 0);
      b.writeUInt8(type, 1);
      b.writeUInt16BE(length, 2);
      b.writeUInt32BE(m.xid, 4);
      return b;
    };
    if (m.type === 0) socket.write(Buffer.from([6, 0, 0, 8, 0, 0, 0, 9]));
    else if (m.type === 5) socket.write(header(6, 32));
    else if (m.type === 20) socket.write(header(21, 8));
    else if (m.type === 4 && m.bytes.readUInt32BE(12) === 2300) {
      const reply = Buffer.from(m.bytes);
      reply.writeUInt16BE(m.bytes.readUInt16BE(20) + 1, 20);
      socket.write(reply);
    }
  }
}

function barrier(xid: number): Uint8Array {
  return Uint8Array.from([4, 20, 0, 8, xid >>> 24, (xid >>> 16) & 0xff, (xid >>> 8) & 0xff, xid & 0xff]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

describe('OpenFlowChannel, OpenFlow 1.3 flow-programming connection', () => {
  let dir: string;
  let fake: RawSwitch;
  let channel: OpenFlowChannel;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofch13-'));
    fake = new RawSwitch(path.join(dir, 'br.mgmt'));
    await fake.listen();
    channel = new OpenFlowChannel({
      socketPath: fake.socketPath,
      version: 'OpenFlow13',
      logger: silentLogger,
    });
    channel.start();
    await channel.waitUntilConnected(3000);
  });

  afterEach(async () => {
    await channel.stop();
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('negotiates 1.3 and asks for nothing asynchronous', () => {
    assert.equal(channel.protocolVersion, 0x04);
    const hello = fake.received[0];
    // HELLO version 4 with a version bitmap of only 1.3 (bit 4).
    assert.equal(hello?.version, 4);
    assert.equal(
      hello?.bytes.toString('hex'),
      '04000010' + hello?.bytes.subarray(4, 8).toString('hex') + '0001000800000010',
    );
    // Then FEATURES_REQUEST and BARRIER only, in 1.3: no SET_CONFIG, no Nicira packet-in settings.
    assert.deepEqual(
      fake.received.slice(1).map((m) => [m.version, m.type]),
      [
        [4, 5],
        [4, 20],
      ],
    );
  });

  it('streams a batch and returns the reply with the errors of its xids', async () => {
    const first = channel.allocateXids(4);
    assert.equal(channel.allocateXids(1), first + 4);
    fake.errorsFor.set(first + 1, 2);
    const batch = concat([
      encodeBundleControl(first, 1, BundleControlType.OpenRequest),
      barrier(first + 1),
      barrier(first + 2),
    ]);
    const result = await channel.transact(batch, {
      replyXid: first + 2,
      errorXids: { first, count: 4 },
      what: 'test batch',
    });
    assert.equal(result.reply?.type, 'barrier-reply');
    assert.equal(result.reply?.xid, first + 2);
    assert.deepEqual(
      result.errors.map((e) => [e.xid, e.errorType, e.errorCode]),
      [[first + 1, 'OFPET_BAD_INSTRUCTION', 'OFPBIC_BAD_TABLE_ID']],
    );
    // A bundle control reply (an ONF experimenter message) ends an exchange too.
    const commitXid = first + 3;
    const commit = await channel.transact(
      encodeBundleControl(commitXid, 1, BundleControlType.CommitRequest),
      {
        replyXid: commitXid,
        errorXids: { first: commitXid, count: 1 },
        what: 'commit',
      },
    );
    assert.equal(commit.reply?.type, 'unknown');
    assert.equal(commit.reply?.type === 'unknown' && commit.reply.experimenterType, 2300);
  });

  it('returns an error answering the reply xid instead of throwing', async () => {
    const xid = channel.allocateXids(1);
    fake.errorsFor.set(xid, 2);
    const result = await channel.transact(barrier(xid), {
      replyXid: xid,
      errorXids: { first: xid, count: 1 },
      what: 'b',
    });
    assert.equal(result.reply, undefined);
    assert.equal(result.errors[0]?.xid, xid);
  });

  it('delivers batches larger than the socket buffer whole', async () => {
    const first = channel.allocateXids(100_001);
    const parts: Uint8Array[] = [];
    // Bundle add messages get no answer: only the barrier does.
    for (let i = 0; i < 100_000; i++) parts.push(encodeBundleAdd(first + i, 5, barrier(first + i)));
    parts.push(barrier(first + 100_000));
    const before = fake.bytesReceived;
    const result = await channel.transact(concat(parts), {
      replyXid: first + 100_000,
      errorXids: { first, count: 100_001 },
      what: 'large',
      timeoutMs: 60_000,
    });
    assert.equal(result.reply?.type, 'barrier-reply');
    assert.equal(fake.bytesReceived - before, 100_000 * 32 + 8);
  });

  it('refuses packet-outs and rejects transact when not connected', async () => {
    await assert.rejects(channel.packetOut(new Uint8Array(60), { outPort: 1 }), /OpenFlow 1\.5/);
    await channel.stop();
    await assert.rejects(
      channel.transact(barrier(1), { replyXid: 1, errorXids: { first: 1, count: 1 }, what: 'x' }),
      (err: unknown) => err instanceof OpenFlowChannelError && err.code === 'OPENFLOW_NOT_CONNECTED',
    );
  });
});
