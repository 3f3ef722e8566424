// OVSDB JSON-RPC client (RFC 7047) over ovsdb-server's unix socket. One connection, kept alive with echo
// probes, re-established with capped exponential backoff; monitors survive reconnects (the callback gets
// the fresh initial state, flagged `resync`, so consumers rebuild rather than patch their caches).
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type { Logger } from '../../core/logger';
import { OvsdbConnectionError, OvsdbRpcError, OvsdbTimeoutError, OvsdbTransactionError } from './errors';
import { JsonStreamFramer, type JsonStreamError } from './json-stream';

// ---------------------------------------------------------------------------------------------------------
// OVSDB values (RFC 7047 §5.1)

export type OvsdbUuid = ['uuid', string];
export type OvsdbNamedUuid = ['named-uuid', string];
export type OvsdbAtom = string | number | boolean | OvsdbUuid | OvsdbNamedUuid;
export type OvsdbSet<T extends OvsdbAtom = OvsdbAtom> = ['set', T[]];
export type OvsdbMap<K extends OvsdbAtom = OvsdbAtom, V extends OvsdbAtom = OvsdbAtom> = ['map', [K, V][]];
export type OvsdbValue = OvsdbAtom | OvsdbSet | OvsdbMap;
export type OvsdbRow = Record<string, OvsdbValue>;

export function uuid(id: string): OvsdbUuid {
  return ['uuid', id];
}

/** Refers to a row inserted earlier in the same transaction under `uuid-name`. */
export function namedUuid(name: string): OvsdbNamedUuid {
  return ['named-uuid', name];
}

export function toOvsdbSet<T extends OvsdbAtom>(items: Iterable<T>): OvsdbSet<T> {
  return ['set', [...items]];
}

/** A string→string map (external_ids, options, other_config...), keys sorted so equal maps encode equally. */
export function toOvsdbMap(record: Readonly<Record<string, string>>): OvsdbMap<string, string> {
  return ['map', Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))];
}

export function isOvsdbUuid(value: unknown): value is OvsdbUuid {
  return Array.isArray(value) && value.length === 2 && value[0] === 'uuid' && typeof value[1] === 'string';
}

/** The row id in a `["uuid", id]` value, undefined for anything else. */
export function uuidOf(value: unknown): string | undefined {
  return isOvsdbUuid(value) ? value[1] : undefined;
}

/** The elements of a set column. A set of exactly one element may arrive as the bare atom (RFC 7047 §5.1). */
export function fromOvsdbSet(value: unknown): OvsdbAtom[] {
  if (Array.isArray(value) && value[0] === 'set' && Array.isArray(value[1])) return value[1] as OvsdbAtom[];
  if (value === undefined) return [];
  return [value as OvsdbAtom];
}

/** An optional column (min 0, max 1): `["set", []]` is absent. */
export function fromOvsdbOptional(value: unknown): OvsdbAtom | undefined {
  return fromOvsdbSet(value)[0];
}

/** A map column as a string→string record; uuid values become their id, other atoms their JSON text. */
export function fromOvsdbMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(value) || value[0] !== 'map' || !Array.isArray(value[1])) return out;
  for (const pair of value[1] as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) continue;
    out[atomText(pair[0])] = atomText(pair[1]);
  }
  return out;
}

function atomText(atom: unknown): string {
  if (typeof atom === 'string') return atom;
  const id = uuidOf(atom);
  return id ?? JSON.stringify(atom);
}

// ---------------------------------------------------------------------------------------------------------
// Operations (RFC 7047 §5.2)

export type OvsdbConditionFunction = '<' | '<=' | '==' | '!=' | '>=' | '>' | 'includes' | 'excludes';
export type OvsdbCondition = [column: string, fn: OvsdbConditionFunction, value: OvsdbValue];
export type OvsdbMutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type OvsdbMutation = [column: string, mutator: OvsdbMutator, value: OvsdbValue];

