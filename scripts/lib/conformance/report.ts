// Runner output: `PASS <id>` / `FAIL <id>` / `SKIP <id>` with one indented line per problem, a final
// `N passed, N failed` (dry) or `N passed, N failed, N skipped` (real traffic), and the same facts as a JSON
// report for tools. A case with pairs that could not be probed is never PASS: SKIP when nothing else failed.
import type { CaseResult, PairFailure, SkippedPair } from './dry-run';

export type CaseStatus = 'PASS' | 'FAIL' | 'SKIP';

export function caseStatus(result: CaseResult): CaseStatus {
  if (!result.passed) return 'FAIL';
  return (result.skipped?.length ?? 0) > 0 ? 'SKIP' : 'PASS';
}

export function caseLines(result: CaseResult, multiStep: boolean): string[] {
  const lines = [`${caseStatus(result)} ${result.id}`];
  for (const error of result.errors) lines.push(`  ${error}`);
  for (const failure of result.failures) lines.push(`  ${failureText(failure, multiStep)}`);
  for (const line of skippedLines(result.skipped ?? [], multiStep)) lines.push(`  ${line}`);
  if ((result.skipped?.length ?? 0) > 0) {
    lines.push(`  ${result.pairsChecked} other expectation(s) checked`);
  }
  return lines;
}

export function failureText(failure: PairFailure, multiStep: boolean): string {
  const got = typeof failure.expected === 'boolean' ? String(failure.got === 'Connected') : failure.got;
  return (
    `${stepPrefix(failure, multiStep)}${failure.probe} ${failure.from} -> ${failure.to}: ` +
    `expected ${String(failure.expected)}, got ${got} (${failure.explanation})`
  );
}

/** One line per step, probe and reason: "skipped SCTP/80: 72 pairs (SCTP sockets are not available: ...)". */
export function skippedLines(skipped: readonly SkippedPair[], multiStep: boolean): string[] {
  const groups = new Map<string, { first: SkippedPair; count: number }>();
  for (const pair of skipped) {
    const key = `${pair.step}\n${pair.probe}\n${pair.reason}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { first: pair, count: 1 });
    else group.count++;
  }
  return [...groups.values()].map(
    ({ first, count }) =>
      `${stepPrefix(first, multiStep)}skipped ${first.probe}: ${count} pair${count === 1 ? '' : 's'} ` +
      `(${first.reason})`,
  );
}

function stepPrefix(where: { step: number; stepName: string }, multiStep: boolean): string {
  return multiStep ? `step ${where.step}${where.stepName ? ` "${where.stepName}"` : ''}: ` : '';
}

export interface SummaryCounts {
  passed: number;
  failed: number;
  skipped: number;
}

export function summaryCounts(results: readonly CaseResult[]): SummaryCounts {
  const counts: SummaryCounts = { passed: 0, failed: 0, skipped: 0 };
  for (const result of results) {
    const status = caseStatus(result);
    if (status === 'PASS') counts.passed++;
    else if (status === 'FAIL') counts.failed++;
    else counts.skipped++;
  }
  return counts;
}

/** Dry runs never skip and keep their two-part line; real-traffic runs always say how many were skipped. */
export function summaryLine(results: readonly CaseResult[], mode: 'dry' | 'live' = 'dry'): string {
  const { passed, failed, skipped } = summaryCounts(results);
  return mode === 'dry'
    ? `${passed} passed, ${failed} failed`
    : `${passed} passed, ${failed} failed, ${skipped} skipped`;
}

export interface JsonReport {
  mode: 'dry' | 'live';
  modelFile: string;
  casesFile: string;
  passed: number;
  failed: number;
  skipped: number;
  cases: (CaseResult & { status: CaseStatus })[];
}

export function jsonReport(
  modelFile: string,
  casesFile: string,
  results: readonly CaseResult[],
  mode: 'dry' | 'live' = 'dry',
): JsonReport {
  return {
    mode,
    modelFile,
    casesFile,
    ...summaryCounts(results),
    cases: results.map((r) => ({ ...r, status: caseStatus(r) })),
  };
}
