// The agent's own OpenFlow connections to a bridge (`<rundir>/<bridge>.mgmt`). In OpenFlow 1.5 (the default) it
// carries packet-ins (Reject, audit logging, Traceflow) and packet-outs. In OpenFlow 1.3 it is a flow-programming
// connection: no packet-in subscription, and pre-encoded messages (bundles of flow mods, see
// openflow-flow-writer.ts) go out with `transact()`. Flows need 1.3 because OVS prints a flow back the way it
// arrived, and NXAST_REG_LOAD (`load:`) exists only up to OpenFlow 1.4.
//
// What OVS 3.1 needs before it sends anything (measured, see PLATFORM.md): a connection to the mgmt socket gets
// no asynchronous messages until it sends SET_CONFIG with miss_send_len > 0; `controller(userdata=..)` arrives
// only as NXT_PACKET_IN2, selected with NXT_SET_PACKET_IN_FORMAT; `controller(id=N)` reaches only connections
// that sent NXT_SET_CONTROLLER_ID(N). The handshake therefore is HELLO (OpenFlow 1.5 only), then those three,
// FEATURES_REQUEST and a BARRIER; the channel counts as connected when the barrier is answered without error.
//
// The connection is kept alive with echo requests when it is idle and re-established with capped exponential
// backoff after any loss (ovs-vswitchd restarts close the socket; while it is down, connecting fails).
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type { Logger } from '../core/logger';
import {
  OFPCML_NO_BUFFER,
  OFP_VERSION_1_5,
  OfpType,
  PacketInFormat,
  ofpTypeName,
  packetInReasonName,
} from '../core/openflow/constants';
import { OpenFlowCodecError, errorCodeName, errorTypeName } from '../core/openflow/errors';
import { OpenFlowFramer } from '../core/openflow/framer';
import {
  decodeMessage,
  encodeMessage,
  packetOutMessage,
  setFieldAction,
  readHeader,
  type ErrorMessage,
  type OpenFlowMessage,
  type PacketInFields,
  type PacketOutTarget,
} from '../core/openflow/messages';
import {
  readPacketMetadata,
  registerField,
  tunnelIpv4DstField,
  type OxmField,
  type PacketMetadata,
} from '../core/openflow/oxm';

export type { PacketOutTarget } from '../core/openflow/messages';

/** Pipeline fields a packet-out sets before the first table (with `outPort` TABLE). */
export interface PacketOutOptions {
  /** Register number → 32-bit value, e.g. Traceflow's mark `{ 7: tag }`. */
  registers?: Readonly<Record<number, number>>;
  /** `tun_dst` of the packet, for output to a flow-based tunnel port (remote_ip=flow). */
  tunnelDst?: string;
}

/** A packet-in as handlers see it. */
export interface PacketIn {
  /** The frame (whole, unless the flow's max_len truncated it: compare with fullLength). */
  packet: Uint8Array;
  fullLength: number;
  /** The table holding the flow with the controller action. */
  tableId: number;
  /** That flow's cookie (NO_COOKIE when OVS sent none). */
  cookie: bigint;
  reason: number;
  /** `controller(userdata=..)`, when the flow set any. */
  userdata: Uint8Array | undefined;
  /** in_port, reg0..reg15, tunnel and conntrack fields, with masks applied. */
  metadata: PacketMetadata;
  /** The metadata OXM fields as received. */
  metadataFields: OxmField[];
}

export type OpenFlowConnectionState =
  /** start() has not been called, or stop() has. */
  | 'stopped'
  /** Opening the socket. */
  | 'connecting'
  /** Socket open; HELLO and configuration sent, waiting for the barrier reply. */
  | 'handshaking'
  /** Configured: packet-ins flow, packet-outs are accepted. */
  | 'connected'
  /** Waiting before the next connection attempt. */
  | 'backoff';

export interface OpenFlowSwitchError {
  /** The request the switch rejected ("packet-out", "set-config", ...), when the xid is still known. */
  request: string | undefined;
  xid: number;
  errorType: string;
  errorCode: string;
  message: ErrorMessage;
}

export type OpenFlowChannelEvents = {
  packetIn: [packetIn: PacketIn];
  connected: [info: { datapathId: bigint }];
  disconnected: [info: { reason: string }];
  /** An OFPT_ERROR from the switch (also logged). */
  switchError: [error: OpenFlowSwitchError];
};

