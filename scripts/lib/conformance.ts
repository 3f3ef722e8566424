// scripts/conformance: runs reachability cases (../shared/conformance/FORMAT.md). Without `--dry` it starts a
// private node with the model's pods and probes every asserted pair with real connections (conformance/live-run.ts);
// with `--nodes N` (N ≥ 2) a private cluster of N cluster-mode nodes and one API server, the pods spread over the
// nodes (conformance/cluster-run.ts); `--dry` evaluates the cases with the policy controller and the what-if
// evaluator only.
import * as fs from 'node:fs';
import { PolicyController } from '../../firmware/core/controller/policy-controller';
import {
  FormatError,
  parseCasesFile,
  parseModelFile,
  type ConformanceCase,
  type Model,
} from './conformance/case-format';
import { runCaseDry, type CaseResult, type DryRunController } from './conformance/dry-run';
import { ClusterConformance } from './conformance/cluster-run';
import { LiveConformance, DEFAULT_PROBE_TIMEOUT_MS, type LiveRunOptions } from './conformance/live-run';
import { caseLines, jsonReport, summaryLine } from './conformance/report';

/** MultiNodeCluster's limit: node i's addresses are derived from its single-digit index. */
export const MAX_NODES = 9;

export const USAGE =
  'usage: scripts/conformance --model FILE --cases FILE [--nodes N] [--case SUBSTR] [--out FILE] [--dry]\n' +
  '  --model FILE          models (namespaces, pods, container ports)\n' +
  '  --cases FILE          a JSON array of cases\n' +
  `  --nodes N             nodes to spread the pods over, round-robin (default 1: one standalone node; 2 to\n` +
  `                        ${MAX_NODES}: cluster-mode nodes with one API server and Geneve between them)\n` +
  '  --case SUBSTR         only the cases whose id contains SUBSTR\n' +
  '  --out FILE            also write a JSON report there\n' +
  '  --dry                 evaluate with the policy controller only (no data plane, no root needed)\n' +
  `  --probe-timeout MS    a probe without answer after MS is Dropped (default ${DEFAULT_PROBE_TIMEOUT_MS})\n` +
  "  --keep-state          keep the private node's directory (firmware.log, OVS logs) after the run\n" +
  "Without --dry it needs root: it starts a private node, creates the model's pods and probes with real\n" +
  'connections. Exit 0 when no case failed (skipped ones do not fail), 1 when some failed, 2 on bad input.';

export interface ConformanceOptions {
  model: string;
  cases: string;
  caseFilter?: string;
  out?: string;
  dry: boolean;
  /** Present when given. */
  nodes?: number;
  probeTimeoutMs?: number;
  keepState?: boolean;
}

/** What a real-traffic run needs; scripts/conformance passes the real one, unit tests leave it out. */
export type LiveRunnerFactory = (options: LiveRunnerOptions) => LiveRunner;

export interface LiveRunnerOptions extends LiveRunOptions {
  /** 1: one standalone node; more: that many cluster-mode nodes. */
  nodes: number;
}

export interface LiveRunner {
  start(): Promise<void>;
  runCase(testCase: ConformanceCase): Promise<CaseResult>;
  stop(): Promise<void>;
}

export class UsageError extends Error {
  readonly code = 'ConformanceUsage';
}

export function parseArgs(argv: readonly string[]): ConformanceOptions | 'help' {
  const values: Partial<
    Record<'--model' | '--cases' | '--case' | '--out' | '--nodes' | '--probe-timeout', string>
  > = {};
  let dry = false;
  let keepState = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--dry') {
      dry = true;
      continue;
    }
    if (arg === '--keep-state') {
      keepState = true;
      continue;
    }
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    if (
      flag === '--model' ||
      flag === '--cases' ||
      flag === '--case' ||
      flag === '--out' ||
      flag === '--nodes' ||
      flag === '--probe-timeout'
    ) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
      values[flag] = value;
      continue;
    }
    throw new UsageError(`unknown argument "${arg}"`);
  }
  if (values['--model'] === undefined) throw new UsageError('--model FILE is required');
  if (values['--cases'] === undefined) throw new UsageError('--cases FILE is required');
  const options: ConformanceOptions = { model: values['--model'], cases: values['--cases'], dry };
  if (values['--case'] !== undefined) options.caseFilter = values['--case'];
  if (values['--out'] !== undefined) options.out = values['--out'];
  if (values['--nodes'] !== undefined) options.nodes = positiveInteger('--nodes', values['--nodes']);
  if (values['--probe-timeout'] !== undefined) {
    options.probeTimeoutMs = positiveInteger('--probe-timeout', values['--probe-timeout']);
  }
  if (keepState) options.keepState = true;
  return options;
}

