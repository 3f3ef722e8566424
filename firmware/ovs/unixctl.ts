// ovs-vswitchd's control socket (what ovs-appctl talks to): JSON-RPC over a unix socket, one request per
// connection. Used where an ovs-appctl process per call would cost more than the call itself.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { JsonStreamFramer } from './ovsdb/json-stream';

export class UnixctlError extends Error {
  override readonly name = 'UnixctlError';
  constructor(
    readonly code: 'UNIXCTL_UNREACHABLE' | 'UNIXCTL_TIMEOUT' | 'UNIXCTL_FAILED',
    message: string,
  ) {
    super(message);
  }
}

/** `<runDir>/ovs-vswitchd.ctl` when it exists (private test instances), else `ovs-vswitchd.<pid>.ctl`. */
export async function vswitchdControlSocket(ovsRunDir: string): Promise<string> {
  const runDir = path.resolve(ovsRunDir);
  const fixed = path.join(runDir, 'ovs-vswitchd.ctl');
  if (fs.existsSync(fixed)) return fixed;
  const pid = (await fs.promises.readFile(path.join(runDir, 'ovs-vswitchd.pid'), 'utf8')).trim();
  return path.join(runDir, `ovs-vswitchd.${pid}.ctl`);
}

/** Runs one unixctl command and resolves with its text result (rejects with the daemon's error text). */
export function unixctlCall(
  socketPath: string,
  method: string,
  params: readonly string[] = [],
  timeoutMs = 5_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let settled = false;
    const finish = (error: UnixctlError | undefined, result?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(result ?? '');
    };
    const timer = setTimeout(
      () =>
        finish(
          new UnixctlError('UNIXCTL_TIMEOUT', `${method}: no answer from ${socketPath} in ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    const framer = new JsonStreamFramer({
      onValue: (value) => {
        const reply = value as { result?: unknown; error?: unknown };
        if (reply.error !== null && reply.error !== undefined) {
          const text = typeof reply.error === 'string' ? reply.error : JSON.stringify(reply.error);
          finish(new UnixctlError('UNIXCTL_FAILED', `${method}: ${text.trim()}`));
        } else {
          finish(undefined, typeof reply.result === 'string' ? reply.result : '');
        }
      },
      onError: (error) => finish(new UnixctlError('UNIXCTL_FAILED', `${method}: ${error.message}`)),
    });
    socket.on('connect', () => {
      socket.write(JSON.stringify({ id: 0, method, params }));
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('error', (error) =>
      finish(new UnixctlError('UNIXCTL_UNREACHABLE', `${method}: ${socketPath}: ${error.message}`)),
    );
    socket.on('close', () =>
      finish(new UnixctlError('UNIXCTL_UNREACHABLE', `${method}: ${socketPath} closed without an answer`)),
    );
  });
}
