#!/usr/bin/env node
// The CNI plugin executable in TypeScript: the portable fallback for firmware/cni/shim/antrea-edge-cni.c (images
// built where no C compiler for the target exists). Like the shim it only forwards: environment and stdin go to
// the agent's CNI server, which runs the spec's logic, and the answer's bytes are printed and its status returned.
// Only VERSION and the errors of reaching the agent are answered here, with exactly the shim's output; the
// integration test runs every case through both and compares them.
import * as net from 'node:net';
import {
  encodeWireRequest,
  errorOutput,
  parseWireReplyHeader,
  peekNetConf,
  resolveSocketPath,
  resolveTimeoutMs,
  toCniError,
  versionResult,
} from './cni-spec';
import {
  CURRENT_CNI_VERSION,
  CniError,
  CniErrorCode,
  MAX_CNI_CONFIG_BYTES,
  MAX_CNI_WIRE_REPLY_BYTES,
} from './cni-types';

/** sun_path holds 108 bytes including the terminating NUL; libuv would silently truncate a longer path. */
const MAX_SOCKET_PATH_BYTES = 107;
const STDERR_PREFIX = Buffer.from('antrea-edge-cni: ');

async function main(): Promise<number> {
  if (process.env.CNI_COMMAND === 'VERSION') {
    // stdin is not read: the answer does not depend on it and a runtime may leave it open.
    return print({ exitCode: 0, stdout: `${JSON.stringify(versionResult())}\n` });
  }
  let cniVersion = CURRENT_CNI_VERSION;
  try {
    const stdin = (await readStdin(MAX_CNI_CONFIG_BYTES)).toString('utf8');
    const peek = peekNetConf(stdin);
    cniVersion = peek.cniVersion;
    const socketPath = resolveSocketPath(peek, process.env);
    const timeoutMs = resolveTimeoutMs(process.env);
    const answer = splitReply(await callAgent(socketPath, encodeWireRequest(process.env, stdin), timeoutMs));
    // The error object goes to stdout for the runtime; a copy on stderr is for whoever runs the plugin by hand.
    if (answer.exitCode !== 0) process.stderr.write(Buffer.concat([STDERR_PREFIX, answer.stdout]));
    return await print(answer);
  } catch (e) {
    const error = toCniError(e);
    const details = error.details ? ` (${error.details})` : '';
    process.stderr.write(`antrea-edge-cni: error ${error.code}: ${error.message}${details}\n`);
    return print(errorOutput(error, cniVersion));
  }
}

/** Writes the answer's bytes; exits 1 when stdout is gone, since the runtime then never saw the answer. */
function print(output: { exitCode: number; stdout: string | Buffer }): Promise<number> {
  if (output.stdout.length === 0) return Promise.resolve(output.exitCode);
  return new Promise((resolve) => {
    process.stdout.once('error', () => resolve(1));
    process.stdout.write(output.stdout, (err) => resolve(err ? 1 : output.exitCode));
  });
}

function readStdin(maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    process.stdin.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        process.stdin.destroy();
        reject(new CniError(CniErrorCode.IoFailure, `network config on stdin exceeds ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        new CniError(CniErrorCode.IoFailure, 'error reading network config from stdin', err.code ?? 'EIO'),
      );
    });
  });
}

function splitReply(reply: Buffer): { exitCode: number; stdout: Buffer } {
  const newline = reply.indexOf(0x0a);
  const exitCode =
    newline === -1 ? undefined : parseWireReplyHeader(reply.subarray(0, newline).toString('latin1'));
  if (exitCode === undefined) {
    throw malformedReply(
      reply.length === 0
        ? 'the agent closed the connection without a reply'
        : 'the reply does not start with {"exitCode":N}',
    );
  }
  return { exitCode, stdout: reply.subarray(newline + 1) };
}

/** Sends the request and reads the reply until the agent closes, all within `timeoutMs`. */
function callAgent(socketPath: string, request: string, timeoutMs: number): Promise<Buffer> {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    return Promise.reject(cannotConnect(socketPath, 'ENAMETOOLONG'));
  }
  if (socketPath.includes('\0')) return Promise.reject(cannotConnect(socketPath, 'EINVAL'));
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const chunks: Buffer[] = [];
    let size = 0;
    let connected = false;
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      outcome();
    };
    const timer = setTimeout(() => {
      settle(() =>
        reject(
          new CniError(
            CniErrorCode.AgentUnreachable,
            'the antrea-edge agent did not answer in time',
            `no reply on ${socketPath} within ${timeoutMs} ms; the operation may still complete in the agent`,
          ),
        ),
      );
    }, timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_CNI_WIRE_REPLY_BYTES) {
        settle(() => reject(malformedReply(`the reply exceeds ${MAX_CNI_WIRE_REPLY_BYTES} bytes`)));
        return;
      }
      chunks.push(chunk);
    });
    socket.on('end', () => settle(() => resolve(Buffer.concat(chunks))));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'EIO';
      settle(() =>
        reject(
          connected
            ? new CniError(
                CniErrorCode.AgentUnreachable,
                'lost the connection to the antrea-edge agent',
                `socket ${socketPath}: ${code}`,
              )
            : cannotConnect(socketPath, code),
        ),
      );
    });
  });
}

function cannotConnect(socketPath: string, code: string): CniError {
  // No socket file or nobody listening: the agent is not running yet (boot, restart). The spec's code 11 tells
  // the runtime to retry later instead of treating the pod as misconfigured.
  if (code === 'ENOENT' || code === 'ECONNREFUSED') {
    return new CniError(
      CniErrorCode.TryAgainLater,
      'antrea-edge agent is not running or not ready',
      `cannot connect to ${socketPath} (${code}); the agent creates this socket when it starts`,
    );
  }
  return new CniError(
    CniErrorCode.AgentUnreachable,
    'cannot talk to the antrea-edge agent',
    `cannot connect to ${socketPath} (${code})`,
  );
}

function malformedReply(details: string): CniError {
  return new CniError(CniErrorCode.AgentUnreachable, 'malformed reply from the antrea-edge agent', details);
}

void main().then((status) => {
  process.exitCode = status;
});
