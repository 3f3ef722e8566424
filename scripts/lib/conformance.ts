// scripts/conformance: runs reachability cases (../shared/conformance/FORMAT.md). `--dry` evaluates them with
// the policy controller and the what-if evaluator only; real traffic through the data plane comes later.
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
import { caseLines, jsonReport, summaryLine } from './conformance/report';

export const USAGE =
  'usage: scripts/conformance --model FILE --cases FILE [--case SUBSTR] [--out FILE] --dry\n' +
  '  --model FILE   models (namespaces, pods, container ports)\n' +
  '  --cases FILE   a JSON array of cases\n' +
  '  --case SUBSTR  only the cases whose id contains SUBSTR\n' +
  '  --out FILE     also write a JSON report there\n' +
  '  --dry          evaluate with the policy controller only (no data plane)';

export interface ConformanceOptions {
  model: string;
  cases: string;
  caseFilter?: string;
  out?: string;
  dry: boolean;
}

export class UsageError extends Error {
  readonly code = 'ConformanceUsage';
}

export function parseArgs(argv: readonly string[]): ConformanceOptions | 'help' {
  const values: Partial<Record<'--model' | '--cases' | '--case' | '--out', string>> = {};
  let dry = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--dry') {
      dry = true;
      continue;
    }
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    if (flag === '--model' || flag === '--cases' || flag === '--case' || flag === '--out') {
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
  return options;
}

export interface ConformanceIo {
  out(line: string): void;
  err(line: string): void;
}

/** Runs the runner; returns the exit code (0 all passed, 1 some failed, 2 usage or unreadable input). */
export function runConformance(
  argv: readonly string[],
  io: ConformanceIo,
  newController: () => DryRunController = () => new PolicyController(),
): number {
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
  if (!options.dry) {
    io.err('real-traffic conformance is not implemented yet; use --dry');
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
  const results: CaseResult[] = [];
  for (const testCase of selected) {
    const result = runCaseDry(testCase, models.get(testCase.model), newController);
    results.push(result);
    for (const line of caseLines(result, testCase.steps.length > 1)) io.out(line);
  }
  if (options.out !== undefined) {
    fs.writeFileSync(
      options.out,
      `${JSON.stringify(jsonReport(options.model, options.cases, results), null, 2)}\n`,
    );
  }
  io.out(summaryLine(results));
  return results.every((r) => r.passed) ? 0 : 1;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

if (require.main === module) {
  process.exitCode = runConformance(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
