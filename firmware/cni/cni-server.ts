// The agent's end of the CNI plugin: a unix socket server that receives each plugin invocation as forwarded by
// the plugin executable (environment + stdin, one newline-terminated JSON line per connection), runs the CNI
// spec's steps on it (cni-spec.ts executeInvocation), serialises work per container ID, and answers with the
// exit status and the exact stdout the plugin prints. The handler (IPAM, OVS ports and flows, pod plumbing)
// lives in the agent.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Logger } from '../core/logger';
import { encodeWireReply, errorOutput, executeInvocation, parseWireRequest, toCniError } from './cni-spec';
import {
  CURRENT_CNI_VERSION,
  CniError,
  CniErrorCode,
  MAX_CNI_WIRE_REQUEST_BYTES,
  type CniPluginOutput,
  type CniRequest,
  type CniResult,
  type RawCniInvocation,
} from './cni-types';

export interface CniHandler {
  add(req: CniRequest): Promise<CniResult>;
  del(req: CniRequest): Promise<void>;
  check(req: CniRequest): Promise<void>;
}

export interface CniServerOptions {
  socketPath: string;
  handler: CniHandler;
  logger: Logger;
  /** Request lines longer than this are answered with code 5 and dropped. Default MAX_CNI_WIRE_REQUEST_BYTES. */
  maxRequestBytes?: number;
  /** A client that has not finished its request line after this long is disconnected. Default 10 s. */
  requestReadTimeoutMs?: number;
}

export type CniServerErrorCode =
  'CNI_SOCKET_IN_USE' | 'CNI_SOCKET_PATH_NOT_SOCKET' | 'CNI_SERVER_LISTEN_FAILED';