export type OvsdbOperation =
  | { op: 'insert'; table: string; row: OvsdbRow; 'uuid-name'?: string; uuid?: string }
  | { op: 'select'; table: string; where: OvsdbCondition[]; columns?: string[] }
  | { op: 'update'; table: string; where: OvsdbCondition[]; row: OvsdbRow }
  | { op: 'mutate'; table: string; where: OvsdbCondition[]; mutations: OvsdbMutation[] }
  | { op: 'delete'; table: string; where: OvsdbCondition[] }
  | {
      op: 'wait';
      table: string;
      where: OvsdbCondition[];
      columns: string[];
      until: '==' | '!=';
      rows: OvsdbRow[];
      timeout?: number;
    }
  | { op: 'commit'; durable: boolean }
  | { op: 'abort' }
  | { op: 'comment'; comment: string }
  | { op: 'assert'; lock: string };

/** Result shapes of successful operations. */
export interface OvsdbInsertResult {
  uuid: OvsdbUuid;
}
export interface OvsdbSelectResult {
  rows: OvsdbRow[];
}
export interface OvsdbCountResult {
  count: number;
}

// ---------------------------------------------------------------------------------------------------------
// Monitors (RFC 7047 §4.1.5)

export interface MonitorRequest {
  /** Columns to report; all columns when omitted. */
  columns?: string[];
  select?: { initial?: boolean; insert?: boolean; delete?: boolean; modify?: boolean };
}

/** `old` alone: deleted; `new` alone: inserted (or initial); both: modified (`old` holds changed columns). */
export interface RowUpdate {
  old?: OvsdbRow;
  new?: OvsdbRow;
}

/** table name → row uuid → change. */
export type TableUpdates = Record<string, Record<string, RowUpdate>>;

export interface MonitorUpdateInfo {
  /**
   * True when `update` is the complete current state after a reconnect, not a change: rows absent from it
   * no longer exist, so consumers replace their state instead of merging.
   */
  resync: boolean;
}

export type MonitorCallback = (update: TableUpdates, info: MonitorUpdateInfo) => void;

export interface MonitorHandle {
  initial: TableUpdates;
  cancel(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Client

export interface OvsdbClientOptions {
  socketPath: string;
  logger: Logger;
  /** Keep-alive echo period; a connection that sends nothing for a whole period after a probe is dead. */
  echoIntervalMs?: number;
  /** Per-request response timeout. Default 30 s. */
  requestTimeoutMs?: number;
  reconnect?: { initialDelayMs: number; maxDelayMs: number };
  /** Longest JSON message accepted from the server. Default 64 MiB. */
  maxMessageBytes?: number;
}

export interface ReconnectInfo {
  /** 1 for the first retry after a loss or a failed connect, growing until a connect succeeds. */
  attempt: number;
  delayMs: number;
}

export type OvsdbClientEvents = {
  connected: [];
  disconnected: [reason: Error];
  'reconnect-scheduled': [info: ReconnectInfo];
};

export interface OvsdbSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Record<
    string,
    { columns: Record<string, unknown>; maxRows?: number; isRoot?: boolean; indexes?: string[][] }
  >;
}

interface PendingRequest {
  method: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** Runs synchronously when the response arrives, before any later message is handled. */
  onResult: ((result: unknown) => void) | undefined;
}

interface ActiveMonitor {
  readonly id: string;
  readonly db: string;
  readonly tables: Record<string, MonitorRequest>;
  readonly onUpdate: MonitorCallback;
  /** The server has answered the monitor request at least once (it is re-sent after a reconnect). */
  established: boolean;
  /**
   * Updates received before the caller of monitor() has had the initial state: held back so that the
   * callback never sees a change before the state it applies to.
   */
  held: Array<{ update: TableUpdates; info: MonitorUpdateInfo }> | undefined;
}

interface EchoProbe {
  /** Value of rxChunks when the probe was sent (or last seen to progress). */
  rxChunksAtCheck: number;
}

interface JsonRpcMessage {
  id?: unknown;
  method?: unknown;
  params?: unknown;
  result?: unknown;
  error?: unknown;
}

const DEFAULTS = {
  echoIntervalMs: 5000,
  requestTimeoutMs: 30_000,
  reconnect: { initialDelayMs: 250, maxDelayMs: 8000 },
};

export class OvsdbClient extends EventEmitter<OvsdbClientEvents> {
  private readonly logger: Logger;
  private readonly framer: JsonStreamFramer;
  private running = false;
  private firstConnect: Deferred | undefined;
  /** The socket being connected (not yet usable). */
  private connecting: net.Socket | undefined;
  /** The connected socket; requests are written here. */
  private socket: net.Socket | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private outageLogged = false;
  private nextRequestId = 1;
  private nextMonitorId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly monitors = new Map<string, ActiveMonitor>();
  private echoTimer: NodeJS.Timeout | undefined;
  private probe: EchoProbe | undefined;
  private rxChunks = 0;