export type OpenFlowChannelErrorCode =
  | 'OPENFLOW_NOT_CONNECTED'
  | 'OPENFLOW_CONNECTION_LOST'
  | 'OPENFLOW_TIMEOUT'
  | 'OPENFLOW_REJECTED'
  | 'OPENFLOW_STOPPED'
  | 'OPENFLOW_INVALID_OPTION';

export class OpenFlowChannelError extends Error {
  override readonly name = 'OpenFlowChannelError';
  constructor(
    readonly code: OpenFlowChannelErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface OpenFlowChannelOptions {
  /** The bridge's management socket, `<OVS_RUNDIR>/<bridge>.mgmt`. */
  socketPath: string;
  /**
   * 1–65535: flows address this connection with `controller(id=<controllerId>)`. Required for OpenFlow 1.5;
   * unused by an OpenFlow 1.3 connection (it asks for no packet-ins).
   */
  controllerId?: number;
  /** Default 'OpenFlow15' (packet-in/packet-out). 'OpenFlow13': flow programming only (see the file comment). */
  version?: OpenFlowChannelVersion;
  logger: Logger;
  /** Send an echo request after this long without any message from the switch. Default 5 s. */
  echoIntervalMs?: number;
  /** Give up a handshake (and a barrier) after this long. Default 10 s. */
  requestTimeoutMs?: number;
  /** First reconnect delay; doubles per failed attempt up to maxReconnectDelayMs. Defaults 100 ms / 5 s. */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
}

export type OpenFlowChannelVersion = 'OpenFlow13' | 'OpenFlow15';

/** What `transact()` returns: the reply to `replyXid` (or the switch's error for it) and the errors for the batch. */
export interface TransactResult {
  /** The reply to `replyXid`; undefined when the switch answered it with an error (then in `errors`). */
  reply: OpenFlowMessage | undefined;
  /** Every OFPT_ERROR whose xid is in the batch's xid range, in arrival order. */
  errors: OpenFlowSwitchError[];
}

export interface TransactOptions {
  /** The xid whose reply ends the exchange (a barrier, a bundle commit). */
  replyXid: number;
  /** Errors for xids firstXid … firstXid + count - 1 are collected instead of logged. */
  errorXids: { first: number; count: number };
  /** For messages and logs ("bundle commit"). */
  what: string;
  /** Default: the channel's requestTimeoutMs. */
  timeoutMs?: number;
}

export interface OpenFlowChannelStats {
  packetIns: number;
  packetOuts: number;
  switchErrors: number;
  decodeErrors: number;
  /** Completed handshakes (1 after the first connect). */
  connects: number;
}

interface PendingReply {
  resolve(message: OpenFlowMessage): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface ErrorCollector {
  first: number;
  last: number;
  errors: OpenFlowSwitchError[];
}

interface Connection {
  socket: net.Socket;
  /** transact() calls in progress, collecting the errors for their xids. */
  collectors: Set<ErrorCollector>;
  framer: OpenFlowFramer;
  /** Requests that expect a reply, by xid. */
  replies: Map<number, PendingReply>;
  /** Recently sent requests by xid, so that an OFPT_ERROR can name what it refers to. */
  sent: Map<number, string>;
  /** Messages received since the last keep-alive check. */
  received: number;
  echoOutstanding: boolean;
  handshakeDone: boolean;
}

const REMEMBERED_REQUESTS = 512;

const OFP_VERSION_1_3 = 0x04;

/**
 * Messages of an OpenFlow 1.3 connection whose layout is the same as in 1.5, so that the 1.5 codec decodes (and
 * encodes) them once the header's version byte says 1.5. HELLO and ERROR decode in any version.
 */
const SAME_LAYOUT_IN_1_3 = new Set<number>([
  OfpType.EchoRequest,
  OfpType.EchoReply,
  OfpType.FeaturesReply,
  OfpType.BarrierReply,
  OfpType.Experimenter,
]);

/** Bytes per socket write of a transact() batch: the socket's backpressure is checked between writes. */
const TRANSACT_CHUNK_BYTES = 256 * 1024;

export class OpenFlowChannel extends EventEmitter<OpenFlowChannelEvents> {
  private readonly logger: Logger;
  private readonly echoIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly minReconnectDelayMs: number;
  private readonly maxReconnectDelayMs: number;
  /** The header version of every message on the wire: 0x04 or 0x06. */
  private readonly wireVersion: number;
  private running = false;
  private connectionState: OpenFlowConnectionState = 'stopped';
  private connection: Connection | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private failedAttempts = 0;
  private nextXid = 1;
  private currentDatapathId: bigint | undefined;
  private readonly counters: OpenFlowChannelStats = {
    packetIns: 0,
    packetOuts: 0,
    switchErrors: 0,
    decodeErrors: 0,
    connects: 0,
  };

  constructor(private readonly options: OpenFlowChannelOptions) {
    super();
    this.logger = options.logger.child({ component: 'openflow', socket: options.socketPath });
    this.echoIntervalMs = options.echoIntervalMs ?? 5000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.minReconnectDelayMs = options.minReconnectDelayMs ?? 100;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 5000;
    this.wireVersion = options.version === 'OpenFlow13' ? OFP_VERSION_1_3 : OFP_VERSION_1_5;
  }

  /** The OpenFlow version of the connection (0x04 or 0x06): what pre-encoded messages must carry. */
  get protocolVersion(): number {
    return this.wireVersion;
  }

  get state(): OpenFlowConnectionState {
    return this.connectionState;
  }

  /** AntreaAgentInfo's OpenflowConnectionUp. */
  get isConnected(): boolean {
    return this.connectionState === 'connected';
  }

  /** From the last FEATURES_REPLY; undefined before the first connect. */
  get datapathId(): bigint | undefined {
    return this.currentDatapathId;
  }

  get stats(): Readonly<OpenFlowChannelStats> {
    return { ...this.counters };
  }

  /** Starts connecting in the background; `connected` is emitted after every successful handshake. */
  start(): void {
    if (this.running) return;
    const id = this.options.controllerId;
    if (
      this.wireVersion === OFP_VERSION_1_5 &&
      (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff)
    ) {
      throw new OpenFlowChannelError(
        'OPENFLOW_INVALID_OPTION',
        `controller id ${this.options.controllerId} is not in 1..65535`,
      );
    }
    this.running = true;
    this.connect();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const connection = this.connection;
    if (connection) {
      await new Promise<void>((resolve) => {
        if (connection.socket.closed) return resolve();
        connection.socket.once('close', () => resolve());
        connection.socket.destroy();
      });
    }
    this.setState('stopped');
  }

  /** Resolves when connected (at once if already), rejects after `timeoutMs`. */
  waitUntilConnected(timeoutMs: number): Promise<void> {
    if (this.isConnected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(
          new OpenFlowChannelError(
            'OPENFLOW_TIMEOUT',
            `not connected to ${this.options.socketPath} after ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const onConnected = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.once('connected', onConnected);
    });
  }

  /**
   * Emits `packet` on a port of the bridge, unchanged. Resolves once the message is handed to the socket;
   * a rejection by the switch arrives later as a `switchError` event (and a log line).
   */
  packetOut(packet: Uint8Array, target: PacketOutTarget, options: PacketOutOptions = {}): Promise<void> {
    const connection = this.connection;
    if (this.wireVersion !== OFP_VERSION_1_5) {
      return Promise.reject(
        new OpenFlowChannelError('OPENFLOW_INVALID_OPTION', 'packet-outs need the OpenFlow 1.5 channel'),
      );
    }
    if (!connection || !this.isConnected) {
      return Promise.reject(
        new OpenFlowChannelError('OPENFLOW_NOT_CONNECTED', 'OpenFlow channel is not connected'),
      );
    }
    const fields = Object.entries(options.registers ?? {}).map(([reg, value]) =>
      registerField(Number(reg), value),
    );
    const before =
      options.tunnelDst === undefined ? [] : [setFieldAction(tunnelIpv4DstField(options.tunnelDst))];
    this.counters.packetOuts++;
    return this.send(
      connection,
      packetOutMessage(this.allocateXid(), packet, target, fields, before),
      'packet-out',
    );
  }

  /** Resolves when the switch has processed everything sent before (an OpenFlow barrier). */
  async barrier(): Promise<void> {
    const connection = this.connection;
    if (!connection || !this.isConnected) {
      throw new OpenFlowChannelError('OPENFLOW_NOT_CONNECTED', 'OpenFlow channel is not connected');
    }
    await this.request(connection, { type: 'barrier-request', xid: this.allocateXid() }, 'barrier');
  }

  /**
   * `count` consecutive xids for pre-encoded messages; returns the first. A range never wraps around (xid 0
   * stays unused).
   */
  allocateXids(count: number): number {
    if (!Number.isInteger(count) || count < 1 || count > 0x7fff_ffff) {
      throw new OpenFlowChannelError('OPENFLOW_INVALID_OPTION', `cannot allocate ${count} xids`);
    }
    if (this.nextXid + count - 1 > 0xffff_ffff) this.nextXid = 1;
    const first = this.nextXid;
    const next = first + count;
    this.nextXid = next > 0xffff_ffff ? 1 : next;
    return first;
  }

  /**
   * Writes pre-encoded messages (whole messages back to back, in this connection's version, xids from
   * allocateXids) without waiting between them, in chunks that respect the socket's backpressure, and resolves
   * with the reply to `replyXid` once it arrives. Errors the switch sends for any xid of the batch are
   * collected (not logged) and returned with it; the switch answers in order, so they all arrive before the
   * reply. An error for `replyXid` itself ends the exchange too (reply undefined). Rejects with
   * OpenFlowChannelError: OPENFLOW_NOT_CONNECTED, OPENFLOW_CONNECTION_LOST (the connection closed: whatever was
   * not yet committed is gone with it), OPENFLOW_TIMEOUT.
   */
  async transact(messages: Uint8Array, options: TransactOptions): Promise<TransactResult> {
    const connection = this.connection;
    if (!connection || !this.isConnected) {
      throw new OpenFlowChannelError('OPENFLOW_NOT_CONNECTED', 'OpenFlow channel is not connected');
    }
    const collector: ErrorCollector = {
      first: options.errorXids.first,
      last: options.errorXids.first + options.errorXids.count - 1,
      errors: [],
    };
    connection.collectors.add(collector);
    try {
      const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
      const reply = new Promise<OpenFlowMessage>((resolve, reject) => {
        const timer = setTimeout(() => {
          connection.replies.delete(options.replyXid);
          reject(
            new OpenFlowChannelError('OPENFLOW_TIMEOUT', `${options.what} unanswered after ${timeoutMs} ms`),
          );
        }, timeoutMs);
        connection.replies.set(options.replyXid, { resolve, reject, timer });
      });
      // Awaited below; a write failure closes the socket, which rejects `reply` as well.
      reply.catch(() => undefined);
      connection.sent.set(options.replyXid, options.what);
      await this.writeChunks(connection, messages);
      try {
        return { reply: await reply, errors: collector.errors };
      } catch (err) {
        const answered = collector.errors.some((e) => e.xid === options.replyXid);
        if (answered && err instanceof OpenFlowChannelError && err.code === 'OPENFLOW_REJECTED') {
          return { reply: undefined, errors: collector.errors };
        }
        throw err;
      }
    } finally {
      connection.collectors.delete(collector);
    }
  }

  // -------------------------------------------------------------------------------------------------------

  private connect(): void {
    this.reconnectTimer = undefined;
    if (!this.running) return;
    this.setState('connecting');
    const socket = net.createConnection({ path: this.options.socketPath });
    const connection: Connection = {
      socket,
      framer: new OpenFlowFramer({
        onMessage: (bytes) => this.onMessage(connection, bytes),
        onError: (error) => this.onFramingError(error),
      }),
      collectors: new Set(),
      replies: new Map(),
      sent: new Map(),
      received: 0,
      echoOutstanding: false,
      handshakeDone: false,
    };
    this.connection = connection;
    let lastError: Error | undefined;
    socket.on('error', (err) => {
      lastError = err;
    });
    socket.once('connect', () => {
      void this.handshake(connection);
    });
    socket.on('data', (chunk: Buffer) => {
      connection.received++;
      connection.framer.push(chunk);
    });
    socket.once('close', () => this.onClosed(connection, lastError));
  }

  private async handshake(connection: Connection): Promise<void> {
    this.setState('handshaking');
    const hello = new Promise<OpenFlowMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new OpenFlowChannelError('OPENFLOW_TIMEOUT', 'no HELLO from the switch')),
        this.requestTimeoutMs,
      );
      // xid 0 never leaves allocateXid, so it is free for "the peer's HELLO, whatever its xid".
      connection.replies.set(0, { resolve, reject, timer });
    });
    // Awaited below; this only keeps an early failure (the HELLO could not be sent) from being unhandled.
    hello.catch(() => undefined);
    try {
      const version = this.wireVersion;
      await this.send(
        connection,
        { type: 'hello', xid: this.allocateXid(), version, versions: [version] },
        'hello',
      );
      const peer = await hello;
      if (peer.type !== 'hello')
        throw new OpenFlowChannelError('OPENFLOW_REJECTED', `expected HELLO, got ${peer.type}`);
      const supported = peer.versions.length > 0 ? peer.versions.includes(version) : peer.version >= version;
      if (!supported) {
        throw new OpenFlowChannelError(
          'OPENFLOW_REJECTED',
          `switch does not speak OpenFlow ${version === OFP_VERSION_1_3 ? '1.3' : '1.5'} (HELLO version ${peer.version}, bitmap [${peer.versions.join(',')}])`,
        );
      }
      // A flow-programming (1.3) connection asks for nothing asynchronous: without SET_CONFIG OVS sends it none.
      const configure: OpenFlowMessage[] =
        version === OFP_VERSION_1_5
          ? [
              {
                type: 'nx-set-controller-id',
                xid: this.allocateXid(),
                controllerId: this.options.controllerId ?? 0,
              },
              { type: 'nx-set-packet-in-format', xid: this.allocateXid(), format: PacketInFormat.Nxt2 },
              { type: 'set-config', xid: this.allocateXid(), flags: 0, missSendLength: OFPCML_NO_BUFFER },
            ]
          : [];
      // An error for any of these fails the pending requests below (see onSwitchError).
      for (const message of configure)
        void this.send(connection, message, message.type).catch(() => undefined);
      const features = await this.request(
        connection,
        { type: 'features-request', xid: this.allocateXid() },
        'features-request',
      );
      await this.request(connection, { type: 'barrier-request', xid: this.allocateXid() }, 'barrier');
      if (features.type === 'features-reply') this.currentDatapathId = features.datapathId;
    } catch (err) {
      if (this.connection === connection && !connection.socket.destroyed) {
        this.logger.warn('OpenFlow handshake failed', { error: (err as Error).message });
        connection.socket.destroy();
      }
      return;
    }
    if (this.connection !== connection || connection.socket.destroyed) return;
    connection.handshakeDone = true;
    this.failedAttempts = 0;
    this.counters.connects++;
    this.setState('connected');
    this.startKeepalive(connection);
    this.logger.info('OpenFlow channel connected', {
      controllerId: this.options.controllerId,
      datapathId: this.currentDatapathId?.toString(16),
    });
    this.emit('connected', { datapathId: this.currentDatapathId ?? 0n });
  }

  private onClosed(connection: Connection, error: Error | undefined): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.stopKeepalive();
    const reason = !this.running ? 'channel stopped' : (error?.message ?? 'connection closed by the switch');
    this.rejectAll(
      connection,
      new OpenFlowChannelError(this.running ? 'OPENFLOW_CONNECTION_LOST' : 'OPENFLOW_STOPPED', reason),
    );
    if (connection.handshakeDone) {
      this.logger.warn('OpenFlow channel disconnected', { reason });
      this.emit('disconnected', { reason });
    }
    if (!this.running) return;
    this.failedAttempts++;
    const delay = Math.min(
      this.maxReconnectDelayMs,
      this.minReconnectDelayMs * 2 ** Math.min(this.failedAttempts - 1, 20),
    );
    // The first failure of an outage is worth a line; the retries that follow are not.
    const log = this.failedAttempts === 1 && !connection.handshakeDone ? 'warn' : 'debug';
    this.logger[log]('OpenFlow connection attempt failed; retrying', {
      reason,
      delayMs: delay,
      attempt: this.failedAttempts,
    });
    this.setState('backoff');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private onMessage(connection: Connection, bytes: Uint8Array): void {
    if (this.connection !== connection) return;
    const type = bytes[1] ?? 0;
    if (this.wireVersion !== OFP_VERSION_1_5 && type !== OfpType.Hello && type !== OfpType.Error) {
      // The codec decodes OpenFlow 1.5; these few have the same layout in 1.3. Nothing else is expected on a
      // connection that asked for no asynchronous messages.
      if (!SAME_LAYOUT_IN_1_3.has(type)) {
        this.logger.debug('OpenFlow 1.3 message ignored', { type: ofpTypeName(type), length: bytes.length });
        return;
      }
      bytes[0] = OFP_VERSION_1_5;
    }
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) {
      this.counters.decodeErrors++;
      const h = readHeader(bytes);
      this.logger.warn('undecodable OpenFlow message dropped', {
        code: decoded.error.code,
        error: decoded.error.message,
        type: h ? ofpTypeName(h.type) : undefined,
        length: bytes.length,
      });
      return;
    }
    const message = decoded.message;
    switch (message.type) {
      case 'hello':
        this.resolveReply(connection, 0, message);
        return;
      case 'echo-request':
        void this.send(
          connection,
          { type: 'echo-reply', xid: message.xid, data: message.data },
          'echo-reply',
        ).catch(() => undefined);
        return;
      case 'echo-reply':
        connection.echoOutstanding = false;
        return;
      case 'features-reply':
      case 'barrier-reply':
      case 'get-config-reply':
        this.resolveReply(connection, message.xid, message);
        return;
      case 'error':
        this.onSwitchError(connection, message);
        return;
      case 'nx-packet-in2':
      case 'packet-in':
        this.counters.packetIns++;
        this.emit(
          'packetIn',
          toPacketIn(message, message.type === 'nx-packet-in2' ? message.userdata : undefined),
        );
        return;
      case 'unknown':
        // Replies the codec does not interpret (an ONF bundle control reply) end a transact() by xid;
        // asynchronous messages (PORT_STATUS, xid 0) are of no interest to this channel.
        if (message.xid !== 0) this.resolveReply(connection, message.xid, message);
        return;
      default:
        return;
    }
  }

  private onSwitchError(connection: Connection, message: ErrorMessage): void {
    this.counters.switchErrors++;
    const report: OpenFlowSwitchError = {
      request: connection.sent.get(message.xid),
      xid: message.xid,
      errorType: errorTypeName(message.errorType),
      errorCode: errorCodeName(message.errorType, message.errorCode),
      message,
    };
    let collector: ErrorCollector | undefined;
    for (const c of connection.collectors) if (message.xid >= c.first && message.xid <= c.last) collector = c;
    if (collector) {
      // The caller of transact() reports it, with what the xid stands for.
      collector.errors.push(report);
    } else {
      this.logger.warn('switch rejected an OpenFlow request', {
        request: report.request,
        xid: report.xid,
        errorType: report.errorType,
        errorCode: report.errorCode,
      });
    }
    this.emit('switchError', report);
    if (!connection.handshakeDone) {
      // Whatever failed during the handshake (HELLO_FAILED carries no useful xid) fails the handshake now.
      this.rejectAll(
        connection,
        new OpenFlowChannelError('OPENFLOW_REJECTED', `${report.errorType}/${report.errorCode}`),
      );
      return;
    }
    const pending = connection.replies.get(message.xid);
    if (pending) {
      connection.replies.delete(message.xid);
      clearTimeout(pending.timer);
      pending.reject(
        new OpenFlowChannelError(
          'OPENFLOW_REJECTED',
          `${report.request ?? 'request'} failed: ${report.errorType}/${report.errorCode}`,
        ),
      );
    }
  }

  private onFramingError(error: OpenFlowCodecError): void {
    this.counters.decodeErrors++;
    this.logger.warn('OpenFlow stream error', {
      code: error.code,
      error: error.message,
      droppedBytes: error.droppedBytes,
    });
  }

  private rejectAll(connection: Connection, error: Error): void {
    const pending = [...connection.replies.values()];
    connection.replies.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
  }

  private resolveReply(connection: Connection, xid: number, message: OpenFlowMessage): void {
    const pending = connection.replies.get(xid);
    if (!pending) return;
    connection.replies.delete(xid);
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  private request(connection: Connection, message: OpenFlowMessage, what: string): Promise<OpenFlowMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        connection.replies.delete(message.xid);
        reject(
          new OpenFlowChannelError(
            'OPENFLOW_TIMEOUT',
            `${what} unanswered after ${this.requestTimeoutMs} ms`,
          ),
        );
      }, this.requestTimeoutMs);
      connection.replies.set(message.xid, { resolve, reject, timer });
      this.send(connection, message, what).catch((err: Error) => {
        connection.replies.delete(message.xid);
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private send(connection: Connection, message: OpenFlowMessage, what: string): Promise<void> {
    const bytes = encodeMessage(message);
    // The messages a 1.3 connection sends through the codec (echo, features request, barrier) have the same
    // layout in both versions; HELLO and ERROR carry their own version.
    if (message.type !== 'hello' && message.type !== 'error') bytes[0] = this.wireVersion;
    connection.sent.set(message.xid, what);
    if (connection.sent.size > REMEMBERED_REQUESTS) {
      const oldest = connection.sent.keys().next();
      if (!oldest.done) connection.sent.delete(oldest.value);
    }
    return new Promise((resolve, reject) => {
      if (connection.socket.destroyed) {
        reject(new OpenFlowChannelError('OPENFLOW_CONNECTION_LOST', 'OpenFlow connection is closed'));
        return;
      }
      connection.socket.write(bytes, (err) =>
        err ? reject(new OpenFlowChannelError('OPENFLOW_CONNECTION_LOST', err.message)) : resolve(),
      );
    });
  }

  /** Writes `bytes` in chunks, waiting for 'drain' whenever the socket's buffer is full. */
  private async writeChunks(connection: Connection, bytes: Uint8Array): Promise<void> {
    const socket = connection.socket;
    for (let at = 0; at < bytes.length; at += TRANSACT_CHUNK_BYTES) {
      if (socket.destroyed) {
        throw new OpenFlowChannelError('OPENFLOW_CONNECTION_LOST', 'OpenFlow connection is closed');
      }
      const flushed = socket.write(bytes.subarray(at, Math.min(bytes.length, at + TRANSACT_CHUNK_BYTES)));
      if (!flushed && at + TRANSACT_CHUNK_BYTES < bytes.length) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            socket.off('drain', done);
            socket.off('close', done);
            resolve();
          };
          socket.on('drain', done);
          socket.on('close', done);
        });
      }
    }
  }

  private startKeepalive(connection: Connection): void {
    this.stopKeepalive();
    connection.received = 0;
    this.keepaliveTimer = setInterval(() => {
      if (connection.received > 0) {
        connection.received = 0;
        connection.echoOutstanding = false;
        return;
      }
      if (connection.echoOutstanding) {
        // A whole interval without even the echo reply: the switch is wedged or gone.
        this.logger.warn('OpenFlow echo unanswered; reconnecting', { intervalMs: this.echoIntervalMs });
        connection.socket.destroy();
        return;
      }
      connection.echoOutstanding = true;
      void this.send(
        connection,
        { type: 'echo-request', xid: this.allocateXid(), data: new Uint8Array(0) },
        'echo-request',
      ).catch(() => undefined);
    }, this.echoIntervalMs);
  }

  private stopKeepalive(): void {
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  private allocateXid(): number {
    const xid = this.nextXid;
    this.nextXid = this.nextXid >= 0xffff_ffff ? 1 : this.nextXid + 1;
    return xid;
  }

  private setState(state: OpenFlowConnectionState): void {
    this.connectionState = state;
  }
}

function toPacketIn(message: PacketInFields, userdata: Uint8Array | undefined): PacketIn {
  return {
    packet: message.packet,
    fullLength: message.fullLength,
    tableId: message.tableId,
    cookie: message.cookie,
    reason: message.reason,
    userdata,
    metadata: readPacketMetadata(message.metadata),
    metadataFields: message.metadata,
  };
}

/** For log lines: `table 45, cookie 0x1234, reason no_match, in_port 1`. */
export function describePacketIn(packetIn: PacketIn): string {
  return `table ${packetIn.tableId}, cookie 0x${packetIn.cookie.toString(16)}, reason ${packetInReasonName(packetIn.reason)}, in_port ${packetIn.metadata.inPort ?? '?'}`;
}
