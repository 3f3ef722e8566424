#!/usr/bin/env node
// The CNI plugin executable (antrea-edge-cni). A runtime execs it with CNI_* variables and the network config on
// stdin; it forwards the request to the agent's CNI server and prints the answer as the CNI spec wants it:
// a result (ADD) or nothing (DEL, CHECK) and exit 0, or an error object on stdout and exit 1.
// It runs once per pod operation, so it imports only node:net and the pure spec modules.
import * as net from 'node:net';
import {
  buildRequest,
  declaredCniVersion,
  formatError,
  formatResult,
  parseEnvironment,
  parseWireReply,
  resolveSocketPath,
  resolveTimeoutMs,
  toCniError,
  versionResult,
} from './cni-spec';
import {
  CURRENT_CNI_VERSION,
  CniError,
  CniErrorCode,
  MAX_CNI_REQUEST_BYTES,
  type CniRequest,
  type CniWireReply,
} from './cni-types';

async function main(): Promise<number> {
  let cniVersion = CURRENT_CNI_VERSION;
  try {
    const invocation = parseEnvironment(process.env);
    if (invocation.command === 'VERSION') {
      // stdin is not read: the answer does not depend on it and a runtime may leave it open.
      process.stdout.write(`${JSON.stringify(versionResult())}\n`);
      return 0;
    }
    const stdin = await readStdin(MAX_CNI_REQUEST_BYTES);
    cniVersion = declaredCniVersion(stdin);
    const request = buildRequest(invocation, stdin);
    const reply = await callAgent(
      resolveSocketPath(request.config, process.env),
      request,
      resolveTimeoutMs(process.env),
    );
    if (!reply.ok) throw new CniError(reply.error.code, reply.error.msg, reply.error.details);
    if (request.command === 'ADD') {
      if (!reply.result) {
        throw new CniError(CniErrorCode.Internal, 'the antrea-edge agent answered ADD without a result');
      }
      process.stdout.write(`${JSON.stringify(formatResult(reply.result, cniVersion))}\n`);
    }
    return 0;
  } catch (e) {
    const error = toCniError(e);
    process.stdout.write(`${JSON.stringify(formatError(error, cniVersion))}\n`);
    const details = error.details ? ` (${error.details})` : '';
    process.stderr.write(`antrea-edge-cni: error ${error.code}: ${error.message}${details}\n`);
    return 1;
  }
}

function readStdin(maxBytes: number): Promise<string> {
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
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', (err) => {
      reject(new CniError(CniErrorCode.IoFailure, 'error reading network config from stdin', err.message));
    });
  });
}

/** One request line, one reply line over the agent's unix socket, bounded by `timeoutMs` overall. */
function callAgent(socketPath: string, request: CniRequest, timeoutMs: number): Promise<CniWireReply> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const chunks: Buffer[] = [];
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
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: Buffer) => {
      const newline = chunk.indexOf(0x0a);
      chunks.push(newline === -1 ? chunk : chunk.subarray(0, newline));
      if (newline !== -1) finish();
    });
    socket.on('end', () => finish());
    socket.on('error', (err: NodeJS.ErrnoException) =>
      settle(() => reject(connectionError(socketPath, err))),
    );
    function finish(): void {
      const line = Buffer.concat(chunks).toString('utf8');
      settle(() => {
        if (line === '') {
          reject(
            new CniError(
              CniErrorCode.AgentUnreachable,
              'the antrea-edge agent closed the connection without a reply',
              `socket ${socketPath}`,
            ),
          );
          return;
        }
        try {
          resolve(parseWireReply(line));
        } catch (e) {
          reject(toCniError(e));
        }
      });
    }
  });
}

function connectionError(socketPath: string, err: NodeJS.ErrnoException): CniError {
  // No socket file or nobody listening: the agent is not running yet (boot, restart). The spec's code 11 tells
  // the runtime to retry later instead of treating the pod as misconfigured.
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
    return new CniError(
      CniErrorCode.TryAgainLater,
      'antrea-edge agent is not running or not ready',
      `cannot connect to ${socketPath} (${err.code}); the agent creates this socket when it starts`,
    );
  }
  return new CniError(
    CniErrorCode.AgentUnreachable,
    'cannot talk to the antrea-edge agent',
    `socket ${socketPath}: ${err.code ?? ''} ${err.message}`.trim(),
  );
}

void main().then((status) => {
  process.exitCode = status;
});
