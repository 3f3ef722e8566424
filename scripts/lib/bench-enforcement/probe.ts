// Traffic for the enforcement benchmark: small Node programs run inside pod network namespaces (a TCP server,
// a TCP connect prober) and the wrapper that starts them and reads their JSON lines.
//
// Clock: the prober stamps every probe with process.hrtime.bigint(), i.e. CLOCK_MONOTONIC, which is one clock
// for every process on the machine (network namespaces do not change it), so the bench process can subtract
// its own hrtime stamps from the prober's without any offset estimation.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Listens on the ports given as arguments; accepts and discards. Prints "ready" once all listen. */
const SERVER_JS = `
const net = require('node:net');
const ports = process.argv.slice(2).map(Number);
let ready = 0;
for (const port of ports) {
  const server = net.createServer((socket) => { socket.on('error', () => undefined); socket.resume(); });
  server.listen(port, '0.0.0.0', () => { if (++ready === ports.length) console.log('ready'); });
}
`;

/**
 * One loop per target: connect, classify (connected | refused | timeout | <errno code>), close with a RST (no
 * TIME_WAIT, so thousands of probes never run out of source ports), wait until minIntervalMs after the start,
 * repeat. Prints a "flip" line whenever a target's outcome differs from its previous one (the first probe
 * counts as a flip); on "count" on stdin one "count" line (probes completed per target); on "stop" one "summary"
 * line per target, then exits. Times are
 * CLOCK_MONOTONIC milliseconds (process.hrtime), shared with every other process on the machine.
 */
const PROBER_JS = `
const net = require('node:net');
const targets = JSON.parse(process.argv[2]);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
let running = true;
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
function probe(t) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: t.ip, port: t.port });
    let settled = false;
    const done = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome === 'connected') socket.resetAndDestroy(); else socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('timeout'), t.timeoutMs);
    socket.on('connect', () => done('connected'));
    socket.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : String(e.code)));
  });
}
const state = targets.map(() => ({ n: 0 }));
const loops = targets.map(async (t, i) => {
  const counts = {};
  let last, lastEnd = null;
  while (running) {
    const start = nowMs();
    const outcome = await probe(t);
    const end = nowMs();
    const n = ++state[i].n;
    counts[outcome] = (counts[outcome] || 0) + 1;
    if (outcome !== last) emit({ type: 'flip', target: t.id, outcome, start, end, prevEnd: lastEnd, n });
    last = outcome;
    lastEnd = end;
    const wait = start + t.minIntervalMs - nowMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return { type: 'summary', target: t.id, probes: state[i].n, counts };
});
emit({ type: 'ready', at: nowMs() });
let input = '';
process.stdin.on('data', (d) => {
  input += d;
  let nl;
  while ((nl = input.indexOf('\\n')) >= 0) {
    const command = input.slice(0, nl).trim();
    input = input.slice(nl + 1);
    if (command === 'count') {
      emit({ type: 'count', at: nowMs(), probes: Object.fromEntries(targets.map((t, i) => [t.id, state[i].n])) });
    } else if (command === 'stop' && running) {
      running = false;
      Promise.all(loops).then((summaries) => { for (const s of summaries) emit(s); process.exit(0); });
    }
  }
});
`;

/** Writes the server and prober programs into `dir`; returns their paths. */
export function writeProgs(dir: string): { server: string; prober: string } {
  const server = path.join(dir, 'bench-server.js');
  const prober = path.join(dir, 'bench-prober.js');
  fs.writeFileSync(server, SERVER_JS);
  fs.writeFileSync(prober, PROBER_JS);
  return { server, prober };
}

export interface ProbeTarget {
  id: string;
  ip: string;
  port: number;
  timeoutMs: number;
  /** At least this long between the starts of two probes of this target. */
  minIntervalMs: number;
}

/** 'connected', 'refused', 'timeout', or the errno code of another failure (e.g. 'EHOSTUNREACH'). */
export type ProbeOutcome = string;

export interface FlipEvent {
  type: 'flip';
  target: string;
  outcome: ProbeOutcome;
  /** CLOCK_MONOTONIC ms when the probe started and when its outcome was known. */
  start: number;
  end: number;
  /** End of the previous probe of this target (null for the first). */
  prevEnd: number | null;
  /** 1-based index of the probe among this target's probes. */
  n: number;
}