function positiveInteger(flag: string, text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1)) throw new UsageError(`${flag} needs a positive integer, not "${text}"`);
  return value;
}

export interface ConformanceIo {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Runs the runner; returns the exit code (0 no case failed, 1 some failed, 2 usage or unreadable input). Dry runs
 * and bad input answer synchronously; a real-traffic run needs `newLiveRunner` and answers with a promise.
 */
export function runConformance(
  argv: readonly string[],
  io: ConformanceIo,
  newController: () => DryRunController = () => new PolicyController(),
  newLiveRunner?: LiveRunnerFactory,
): number | Promise<number> {
  let options: ConformanceOptions | 'help';
  try {
    options = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`error: ${err.message}`);
    io.err(USAGE);
    return 2;
  }
  if (options === 'help') {
    io.out(USAGE);
    return 0;
  }
  if (!options.dry && (options.nodes ?? 1) > MAX_NODES) {
    io.err(`error: --nodes ${options.nodes}: at most ${MAX_NODES} nodes run on one machine`);
    io.err(USAGE);
    return 2;
  }
  if (!options.dry && newLiveRunner === undefined) {
    io.err('error: this entry point runs --dry only; real traffic runs through scripts/conformance');
    return 2;
  }
  let models: Map<string, Model>;
  let cases: ConformanceCase[];
  try {
    models = parseModelFile(readText(options.model), options.model);
    cases = parseCasesFile(readText(options.cases), options.cases);
  } catch (err) {
    if (!(err instanceof FormatError) && !(err instanceof UsageError)) throw err;
    io.err(`error: ${err.message}`);
    return 2;
  }
  const filter = options.caseFilter;
  const selected = filter === undefined ? cases : cases.filter((c) => c.id.includes(filter));
  if (selected.length === 0) {
    io.err(`error: no case in ${options.cases} matches "${filter ?? ''}"`);
    return 2;
  }
  if (!options.dry && newLiveRunner !== undefined) {
    return runLive(options, models, selected, io, newLiveRunner);
  }
  const results: CaseResult[] = [];
  for (const testCase of selected) {
    const result = runCaseDry(testCase, models.get(testCase.model), newController);
    results.push(result);
    for (const line of caseLines(result, testCase.steps.length > 1)) io.out(line);
  }
  writeReport(options, results, 'dry');
  io.out(summaryLine(results));
  return results.every((r) => r.passed) ? 0 : 1;
}

async function runLive(
  options: ConformanceOptions,
  models: Map<string, Model>,
  selected: ConformanceCase[],
  io: ConformanceIo,
  newLiveRunner: LiveRunnerFactory,
): Promise<number> {
  const used = new Map([...models].filter(([name]) => selected.some((c) => c.model === name)));
  const runner = newLiveRunner({
    nodes: options.nodes ?? 1,
    models: used,
    progress: (line) => io.err(line),
    ...(options.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: options.probeTimeoutMs }),
    ...(options.keepState ? { keepState: true } : {}),
  });
  const results: CaseResult[] = [];
  const started = Date.now();
  try {
    await runner.start();
    for (const [index, testCase] of selected.entries()) {
      io.err(`[${index + 1}/${selected.length}] ${testCase.id}`);
      const result = await runner.runCase(testCase);
      results.push(result);
      for (const line of caseLines(result, testCase.steps.length > 1)) io.out(line);
    }
  } catch (err) {
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    await runner.stop();
    return 2;
  }
  await runner.stop();
  io.err(`${selected.length} case(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  writeReport(options, results, 'live');
  io.out(summaryLine(results, 'live'));
  return results.some((r) => !r.passed) ? 1 : 0;
}

function writeReport(options: ConformanceOptions, results: CaseResult[], mode: 'dry' | 'live'): void {
  if (options.out === undefined) return;
  fs.writeFileSync(
    options.out,
    `${JSON.stringify(jsonReport(options.model, options.cases, results, mode), null, 2)}\n`,
  );
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

if (require.main === module) {
  const io: ConformanceIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
  let live: LiveRunner | undefined;
  let interrupted = false;
  // One node keeps the standalone path exactly; more nodes run in cluster mode.
  const newLiveRunner: LiveRunnerFactory = (options) =>
    (live = options.nodes > 1 ? new ClusterConformance(options) : new LiveConformance(options));
  // SIGINT/SIGTERM: stop helpers, delete pods and the node before leaving; a second signal leaves at once.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      io.err(`${signal}: cleaning up`);
      void (live?.stop() ?? Promise.resolve()).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  void Promise.resolve(runConformance(process.argv.slice(2), io, undefined, newLiveRunner)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      io.err(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      void (live?.stop() ?? Promise.resolve()).finally(() => process.exit(2));
    },
  );
}
