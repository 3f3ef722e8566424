// Runner output: `PASS <id>` / `FAIL <id>` with one indented line per problem, a final `N passed, N failed`,
// and the same facts as a JSON report for tools.
import type { CaseResult, PairFailure } from './dry-run';

export function caseLines(result: CaseResult, multiStep: boolean): string[] {
  const lines = [`${result.passed ? 'PASS' : 'FAIL'} ${result.id}`];
  for (const error of result.errors) lines.push(`  ${error}`);
  for (const failure of result.failures) lines.push(`  ${failureText(failure, multiStep)}`);
  return lines;
}

export function failureText(failure: PairFailure, multiStep: boolean): string {
  const step = multiStep ? `step ${failure.step}${failure.stepName ? ` "${failure.stepName}"` : ''}: ` : '';
  const got = typeof failure.expected === 'boolean' ? String(failure.got === 'Connected') : failure.got;
  return (
    `${step}${failure.probe} ${failure.from} -> ${failure.to}: ` +
    `expected ${String(failure.expected)}, got ${got} (${failure.explanation})`
  );
}

export function summaryLine(results: readonly CaseResult[]): string {
  const passed = results.filter((r) => r.passed).length;
  return `${passed} passed, ${results.length - passed} failed`;
}

export interface JsonReport {
  mode: 'dry';
  modelFile: string;
  casesFile: string;
  passed: number;
  failed: number;
  cases: (CaseResult & { status: 'PASS' | 'FAIL' })[];
}

export function jsonReport(modelFile: string, casesFile: string, results: readonly CaseResult[]): JsonReport {
  const passed = results.filter((r) => r.passed).length;
  return {
    mode: 'dry',
    modelFile,
    casesFile,
    passed,
    failed: results.length - passed,
    cases: results.map((r) => ({ ...r, status: r.passed ? 'PASS' : 'FAIL' })),
  };
}