export class CniServerError extends Error {
  override readonly name = 'CniServerError';
  constructor(
    readonly code: CniServerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_REQUEST_READ_TIMEOUT_MS = 10_000;

export class CniServer {
  private readonly logger: Logger;
  private server: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  /** Connections that have not delivered a complete request yet: safe to drop on stop(). */
  private readonly idleConnections = new Set<net.Socket>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly perContainer = new KeyedSerializer();

  constructor(private readonly options: CniServerOptions) {
    this.logger = options.logger.child({ component: 'cni-server' });
  }

  async start(): Promise<void> {
    if (this.server) return;
    const { socketPath } = this.options;
    await fs.promises.mkdir(path.dirname(socketPath), { recursive: true });
    await removeStaleSocket(socketPath);
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new CniServerError('CNI_SERVER_LISTEN_FAILED', `cannot listen on ${socketPath}: ${err.message}`),
        );
      };
      server.once('error', onError);
      server.listen(socketPath, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error('CNI socket error', { err }));
    // The plugin runs as root (kubelet); nobody else may ask us to plumb pods.
    await fs.promises.chmod(socketPath, 0o600);
    this.server = server;
    this.logger.info('CNI server listening', { socketPath });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.idleConnections) socket.destroy();
    this.idleConnections.clear();
    // Requests already handed to the handler finish and get their reply: aborting one mid-way would leave
    // half-plumbed pods that only a later DEL could clean up.
    await Promise.allSettled([...this.inFlight]);
    // A client that keeps its end open after the reply must not hold stop() forever.
    for (const socket of this.connections) socket.destroy();
    await closed;
    await fs.promises.rm(this.options.socketPath, { force: true });
    this.logger.info('CNI server stopped');
  }

  private accept(socket: net.Socket): void {
    const maxBytes = this.options.maxRequestBytes ?? MAX_CNI_WIRE_REQUEST_BYTES;
    this.connections.add(socket);
    this.idleConnections.add(socket);
    socket.setTimeout(this.options.requestReadTimeoutMs ?? DEFAULT_REQUEST_READ_TIMEOUT_MS);
    const chunks: Buffer[] = [];
    let received = 0;
    let reading = true;
    const finishReading = (): void => {
      reading = false;
      socket.setTimeout(0);
      this.idleConnections.delete(socket);
    };
    const serveReceived = (): void => {
      finishReading();
      this.track(this.serve(socket, Buffer.concat(chunks).toString('utf8')));
    };
    socket.on('data', (chunk: Buffer) => {
      if (!reading) return;
      const newline = chunk.indexOf(0x0a);
      const part = newline === -1 ? chunk : chunk.subarray(0, newline);
      received += part.length;
      if (received > maxBytes) {
        finishReading();
        const tooLarge = new CniError(CniErrorCode.IoFailure, `CNI request exceeds ${maxBytes} bytes`);
        this.logger.warn('CNI request too large; rejected', { maxBytes });
        this.track(this.reply(socket, errorOutput(tooLarge, CURRENT_CNI_VERSION)));
        return;
      }
      chunks.push(part);
      if (newline !== -1) serveReceived();
    });
    // A client that half-closes instead of sending the newline still gets its answer.
    socket.on('end', () => {
      if (!reading) return;
      if (received > 0) serveReceived();
      else socket.destroy();
    });
    socket.on('timeout', () => {
      this.logger.warn('CNI client sent no complete request in time; disconnecting');
      socket.destroy();
    });
    socket.on('close', () => {
      this.idleConnections.delete(socket);
      this.connections.delete(socket);
    });
    socket.on('error', (err) => this.logger.debug('CNI client connection error', { err }));
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async serve(socket: net.Socket, line: string): Promise<void> {
    let raw: RawCniInvocation;
    try {
      raw = parseWireRequest(line);
    } catch (e) {
      this.logger.warn('malformed CNI request', { err: e });
      await this.reply(socket, errorOutput(toCniError(e), CURRENT_CNI_VERSION));
      return;
    }
    const fields = {
      command: raw.env.CNI_COMMAND,
      containerId: raw.env.CNI_CONTAINERID,
      ifName: raw.env.CNI_IFNAME,
    };
    const started = Date.now();
    const outcome = await executeInvocation(raw, (request) =>
      this.perContainer.run(request.containerId, () => this.dispatch(request)),
    );
    const ms = Date.now() - started;
    if (outcome.error) {
      const { code, message, details } = outcome.error;
      // Rejected before the handler ran: the runtime or its config is at fault, not the agent.
      const handled = outcome.request !== undefined;
      this.logger.warn(handled ? 'CNI request failed' : 'CNI request rejected', {
        ...fields,
        ms,
        code,
        msg: message,
        details,
        err: outcome.thrown,
      });
    } else if (outcome.request) {
      this.logger.info('CNI request done', { ...fields, ms });
    }
    if (socket.destroyed) {
      this.logger.warn('CNI client went away before the reply', fields);
      return;
    }
    await this.reply(socket, outcome.output);
  }

  private async dispatch(request: CniRequest): Promise<CniResult | undefined> {
    const { handler } = this.options;
    switch (request.command) {
      case 'ADD':
        return handler.add(request);
      case 'DEL':
        await handler.del(request);
        return undefined;
      case 'CHECK':
        await handler.check(request);
        return undefined;
    }
  }

  /** Resolves once the reply reached the kernel (or the client is gone), so stop() never cuts one short. */
  private reply(socket: net.Socket, output: CniPluginOutput): Promise<void> {
    return new Promise((resolve) => {
      if (socket.destroyed) {
        resolve();
        return;
      }
      socket.once('close', () => resolve());
      socket.end(encodeWireReply(output), () => resolve());
    });
  }
}

/**
 * Removes a socket file left by a previous agent that died, but refuses to steal the socket of one still
 * answering, and never deletes something that is not a socket.
 */
async function removeStaleSocket(socketPath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.lstat(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!stat.isSocket()) {
    throw new CniServerError('CNI_SOCKET_PATH_NOT_SOCKET', `${socketPath} exists and is not a socket`);
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.createConnection(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) {
    throw new CniServerError('CNI_SOCKET_IN_USE', `another process is serving ${socketPath}`);
  }
  await fs.promises.rm(socketPath, { force: true });
}

/** Runs tasks with the same key one after another (a DEL racing an ADD of the same container waits for it). */
class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
