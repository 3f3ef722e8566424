// The runner's handle on one pod's helper process (pod-agent.py): started inside the pod's network namespace
// with `ip netns exec` (which execs in place, so the child pid is the helper itself), talked to in JSON lines.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Protocol } from '../../../firmware/core/api/types';
import { outcomeOf, type ProbeOutcome } from './live-plan';

export const POD_AGENT_SCRIPT = path.join(__dirname, 'pod-agent.py');
/** Debian's interpreter: a pyenv shim on PATH would add a shell and a version lookup to every start. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

export interface ServedPort {
  proto: Protocol;
  port: number;
}

export interface ProbeTarget {
  proto: Protocol;
  ip: string;
  port: number;
}

export interface PodAgentOptions {
  /** "ns/pod", for messages. */
  pod: string;
  netnsName: string;
  serve: ServedPort[];
  python?: string;
  startTimeoutMs?: number;
}

export class PodAgentError extends Error {
  override readonly name = 'PodAgentError';
  constructor(
    readonly code: 'StartFailed' | 'Exited' | 'NotStarted',
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(results: ProbeOutcome[]): void;
  reject(error: Error): void;
  count: number;
}

export class PodAgent {
  private child: ChildProcessWithoutNullStreams | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readyWaiter:
    { resolve(line: Record<string, unknown>): void; reject(error: Error): void } | undefined;
  private stderrTail = '';
  /** Protocols this namespace cannot carry, with the reason (e.g. SCTP without kernel support). */
  unsupported: Partial<Record<Protocol, string>> = {};
  serving: string[] = [];

  constructor(private readonly options: PodAgentOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    const { pod, netnsName } = this.options;
    const spec = JSON.stringify({ serve: this.options.serve });
    const child = spawn(
      'ip',
      // The namespace name rides along as a label, so `ps` shows which pod (and run) a helper belongs to.
      ['netns', 'exec', netnsName, this.options.python ?? DEFAULT_PYTHON, POD_AGENT_SCRIPT, spec, netnsName],
      // Its own process group: a Ctrl-C meant for the runner must not kill the helpers before cleanup does.
      { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    this.child = child;
    child.stdin.on('error', () => undefined);
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000);
    });
    readline.createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.on('exit', (code, signal) => {
      const error = new PodAgentError(
        'Exited',
        `the pod agent of ${pod} exited (code ${code}, signal ${signal}): ${this.stderrTail.trim()}`,
      );
      this.child = undefined;
      this.readyWaiter?.reject(error);
      this.readyWaiter = undefined;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    });
    const timeoutMs = this.options.startTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const hello = await Promise.race([
        new Promise<Record<string, unknown>>((resolve, reject) => (this.readyWaiter = { resolve, reject })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new PodAgentError('StartFailed', `the pod agent of ${pod} did not start in ${timeoutMs} ms`),
              ),
            timeoutMs,
          );
        }),
      ]);
      if (hello.ready !== true) {
        throw new PodAgentError('StartFailed', `the pod agent of ${pod} failed: ${String(hello.error)}`);
      }
      this.serving = Array.isArray(hello.serving) ? hello.serving.map(String) : [];
      const unsupported = hello.unsupported;
      if (typeof unsupported === 'object' && unsupported !== null) {
        for (const [proto, reason] of Object.entries(unsupported)) {
          this.unsupported[proto as Protocol] = String(reason);
        }
      }
    } catch (error) {
      this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
      this.readyWaiter = undefined;
    }
  }

  /** Probes every target at once (the agent bounds how many run together); results come in target order. */
  probe(targets: readonly ProbeTarget[], timeoutMs: number): Promise<ProbeOutcome[]> {
    const child = this.child;
    if (child === undefined) {
      return Promise.reject(
        new PodAgentError('NotStarted', `the pod agent of ${this.options.pod} is not running`),
      );
    }
    if (targets.length === 0) return Promise.resolve([]);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, count: targets.length });
      child.stdin.write(`${JSON.stringify({ id, timeoutMs, probes: targets })}\n`);
    });
  }

  /** Ends the helper (closing stdin is enough; the signal covers a helper that hangs). */
  stop(): void {
    const child = this.child;
    if (child === undefined) return;
    child.stdin.end();
    try {
      child.kill('SIGTERM');
    } catch {
      // already gone
    }
  }

  private onLine(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if ('ready' in message) {
      this.readyWaiter?.resolve(message);
      return;
    }
    const id = typeof message.id === 'number' ? message.id : -1;
    const waiter = this.pending.get(id);
    if (waiter === undefined) return;
    this.pending.delete(id);
    const results = Array.isArray(message.results) ? message.results : [];
    const outcomes = results.map(outcomeOf);
    while (outcomes.length < waiter.count)
      outcomes.push({ verdict: 'Error', detail: 'no result from the pod agent' });
    waiter.resolve(outcomes);
  }
}
