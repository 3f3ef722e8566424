// scripts/conformance as its tests run it: the fixture paths, the command (from the repository root, no time
// limit, stdin at EOF) and what its output ends with.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, type RunOptions, type RunResult } from './run';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/conformance');
export const SEED_MODEL = path.join(FIXTURES, 'seed-model.json');
export const SEED_CASES = path.join(FIXTURES, 'seed-cases.json');
export const MODEL = path.join(FIXTURES, 'model.json');

/** Runs a command from the repository root until it exits, however long that takes. */
export function runFromRepo(
  cmd: string,
  args: string[],
  onStderr?: RunOptions['onStderr'],
): Promise<RunResult> {
  return run(cmd, args, { cwd: REPO_ROOT, timeoutMs: 0, input: '', onStderr });
}

/** The last line of a report: its "N passed, M failed…" summary. */
export function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}

/**
 * Writes the seed cases to `file` with one expectation flipped: busybox -> the first nginx on TCP/80 becomes
 * allowed in step 2, where nginx-allow really drops it.
 */
export function writeFlippedSeedCases(file: string): void {
  const cases = JSON.parse(fs.readFileSync(SEED_CASES, 'utf8')) as {
    steps: { expected: Record<string, Record<string, Record<string, boolean>>> }[];
  }[];
  const row = cases[0]?.steps[1]?.expected['TCP/80']?.['default/ch-busybox'];
  assert.ok(row, 'the seed case changed shape');
  assert.equal(row['default/nginx-deployment-cc7df4f8f-69cm2'], false);
  row['default/nginx-deployment-cc7df4f8f-69cm2'] = true;
  fs.writeFileSync(file, JSON.stringify(cases));
}

/** Asserts that a run of the flipped seed cases failed on exactly one pair; returns that pair's report line. */
export function onlyFailureOfFlippedSeed(result: RunResult): string {
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /^FAIL seed: nginx-allow walkthrough$/m);
  const failures = result.stdout.split('\n').filter((line) => line.startsWith('  '));
  assert.equal(failures.length, 1, result.stdout);
  return failures[0] ?? '';
}