export interface ProbeSummary {
  type: 'summary';
  target: string;
  probes: number;
  counts: Record<ProbeOutcome, number>;
}

export interface ProbeCount {
  type: 'count';
  at: number;
  probes: Record<string, number>;
}

type ProgLine =
  FlipEvent | ProbeSummary | ProbeCount | { type: 'ready'; at: number } | { type: 'text'; text: string };

/** A program running in a network namespace whose stdout lines (JSON or not) can be awaited. */
export class NetnsProgram {
  private readonly lines: ProgLine[] = [];
  private waiters: (() => void)[] = [];
  private child: ChildProcess | undefined;
  private exited = false;
  private stderr = '';

  constructor(
    private readonly netns: string,
    private readonly argv: string[],
  ) {}

  start(): void {
    const child = spawn('ip', ['netns', 'exec', this.netns, ...this.argv], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
        this.lines.push(parseLine(text));
      }
      this.wake();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.on('exit', () => {
      this.exited = true;
      this.wake();
    });
    child.stdin?.on('error', () => undefined);
  }

  /** Every line so far, in order (not consumed). */
  get all(): readonly ProgLine[] {
    return this.lines;
  }

  /** Resolves with the first line at or after index `from` that satisfies `predicate`, and its index. */
  async waitFor<T extends ProgLine>(
    predicate: (line: ProgLine) => line is T,
    timeoutMs: number,
    from = 0,
  ): Promise<{ line: T; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.lines.length; i++) {
        const line = this.lines[i] as ProgLine;
        if (predicate(line)) return { line, index: i };
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.exited) {
        throw new Error(
          `${this.argv.join(' ')} in ${this.netns}: no expected line within ${timeoutMs} ms` +
            `${this.exited ? ' (exited)' : ''}; stderr: ${this.stderr.trim()}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  write(text: string): void {
    this.child?.stdin?.write(text);
  }

  /** SIGKILL (a no-op once exited); `ip netns exec` execs the program in place, so this kills it. */
  kill(): void {
    if (this.child && !this.exited) this.child.kill('SIGKILL');
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function parseLine(text: string): ProgLine {
  if (text.startsWith('{')) {
    try {
      return JSON.parse(text) as ProgLine;
    } catch {
      // not JSON after all
    }
  }
  return { type: 'text', text };
}

export const isFlip = (line: ProgLine): line is FlipEvent => line.type === 'flip';
export const isSummary = (line: ProgLine): line is ProbeSummary => line.type === 'summary';
export const isCount = (line: ProgLine): line is ProbeCount => line.type === 'count';
export const isReady = (line: ProgLine): line is { type: 'ready'; at: number } => line.type === 'ready';
export const isText =
  (text: string) =>
  (line: ProgLine): line is { type: 'text'; text: string } =>
    line.type === 'text' && line.text === text;

/** A prober in `netns` probing `targets` until stop(). */
export class Prober {
  readonly program: NetnsProgram;
  private readonly targetCount: number;

  constructor(netns: string, proberPath: string, targets: readonly ProbeTarget[]) {
    this.targetCount = targets.length;
    this.program = new NetnsProgram(netns, [process.execPath, proberPath, JSON.stringify(targets)]);
  }

  async start(): Promise<void> {
    this.program.start();
    await this.program.waitFor(isReady, 10_000);
  }

  flips(target?: string): FlipEvent[] {
    return this.program.all.filter(isFlip).filter((f) => target === undefined || f.target === target);
  }

  /** Probes completed so far, over all targets. */
  async probes(): Promise<number> {
    const from = this.program.all.length;
    this.program.write('count\n');
    const { line } = await this.program.waitFor(isCount, 10_000, from);
    return Object.values(line.probes).reduce((s, n) => s + n, 0);
  }

  /** Stops probing and returns each target's summary. */
  async stop(): Promise<ProbeSummary[]> {
    this.program.write('stop\n');
    const summaries: ProbeSummary[] = [];
    let from = 0;
    while (summaries.length < this.targetCount) {
      const { line, index } = await this.program.waitFor(isSummary, 10_000, from);
      summaries.push(line);
      from = index + 1;
    }
    this.program.kill();
    return summaries;
  }
}
