// Cluster mode: the agent's AntreaAgentInfo (crd.antrea.io/v1beta1, named after the Node) written to the API
// server at start and then every minute, as Antrea's agent monitor does. The object is the one `antctl get
// agentinfo -o yaml` prints (antreaAgentInfo over AgentQueries.agentInfo), so the two cannot disagree.
//
// Antrea's controller creates the object and the agent only updates it; there is no Antrea controller here, so
// the heartbeat creates it when it is absent. Writes are replaces carrying the resourceVersion last seen
// (optimistic concurrency); a 409 means someone else wrote in between: re-read and try again. An unreachable
// API server is normal at the edge: the heartbeat logs it once per outage and keeps its rhythm, never throws.
import { antreaAgentInfo } from '../../core/antctl/agentinfo';
import type { AgentInfoView, AntreaAgentInfoView } from '../../core/antctl/views';
import type { Logger } from '../../core/logger';
import {
  AgentInfoApiError,
  type AgentInfoApi,
  type AgentInfoApiErrorCode,
  type StoredAgentInfo,
} from './agent-info-api';

/** Antrea's agent monitor period (pkg/monitor/agent.go: wait.Until(syncAgentCRD, time.Minute)). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 60_000;
/** A request that has not answered by then counts as the API server being unavailable. */
export const DEFAULT_HEARTBEAT_REQUEST_TIMEOUT_MS = 30_000;
/** Replace attempts after a 409 before the beat gives up until the next one. */
export const DEFAULT_HEARTBEAT_CONFLICT_RETRIES = 3;

/** Where the object's content comes from: the agent's answers to `antctl get agentinfo`. */
export interface AgentInfoSource {
  agentInfo(): Promise<AgentInfoView>;
}

export interface AgentInfoHeartbeatOptions {
  api: AgentInfoApi;
  source: AgentInfoSource;
  logger: Logger;
  /** Period between the end of one beat and the start of the next. */
  intervalMs?: number;
  /** Bound on each API request of a beat, and on the agent’s answer for it. */
  requestTimeoutMs?: number;
  conflictRetries?: number;
}

export interface AgentInfoHeartbeatStatus {
  /** Milliseconds since the epoch of the last successful write. */
  lastWrittenAt?: number;
  /** The stored object's resourceVersion after that write. */
  resourceVersion?: string;
  /** Beats that failed since the last successful one. */
  consecutiveFailures: number;
  /** Why the last beat failed, while failing. */
  lastError?: string;
}

/** Why a beat failed: an API error code, or the agent could not say what to write. */
type FailureKind = AgentInfoApiErrorCode | 'Source';

/** Server-owned metadata worth keeping on a replace; everything else in metadata is recomputed by the server. */
const KEPT_METADATA = ['labels', 'annotations', 'ownerReferences', 'finalizers'] as const;

