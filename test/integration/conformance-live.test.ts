// scripts/conformance with real traffic, as a user runs it: each run starts its own private node, creates the
// model's pods through the CNI plugin and probes with real connections. Covers the seed walkthrough, a selection
// of our fixture cases across both case files and all three models (TCP, UDP, Reject verdicts, SCTP skipped,
// multi-step relabelling, model switches), a flipped expectation that must fail naming its pair, --nodes 10, and
// clean-up after SIGTERM.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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
import type { RunResult } from '../support/run';

const SCRIPT = path.join(REPO_ROOT, 'scripts/conformance');

/** Fixture cases run here: every protocol and verdict kind, multi-step cases, and all three models. */
const SELECTION: Record<string, string[]> = {
  'k8s-cases.json': [
    'k8s: default-deny-ingress', // TCP, UDP and SCTP (skipped)
    'k8s: allow ingress from pods of the same namespace by podSelector',
    'k8s: ingress from a pod once it gets the label', // pod relabelling, 3 steps
    'k8s: relabeling a namespace selects its pods', // namespace relabelling, 3 steps
    'k8s: policies stop applying once deleted', // deletion must reach OVS before probing
    'k8s: egress allowed only for UDP',
  ],
  'antrea-cases.json': [
    'antrea: Reject on ingress answers TCP, UDP and SCTP', // expectedVerdicts Rejected
    'antrea: ACNP Drop egress from pods a to namespace z, TCP only',
    'antrea: ClusterGroup serviceReference follows the Service',
    'antrea: namespaces sameLabels [purpose] follows namespace labels', // the "tenants" model
    'antrea: deleting a policy restores traffic',
  ],
};

function conformance(
  args: string[],
  onStderr?: (text: string, kill: () => void) => void,
): Promise<RunResult> {
  return runFromRepo(SCRIPT, args, onStderr);
}

/** Network namespaces of conformance runs (their names start with "aecf"). */
function conformanceNetns(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith('aecf'))
    .sort();
}

describe('scripts/conformance with real traffic', function () {
  this.timeout(600_000);
  let dir: string;
  let netnsBefore: string[];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conformance-live-'));
    netnsBefore = conformanceNetns();
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('passes the seed walkthrough and leaves nothing behind', async () => {
    const result = await conformance(['--model', SEED_MODEL, '--cases', SEED_CASES]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^PASS seed: nginx-allow walkthrough$/m);
    assert.equal(lastLine(result.stdout), '1 passed, 0 failed, 0 skipped');
    assert.match(result.stderr, /^\[1\/1\] seed: nginx-allow walkthrough$/m);
    assert.deepEqual(conformanceNetns(), netnsBefore);
  });

  it('passes a selection of our fixture cases across both files and all models', async () => {
    const selected: unknown[] = [];
    for (const [file, ids] of Object.entries(SELECTION)) {
      const cases = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as { id: string }[];
      for (const id of ids) {
        const found = cases.find((c) => c.id === id);
        assert.ok(found, `${file} has no case "${id}"`);
        selected.push(found);
      }
    }
    const file = path.join(dir, 'selection.json');
    fs.writeFileSync(file, JSON.stringify(selected));
    const report = path.join(dir, 'selection-report.json');

    const result = await conformance(['--model', MODEL, '--cases', file, '--out', report]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    // Cases with SCTP pairs cannot be fully verified on this kernel: SKIP, never PASS.
    const withSctp = [
      'k8s: default-deny-ingress',
      'k8s: egress allowed only for UDP',
      'antrea: Reject on ingress answers TCP, UDP and SCTP',
      'antrea: ACNP Drop egress from pods a to namespace z, TCP only',
    ];
    for (const id of withSctp) assert.ok(result.stdout.includes(`SKIP ${id}\n`), `${id}:\n${result.stdout}`);
    const total = selected.length;
    assert.equal(
      lastLine(result.stdout),
      `${total - withSctp.length} passed, 0 failed, ${withSctp.length} skipped`,
    );
    const json = JSON.parse(fs.readFileSync(report, 'utf8')) as {
      mode: string;
      cases: { id: string; status: string; pairsChecked: number; skipped: { probe: string }[] }[];
    };
    assert.equal(json.mode, 'live');
    assert.ok(json.cases.every((c) => c.pairsChecked > 0));
    assert.ok(
      json.cases.every((c) => c.skipped.every((s) => s.probe.startsWith('SCTP/'))),
      'only SCTP pairs are skipped',
    );
    assert.deepEqual(conformanceNetns(), netnsBefore);
  });

  it('fails a case with one flipped expectation, naming the pair, and exits 1', async () => {
    const wrong = path.join(dir, 'wrong-cases.json');
    writeFlippedSeedCases(wrong);
    const report = path.join(dir, 'wrong-report.json');

    const result = await conformance(['--model', SEED_MODEL, '--cases', wrong, '--out', report]);
    assert.match(
      onlyFailureOfFlippedSeed(result),
      /^ {2}step 2 "nginx-allow blocks busybox": TCP\/80 default\/ch-busybox -> default\/nginx-deployment-cc7df4f8f-69cm2: expected true, got false \(no answer within \d+ ms.*; the firmware evaluates: Drop by K8sNetworkPolicy default\/nginx-allow/,
    );
    assert.equal(lastLine(result.stdout), '0 passed, 1 failed, 0 skipped');
    const json = JSON.parse(fs.readFileSync(report, 'utf8')) as {
      failed: number;
      cases: {
        status: string;
        failures: { probe: string; from: string; to: string; expected: unknown; got: string }[];
      }[];
    };
    assert.equal(json.failed, 1);
    assert.deepEqual(
      json.cases[0]?.failures.map((f) => [f.probe, f.from, f.to, f.expected, f.got]),
      [['TCP/80', 'default/ch-busybox', 'default/nginx-deployment-cc7df4f8f-69cm2', true, 'Dropped']],
    );
  });

  it('refuses more nodes than one machine runs without starting anything', async () => {
    const result = await conformance(['--model', SEED_MODEL, '--cases', SEED_CASES, '--nodes', '10']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--nodes 10: at most 9 nodes run on one machine/);
    assert.doesNotMatch(result.stderr, /starting/);
  });

  it('cleans up its node, pods and helpers on SIGTERM', async () => {
    let killed = false;
    const result = await conformance(['--model', SEED_MODEL, '--cases', SEED_CASES], (stderr, kill) => {
      if (!killed && stderr.includes('[1/1]') && stderr.includes('SCTP probes')) {
        killed = true;
        kill();
      }
    });
    assert.ok(killed, result.stderr);
    assert.equal(result.code, 143, result.stderr);
    assert.match(result.stderr, /SIGTERM: cleaning up/);
    const podPrefix = /pods in netns (aecf[0-9a-f]+)-\*/.exec(result.stderr)?.[1];
    assert.ok(podPrefix, result.stderr);
    assert.deepEqual(conformanceNetns(), netnsBefore);
    const helpers = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('pod-agent.py') && line.includes(podPrefix));
    assert.deepEqual(helpers, []);
  });
});