  constructor(private readonly options: OvsdbClientOptions) {
    super();
    this.logger = options.logger;
    this.framer = new JsonStreamFramer({
      onValue: (value) => this.dispatch(value),
      onError: (error) => this.onFramingError(error),
      maxMessageBytes: options.maxMessageBytes,
    });
  }

  /** Resolves once connected the first time (retrying with backoff until then); reconnects on loss. */
  start(): Promise<void> {
    if (this.running && this.firstConnect) return this.firstConnect.promise;
    this.running = true;
    this.firstConnect = deferred();
    this.connect();
    return this.firstConnect.promise;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopKeepalive();
    const sockets = [this.socket, this.connecting].filter((s): s is net.Socket => s !== undefined);
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.destroyed && s.closed) return resolve();
            s.once('close', () => resolve());
            s.destroy();
          }),
      ),
    );
    this.rejectAllPending(new OvsdbConnectionError('OVSDB client stopped'));
    this.monitors.clear();
    this.firstConnect?.reject(new OvsdbConnectionError('OVSDB client stopped before it connected'));
    this.firstConnect = undefined;
  }

  isConnected(): boolean {
    return this.socket !== undefined;
  }

  async listDbs(): Promise<string[]> {
    const result = await this.request('list_dbs', []);
    if (!Array.isArray(result)) throw new OvsdbRpcError('list_dbs', 'malformed response');
    return result as string[];
  }

  async getSchema(db: string): Promise<OvsdbSchema> {
    return (await this.request('get_schema', [db])) as OvsdbSchema;
  }

  /**
   * Runs the operations as one atomic transaction and returns the per-operation results. Rejects with
   * OvsdbTransactionError when any operation failed or the commit failed (nothing was changed then).
   */
  async transact(
    db: string,
    operations: OvsdbOperation[],
    options?: { timeoutMs?: number },
  ): Promise<unknown[]> {
    const result = await this.request('transact', [db, ...operations], { timeoutMs: options?.timeoutMs });
    if (!Array.isArray(result)) {
      throw new OvsdbRpcError('transact', 'malformed response: result is not an array');
    }
    const results: unknown[] = result;
    const failure = OvsdbTransactionError.fromResults(operations, results);
    if (failure) throw failure;
    return results;
  }

  /** Round trip to the server; resolves with the echoed parameters. */
  async echo(payload: unknown[] = []): Promise<unknown[]> {
    return (await this.request('echo', payload)) as unknown[];
  }

  /**
   * Subscribes to changes of the given tables. Changes reach `onUpdate` only after the caller's
   * continuation of the returned promise has run, so the initial state can be applied first. After a
   * reconnect the monitor is re-established and `onUpdate` receives the full current state with
   * `{ resync: true }`.
   */
  async monitor(
    db: string,
    tables: Record<string, MonitorRequest>,
    onUpdate: MonitorCallback,
  ): Promise<MonitorHandle> {
    const monitor: ActiveMonitor = {
      id: `monitor-${this.nextMonitorId++}`,
      db,
      tables,
      onUpdate,
      established: false,
      held: [],
    };
    this.monitors.set(monitor.id, monitor);
    let initial: TableUpdates;
    try {
      initial = (await this.request('monitor', [db, monitor.id, tables], {
        onResult: () => {
          monitor.established = true;
        },
      })) as TableUpdates;
    } catch (err) {
      this.monitors.delete(monitor.id);
      throw err;
    }
    // A macrotask runs after the awaiting caller's continuation (a microtask) has consumed `initial`.
    setImmediate(() => this.releaseHeld(monitor));
    return { initial, cancel: () => this.cancelMonitor(monitor) };
  }

  // -------------------------------------------------------------------------------------------------------

  private connect(): void {
    this.reconnectTimer = undefined;
    if (!this.running) return;
    const socket = net.createConnection({ path: this.options.socketPath });
    this.connecting = socket;
    let lastError: Error | undefined;
    socket.on('error', (err) => {
      lastError = err;
    });
    socket.once('connect', () => this.onSocketConnected(socket));
    socket.once('close', () => this.onSocketClosed(socket, lastError));
  }

  private onSocketConnected(socket: net.Socket): void {
    this.connecting = undefined;
    if (!this.running) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    this.framer.reset();
    this.reconnectAttempt = 0;
    this.outageLogged = false;
    socket.on('data', (chunk: Buffer) => {
      this.rxChunks++;
      this.framer.push(chunk);
    });
    this.startKeepalive();
    this.logger.info('connected to ovsdb-server', { socket: this.options.socketPath });
    void this.resubscribe(socket);
  }

  private async resubscribe(socket: net.Socket): Promise<void> {
    const monitors = [...this.monitors.values()].filter((m) => m.established);
    await Promise.all(
      monitors.map(async (monitor) => {
        try {
          await this.request('monitor', [monitor.db, monitor.id, monitor.tables], {
            onResult: (state) => this.deliver(monitor, state as TableUpdates, { resync: true }),
          });
        } catch (err) {
          if (this.socket !== socket) return; // lost again; the next connection retries
          this.logger.error('could not re-establish OVSDB monitor; dropping it', {
            monitor: monitor.id,
            db: monitor.db,
            error: err,
          });
          this.monitors.delete(monitor.id);
        }
      }),
    );
    if (this.socket !== socket) return;
    this.emit('connected');
    this.firstConnect?.resolve();
  }

  private onSocketClosed(socket: net.Socket, error: Error | undefined): void {
    if (socket === this.connecting) {
      this.connecting = undefined;
      const message = `cannot connect to ovsdb-server at ${this.options.socketPath}: ${error?.message ?? 'closed'}`;
      if (!this.outageLogged) this.logger.warn(message);
      else this.logger.debug(message);
      this.outageLogged = true;
      this.scheduleReconnect();
      return;
    }
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.stopKeepalive();
    this.framer.reset();
    const reason = new OvsdbConnectionError(
      `connection to ovsdb-server lost${error ? `: ${error.message}` : ''}`,
      error ? { cause: error } : undefined,
    );
    this.rejectAllPending(reason);
    if (this.running) this.logger.warn('disconnected from ovsdb-server', { error: reason });
    this.outageLogged = true;
    this.emit('disconnected', reason);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    const { initialDelayMs, maxDelayMs } = this.options.reconnect ?? DEFAULTS.reconnect;
    const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** this.reconnectAttempt);
    this.reconnectAttempt++;
    this.emit('reconnect-scheduled', { attempt: this.reconnectAttempt, delayMs });
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  private startKeepalive(): void {
    const interval = this.options.echoIntervalMs ?? DEFAULTS.echoIntervalMs;
    if (interval <= 0) return;
    this.probe = undefined;
    this.echoTimer = setInterval(() => this.checkAlive(), interval);
  }

  private stopKeepalive(): void {
    clearInterval(this.echoTimer);
    this.echoTimer = undefined;
    this.probe = undefined;
  }

  /**
   * Like OVS's own reconnect FSM: a probe is outstanding for a whole period with nothing at all received →
   * dead. Receiving other traffic (e.g. a large monitor update queued ahead of the echo reply) counts as alive.
   */
  private checkAlive(): void {
    const socket = this.socket;
    if (!socket) return;
    if (this.probe) {
      if (this.rxChunks === this.probe.rxChunksAtCheck) {
        const interval = this.options.echoIntervalMs ?? DEFAULTS.echoIntervalMs;
        this.logger.warn('ovsdb-server did not answer the keep-alive echo; reconnecting', {
          intervalMs: interval,
        });
        socket.destroy(new OvsdbTimeoutError('echo', interval));
      } else {
        this.probe.rxChunksAtCheck = this.rxChunks;
      }
      return;
    }
    const probe: EchoProbe = { rxChunksAtCheck: this.rxChunks };
    this.probe = probe;
    this.request('echo', ['keepalive'], { timeoutMs: 0 }).then(
      () => {
        if (this.probe === probe) this.probe = undefined;
      },
      () => undefined, // connection loss is handled by the close handler
    );
  }

  private request(
    method: string,
    params: unknown[],
    options?: { timeoutMs?: number | undefined; onResult?: (result: unknown) => void },
  ): Promise<unknown> {
    const socket = this.socket;
    if (!socket) {
      return Promise.reject(new OvsdbConnectionError(`not connected to ovsdb-server (${method})`));
    }
    const id = this.nextRequestId++;
    const timeoutMs = options?.timeoutMs ?? this.options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
    return new Promise<unknown>((resolve, reject) => {
      const entry: PendingRequest = {
        method,
        resolve,
        reject,
        timer: undefined,
        onResult: options?.onResult,
      };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new OvsdbTimeoutError(method, timeoutMs));
        }, timeoutMs);
      }
      this.pending.set(id, entry);
      socket.write(JSON.stringify({ id, method, params }));
    });
  }

  private dispatch(value: unknown): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.logger.warn('ignoring OVSDB message that is not a JSON-RPC object');
      return;
    }
    const message = value as JsonRpcMessage;
    if (typeof message.method === 'string') {
      if (message.id === null || message.id === undefined)
        this.onNotification(message.method, message.params);
      else this.onServerRequest(message.id, message.method, message.params);
      return;
    }
    if (typeof message.id !== 'number') {
      this.logger.debug('ignoring OVSDB response with an id we never used', { id: message.id });
      return;
    }
    const entry = this.pending.get(message.id);
    if (!entry) {
      this.logger.debug('ignoring late OVSDB response', { id: message.id });
      return;
    }
    this.pending.delete(message.id);
    clearTimeout(entry.timer);
    if (message.error !== null && message.error !== undefined) {
      entry.reject(new OvsdbRpcError(entry.method, message.error));
      return;
    }
    try {
      entry.onResult?.(message.result);
    } catch (err) {
      this.logger.error('OVSDB response handler failed', { method: entry.method, error: err });
    }
    entry.resolve(message.result);
  }

  private onServerRequest(id: unknown, method: string, params: unknown): void {
    if (method === 'echo') {
      this.send({ id, result: params, error: null });
      return;
    }
    this.logger.warn('ovsdb-server sent an unsupported request', { method });
    this.send({ id, result: null, error: { error: 'not supported', details: `method ${method}` } });
  }

  private onNotification(method: string, params: unknown): void {
    if (method !== 'update') {
      this.logger.debug('ignoring OVSDB notification', { method });
      return;
    }
    if (!Array.isArray(params) || params.length !== 2) {
      this.logger.warn('ignoring malformed OVSDB update notification');
      return;
    }
    const monitor = this.monitors.get(String(params[0]));
    if (!monitor) return; // cancelled; the server may still have had updates in flight
    this.deliver(monitor, params[1] as TableUpdates, { resync: false });
  }

  private deliver(monitor: ActiveMonitor, update: TableUpdates, info: MonitorUpdateInfo): void {
    if (monitor.held) {
      monitor.held.push({ update, info });
      return;
    }
    this.invokeMonitor(monitor, update, info);
  }

  private releaseHeld(monitor: ActiveMonitor): void {
    const held = monitor.held ?? [];
    monitor.held = undefined;
    if (!this.monitors.has(monitor.id)) return;
    for (const { update, info } of held) this.invokeMonitor(monitor, update, info);
  }

  private invokeMonitor(monitor: ActiveMonitor, update: TableUpdates, info: MonitorUpdateInfo): void {
    try {
      monitor.onUpdate(update, info);
    } catch (err) {
      this.logger.error('OVSDB monitor callback failed', { monitor: monitor.id, error: err });
    }
  }

  private async cancelMonitor(monitor: ActiveMonitor): Promise<void> {
    if (!this.monitors.delete(monitor.id)) return;
    if (!this.socket) return; // nothing to cancel on the server: the next connection will not re-create it
    try {
      await this.request('monitor_cancel', [monitor.id]);
    } catch (err) {
      if (err instanceof OvsdbConnectionError) return;
      throw err;
    }
  }

  private send(message: unknown): void {
    this.socket?.write(JSON.stringify(message));
  }

  private rejectAllPending(error: Error): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
  }

  private onFramingError(error: JsonStreamError): void {
    this.logger.warn('dropped malformed input from ovsdb-server', {
      code: error.code,
      error: error.message,
      droppedBytes: error.droppedBytes,
    });
    if (error.code === 'JSON_STREAM_OVERSIZE') {
      // A skipped response leaves its request unanswered; start over on a fresh connection.
      this.socket?.destroy(error);
    }
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejected only by stop(); whoever awaits start() still sees the rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
