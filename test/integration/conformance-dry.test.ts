// scripts/conformance --dry as a user runs it: a separate process on the seed case and on every case file of
// test/fixtures/conformance, plus a deliberately wrong case that must fail.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  FIXTURES,
  lastLine,
  MODEL,
  onlyFailureOfFlippedSeed,
  REPO_ROOT,
  runFromRepo,
  SEED_CASES,
  SEED_MODEL,
  writeFlippedSeedCases,
} from '../support/conformance';

const RUNNER = path.join(REPO_ROOT, 'scripts/lib/conformance.ts');
const CASE_FILES = ['k8s-cases.json', 'antrea-cases.json'];

const runner = (...args: string[]) => runFromRepo(process.execPath, ['--import', 'tsx', RUNNER, ...args]);

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
    const wrong = path.join(dir, 'wrong-cases.json');
    writeFlippedSeedCases(wrong);
    const report = path.join(dir, 'report.json');

    const result = await runner('--dry', '--model', SEED_MODEL, '--cases', wrong, '--out', report);
    assert.match(
      onlyFailureOfFlippedSeed(result),
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
    const result = await runFromRepo(path.join(REPO_ROOT, 'scripts/conformance'), [
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
    const result = await runFromRepo(process.execPath, [
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