export class AgentInfoHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Bumped by start() and stop(), so that a chain of beats from an earlier start() ends. */
  private generation = 0;
  /** Beats run one after another; beat() and the timer both append here. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The object as last written or read: its resourceVersion is the precondition of the next replace. */
  private stored: StoredAgentInfo | undefined;
  private failure: { kind: FailureKind; message: string } | undefined;
  private readonly state: AgentInfoHeartbeatStatus = { consecutiveFailures: 0 };

  constructor(private readonly options: AgentInfoHeartbeatOptions) {}

  private get logger(): Logger {
    return this.options.logger;
  }

  /** Writes the first beat, then one every interval until stop(). Resolves after the first beat; never rejects. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.beatAndReschedule(++this.generation);
  }

  /** Cancels the next beat and waits for one in progress, so that nothing is written after this resolves. */
  async stop(): Promise<void> {
    this.running = false;
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.queue;
  }

  /** One write now (after any in progress), e.g. when a condition changed; resolves true when it was written. */
  beat(): Promise<boolean> {
    const written = this.queue.then(() => this.writeOnce());
    this.queue = written;
    return written;
  }

  status(): AgentInfoHeartbeatStatus {
    return { ...this.state };
  }

  private async beatAndReschedule(generation: number): Promise<void> {
    await this.beat();
    if (!this.running || generation !== this.generation) return;
    const timer = setTimeout(() => {
      this.timer = undefined;
      void this.beatAndReschedule(generation);
    }, this.options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
    // The heartbeat alone must not keep the process alive.
    timer.unref();
    this.timer = timer;
  }

  private async writeOnce(): Promise<boolean> {
    let desired: AntreaAgentInfoView;
    try {
      desired = antreaAgentInfo(
        await this.bounded(this.options.source.agentInfo(), 'the agent did not report its info'),
      );
    } catch (error) {
      this.failed('Source', `the agent could not report its info: ${errorMessage(error)}`);
      return false;
    }
    try {
      const written = await this.write(desired);
      this.succeeded(written);
      return true;
    } catch (error) {
      const kind = error instanceof AgentInfoApiError ? error.code : 'Unavailable';
      this.failed(kind, errorMessage(error));
      return false;
    }
  }

  /** Create when absent, else replace with the last seen resourceVersion; a conflict re-reads and retries. */
  private async write(desired: AntreaAgentInfoView): Promise<StoredAgentInfo> {
    const name = desired.metadata.name;
    const retries = this.options.conflictRetries ?? DEFAULT_HEARTBEAT_CONFLICT_RETRIES;
    let current = this.stored?.metadata.name === name ? this.stored : undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        current ??= await this.call((api) => api.get(name));
        if (current === undefined) return await this.call((api) => api.create(toBody(desired, undefined)));
        return await this.call((api) => api.replace(toBody(desired, current)));
      } catch (error) {
        const code = error instanceof AgentInfoApiError ? error.code : undefined;
        // Another writer got in first (Conflict, AlreadyExists) or deleted it (NotFound): read it again.
        const stale = code === 'Conflict' || code === 'AlreadyExists' || code === 'NotFound';
        if (!stale || attempt >= retries) throw error;
        this.logger.debug('AntreaAgentInfo changed under the heartbeat; reading it again', {
          reason: code,
          attempt: attempt + 1,
        });
        current = undefined;
        this.stored = undefined;
      }
    }
  }

  private call<T>(request: (api: AgentInfoApi) => Promise<T>): Promise<T> {
    // A request that loses the race may still land later; the next replace then meets a 409 and re-reads.
    return this.bounded(request(this.options.api), 'the API server did not answer');
  }

  /** Rejects with Unavailable when `work` has not settled within the request timeout. */
  private bounded<T>(work: Promise<T>, what: string): Promise<T> {
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_HEARTBEAT_REQUEST_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new AgentInfoApiError('Unavailable', `${what} within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  private succeeded(written: StoredAgentInfo): void {
    this.stored = written;
    const failures = this.state.consecutiveFailures;
    this.state.lastWrittenAt = Date.now();
    this.state.resourceVersion = written.metadata.resourceVersion;
    this.state.consecutiveFailures = 0;
    delete this.state.lastError;
    if (this.failure !== undefined) {
      this.logger.info('AntreaAgentInfo written again', {
        name: written.metadata.name,
        failedBeats: failures,
      });
    } else {
      this.logger.debug('AntreaAgentInfo written', {
        name: written.metadata.name,
        resourceVersion: written.metadata.resourceVersion,
      });
    }
    this.failure = undefined;
  }

  /** One warning per outage: again only when the reason changes (e.g. unreachable, then forbidden). */
  private failed(kind: FailureKind, message: string): void {
    this.state.consecutiveFailures++;
    this.state.lastError = message;
    const isNew = this.failure?.kind !== kind;
    this.failure = { kind, message };
    const fields = { reason: kind, error: message, failedBeats: this.state.consecutiveFailures };
    if (isNew) this.logger.warn('cannot write AntreaAgentInfo; the heartbeat keeps trying', fields);
    else this.logger.debug('AntreaAgentInfo still not written', fields);
  }
}

/** The object to send: ours, with the stored object's resourceVersion and the metadata others may have set. */
function toBody(desired: AntreaAgentInfoView, current: StoredAgentInfo | undefined): StoredAgentInfo {
  const metadata: StoredAgentInfo['metadata'] = { name: desired.metadata.name };
  if (current !== undefined) {
    for (const key of KEPT_METADATA) {
      if (current.metadata[key] !== undefined) metadata[key] = current.metadata[key];
    }
    metadata.resourceVersion = current.metadata.resourceVersion;
  }
  return { ...desired, metadata };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
