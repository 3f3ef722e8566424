// What `ovs-ofctl -O OpenFlow13 --bundle add-flows` sends for a bundle file: a fake OpenFlow 1.3 switch on a unix
// socket answers ovs-ofctl (HELLO, TABLE_FEATURES with one bare table, bundle control replies, barriers, echoes)
// and records the message inside every ONFT_BUNDLE_ADD_MESSAGE. Used to check flow-mod.ts byte for byte against
// the reference encoder.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface OfctlCapture {
  exitCode: number | null;
  stderr: string;
  /** The flow mods ovs-ofctl put in the bundle, in order (each exactly as sent, xid included). */
  flowMods: Buffer[];
  /** The bundle add messages themselves. */
  bundleAdds: Buffer[];
}

export async function captureOfctlBundle(dir: string, lines: readonly string[]): Promise<OfctlCapture> {
  const socketPath = path.join(dir, `fake-switch-${process.pid}-${Date.now()}.sock`);
  const flowMods: Buffer[] = [];
  const bundleAdds: Buffer[] = [];
  const server = net.createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.write(Buffer.from([0x04, 0, 0, 8, 0, 0, 0, 1]));
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8) {
        const length = pending.readUInt16BE(2);
        if (pending.length < length) break;
        const message = pending.subarray(0, length);
        pending = pending.subarray(length);
        answer(socket, message, flowMods, bundleAdds);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  try {
    return await new Promise<OfctlCapture>((resolve, reject) => {
      const child = spawn(
        'ovs-ofctl',
        ['-O', 'OpenFlow13', '--no-names', '--bundle', 'add-flows', `unix:${socketPath}`, '-'],
        { stdio: ['pipe', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (exitCode) => resolve({ exitCode, stderr, flowMods, bundleAdds }));
      child.stdin.end(`${lines.join('\n')}\n`);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(socketPath, { force: true });
  }
}

function answer(socket: net.Socket, message: Buffer, flowMods: Buffer[], bundleAdds: Buffer[]): void {
  const type = message[1];
  const xid = message.subarray(4, 8);
  if (type === 4 && message.readUInt32BE(8) === 0x4f4e4600) {
    const subtype = message.readUInt32BE(12);
    if (subtype === 2300) {
      const reply = Buffer.from(message);
      reply.writeUInt16BE(message.readUInt16BE(20) + 1, 20);
      socket.write(reply);
    } else if (subtype === 2301) {
      bundleAdds.push(Buffer.from(message));
      flowMods.push(Buffer.from(message.subarray(24)));
    }
  } else if (type === 20) {
    socket.write(Buffer.concat([Buffer.from([0x04, 21, 0, 8]), xid]));
  } else if (type === 2) {
    const reply = Buffer.from(message);
    reply[1] = 3;
    socket.write(reply);
  } else if (type === 18) {
    // OFPMP_TABLE_FEATURES reply with one table and no properties: enough for ovs-ofctl --no-names.
    const reply = Buffer.alloc(80);
    reply[0] = 0x04;
    reply[1] = 19;
    reply.writeUInt16BE(80, 2);
    xid.copy(reply, 4);
    reply.writeUInt16BE(message.readUInt16BE(8), 8);
    reply.writeUInt16BE(64, 16);
    socket.write(reply);
  }
}
