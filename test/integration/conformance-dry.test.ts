// scripts/conformance --dry as a user runs it: a separate process on the seed case and on every case file of
// test/fixtures/conformance, plus a deliberately wrong case that must fail.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/conformance');
const RUNNER = path.join(REPO_ROOT, 'scripts/lib/conformance.ts');
const SEED_MODEL = path.join(FIXTURES, 'seed-model.json');
const SEED_CASES = path.join(FIXTURES, 'seed-cases.json');
const MODEL = path.join(FIXTURES, 'model.json');
const CASE_FILES = ['k8s-cases.json', 'antrea-cases.json'];

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const runner = (...args: string[]) => run(process.execPath, ['--import', 'tsx', RUNNER, ...args]);

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}

function caseCount(file: string): number {
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as unknown[]).length;
}

describe('scripts/conformance --dry', function () {
  this.timeout(120000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conformance-dry-'));
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('passes the seed case', async () => {
    const result = await runner('--dry', '--model', SEED_MODEL, '--cases', SEED_CASES);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^PASS seed: nginx-allow walkthrough$/m);
    assert.equal(lastLine(result.stdout), '1 passed, 0 failed');
  });

  for (const name of CASE_FILES) {
    it(`passes every case of ${name}`, async () => {
      const file = path.join(FIXTURES, name);
      const count = caseCount(file);
      assert.ok(count >= 40, `${name} has only ${count} cases`);
      const result = await runner('--dry', '--model', MODEL, '--cases', file);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(lastLine(result.stdout), `${count} passed, 0 failed`);
      assert.equal(result.stdout.match(/^PASS /gm)?.length, count);
    });
  }

  it('fails a case with one flipped expectation and names the pair', async () => {
    const cases = JSON.parse(fs.readFileSync(SEED_CASES, 'utf8')) as {
      id: string;
      steps: { expected: Record<string, Record<string, Record<string, boolean>>> }[];
    }[];
    const row = cases[0]?.steps[1]?.expected['TCP/80']?.['default/ch-busybox'];
    assert.ok(row, 'the seed case changed shape');
    assert.equal(row['default/nginx-deployment-cc7df4f8f-69cm2'], false);
    row['default/nginx-deployment-cc7df4f8f-69cm2'] = true;
    const wrong = path.join(dir, 'wrong-cases.json');
    fs.writeFileSync(wrong, JSON.stringify(cases));
    const report = path.join(dir, 'report.json');

    const result = await runner('--dry', '--model', SEED_MODEL, '--cases', wrong, '--out', report);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /^FAIL seed: nginx-allow walkthrough$/m);
    const failures = result.stdout.split('\n').filter((line) => line.startsWith('  '));
    assert.equal(failures.length, 1, result.stdout);
    assert.match(
      failures[0] ?? '',
      /step 2 "nginx-allow blocks busybox": TCP\/80 default\/ch-busybox -> default\/nginx-deployment-cc7df4f8f-69cm2: expected true, got false \(Drop by K8sNetworkPolicy default\/nginx-allow ingress isolation/,
    );
    assert.equal(lastLine(result.stdout), '0 passed, 1 failed');

    const json = JSON.parse(fs.readFileSync(report, 'utf8')) as {
      passed: number;
      failed: number;
      cases: { id: string; status: string; failures: { from: string; to: string; got: string }[] }[];
    };
    assert.equal(json.passed, 0);
    assert.equal(json.failed, 1);
    assert.equal(json.cases[0]?.status, 'FAIL');
    assert.deepEqual(
      json.cases[0]?.failures.map((f) => [f.from, f.to, f.got]),
      [['default/ch-busybox', 'default/nginx-deployment-cc7df4f8f-69cm2', 'Dropped']],
    );
  });

  it('fails a case whose policy is invalid, with the field errors', async () => {
    const cases = [
      {
        id: 'invalid policy',
        kind: 'k8s',
        model: 'seed',
        policies: [
          {
            apiVersion: 'networking.k8s.io/v1',
            kind: 'NetworkPolicy',
            metadata: { name: 'bad', namespace: 'default' },
            spec: {
              podSelector: {},
              ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }], ports: [{ port: 70000 }] }],
            },
          },
        ],
        probes: [{ proto: 'TCP', port: 80 }],
        expected: { 'TCP/80': { 'default/ch-busybox': { 'cassandra/cassandra-1': true } } },
      },
    ];
    const file = path.join(dir, 'invalid-cases.json');
    fs.writeFileSync(file, JSON.stringify(cases));
    const result = await runner('--dry', '--model', SEED_MODEL, '--cases', file);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /^FAIL invalid policy$/m);
    assert.match(result.stdout, /spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr/);
    assert.match(result.stdout, /spec\.ingress\[0\]\.ports\[0\]\.port/);
    assert.equal(lastLine(result.stdout), '0 passed, 1 failed');
  });

  it('selects cases by --case and ignores --nodes', async () => {
    const file = path.join(FIXTURES, 'antrea-cases.json');
    const some = await runner('--dry', '--model', MODEL, '--cases', file, '--case', 'Reject');
    assert.equal(some.code, 0, some.stdout + some.stderr);
    const ids = some.stdout.match(/^PASS .*$/gm) ?? [];
    assert.ok(ids.length >= 3 && ids.every((line) => line.includes('Reject')), some.stdout);
    assert.equal(lastLine(some.stdout), `${ids.length} passed, 0 failed`);

    // --dry ignores --nodes (only real traffic needs the pods spread over nodes).
    const nodes = await runner(
      '--dry',
      '--model',
      MODEL,
      '--cases',
      file,
      '--case',
      'Reject',
      '--nodes',
      '3',
    );
    assert.equal(nodes.code, 0, nodes.stdout + nodes.stderr);
    assert.equal(lastLine(nodes.stdout), `${ids.length} passed, 0 failed`);

    const usage = await runner('--dry', '--cases', file);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--model FILE is required/);
  });

  it('runs through the scripts/conformance wrapper', async () => {
    const result = await run(path.join(REPO_ROOT, 'scripts/conformance'), [
      '--dry',
      '--model',
      SEED_MODEL,
      '--cases',
      SEED_CASES,
    ]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(lastLine(result.stdout), '1 passed, 0 failed');
  });

  it('has case files that match their sources in scripts/lib/conformance/cases', async () => {
    const result = await run(process.execPath, [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'scripts/lib/conformance/build-fixtures.ts'),
      '--check',
    ]);
    assert.equal(
      result.code,
      0,
      `regenerate with scripts/lib/conformance/build-fixtures.ts: ${result.stderr}`,
    );
  });
});
