// scripts/conformance --nodes 3: three cluster-mode nodes (one in-process API server, Geneve between the nodes),
// the model's pods spread round-robin, each step written to the API and waited for on every node, real probes
// between pods of different nodes. One run covers the seed walkthrough, four of our cases with cross-node pairs
// (pod and namespace relabelling, a deletion, a ClusterGroup update, egress Reject) and a copy of one of them
// with one expectation flipped, which must fail naming exactly that pair; nothing is left behind.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES, lastLine, REPO_ROOT, runFromRepo, SEED_CASES, SEED_MODEL } from '../support/conformance';

const SCRIPT = path.join(REPO_ROOT, 'scripts/conformance');
const OURS: Record<string, string[]> = {
  'k8s-cases.json': [
    'k8s: ingress from a pod once it gets the label',
    'k8s: policies stop applying once deleted',
  ],
  'antrea-cases.json': [
    'antrea: updating a ClusterGroup selector moves the policy',
    'antrea: Reject on egress',
  ],
};
/**
 * Cross-node ingress Reject (the refusal goes back through the tunnel to the client's node). Its SCTP pairs are
 * skipped (no SCTP in this kernel), so the case reports SKIP when every TCP and UDP pair matched, FAIL otherwise.
 */
const SKIPPED_SCTP = 'antrea: Reject on ingress answers TCP, UDP and SCTP';
const FLIPPED_ID = 'flipped: k8s: policies stop applying once deleted';

interface StepJson {
  expected: Record<string, Record<string, Record<string, boolean | string>>>;
}
interface CaseJson {
  id: string;
  model: string;
  steps?: StepJson[];
  expected?: StepJson['expected'];
}

const aeccNetns = (): string[] =>
  (fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns') : []).filter((n) =>
    n.startsWith('aecccf'),
  );

/** The seed model and ours in one model file, the seed case, ours, and a flipped copy of one of ours. */
function writeInputs(dir: string): { model: string; cases: string; flipped: { from: string; to: string } } {
  const seedModels = JSON.parse(fs.readFileSync(SEED_MODEL, 'utf8')) as { models: Record<string, unknown> };
  const ourModels = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'model.json'), 'utf8')) as {
    models: Record<string, unknown>;
  };
  const model = path.join(dir, 'model.json');
  fs.writeFileSync(model, JSON.stringify({ models: { ...ourModels.models, ...seedModels.models } }));
  const cases: CaseJson[] = JSON.parse(fs.readFileSync(SEED_CASES, 'utf8')) as CaseJson[];
  for (const [file, ids] of Object.entries(OURS)) {
    const all = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as CaseJson[];
    for (const id of ids) {
      const found = all.find((c) => c.id === id);
      assert.ok(found, `fixture case "${id}" is gone`);
      cases.push(found);
    }
  }
  const antrea = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'antrea-cases.json'), 'utf8')) as CaseJson[];
  const reject = antrea.find((c) => c.id === SKIPPED_SCTP);
  assert.ok(reject, `fixture case "${SKIPPED_SCTP}" is gone`);
  cases.push(reject);
  const copy = structuredClone(
    cases.find((c) => c.id === 'k8s: policies stop applying once deleted'),
  ) as CaseJson;
  copy.id = FLIPPED_ID;
  // The first table's first pair that crosses nodes (x/a on node 1, x/b on node 2: round-robin in model order).
  const table = copy.steps?.[0]?.expected ?? copy.expected;
  const row = Object.values(table ?? {})[0]?.['x/a'];
  assert.ok(row && typeof row['x/b'] === 'boolean', 'the flipped case changed shape');
  row['x/b'] = !row['x/b'];
  cases.push(copy);
  const casesFile = path.join(dir, 'cases.json');
  fs.writeFileSync(casesFile, JSON.stringify(cases));
  return { model, cases: casesFile, flipped: { from: 'x/a', to: 'x/b' } };
}

describe('scripts/conformance --nodes 3 (cluster mode)', function () {
  this.timeout(600_000);
  let dir: string;
  let netnsBefore: Set<string>;
  let result: Awaited<ReturnType<typeof runFromRepo>>;
  let flipped: { from: string; to: string };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conformance-cluster-'));
    netnsBefore = new Set(aeccNetns());
    const inputs = writeInputs(dir);
    flipped = inputs.flipped;
    result = await runFromRepo(SCRIPT, ['--model', inputs.model, '--cases', inputs.cases, '--nodes', '3']);
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('spreads the pods round-robin over three cluster-mode nodes and says where each pod is', () => {
    assert.match(result.stderr, /starting 3 cluster-mode nodes/);
    assert.match(result.stderr, /creating the 9 pods of model "k8s-xyz" round-robin on 3 nodes/);
    assert.match(
      result.stderr,
      /^ {2}aecc-cf[0-9a-f]+-node1: x\/a 10\.78\.1\.\d+, y\/a 10\.78\.1\.\d+, z\/a /m,
    );
    assert.match(result.stderr, /^ {2}aecc-cf[0-9a-f]+-node2: x\/b 10\.78\.2\.\d+, y\/b /m);
    assert.match(result.stderr, /^ {2}aecc-cf[0-9a-f]+-node3: x\/c 10\.78\.3\.\d+, y\/c /m);
  });

  it('passes the seed walkthrough and our cases with cross-node pairs', () => {
    assert.match(result.stdout, /^PASS seed: nginx-allow walkthrough$/m);
    for (const id of Object.values(OURS).flat()) {
      assert.match(result.stdout, new RegExp(`^PASS ${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    }
  });

  it('answers cross-node ingress Reject through the tunnel: only the SCTP pairs are skipped', () => {
    const block = result.stdout.split(`SKIP ${SKIPPED_SCTP}\n`)[1]?.split(/\n(?! {2})/)[0];
    assert.ok(block !== undefined, `no SKIP line for ${SKIPPED_SCTP}:\n${result.stdout}`);
    assert.match(block, /^ {2}skipped SCTP\/81: \d+ pairs/m);
    assert.doesNotMatch(block, /expected/, 'no TCP or UDP pair differs');
  });

  it('fails the flipped expectation, naming exactly that pair and where its pods run', () => {
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.equal(lastLine(result.stdout), '5 passed, 1 failed, 1 skipped');
    const block = result.stdout.split(`FAIL ${FLIPPED_ID}\n`)[1] ?? '';
    const failures = block.split('\n').filter((line) => line.startsWith('  '));
    assert.equal(failures.length, 1, result.stdout);
    assert.match(
      failures[0] ?? '',
      new RegExp(
        `TCP/80 ${flipped.from} -> ${flipped.to}: expected (true|false), got (true|false) .*${flipped.from} on aecc-cf[0-9a-f]+-node1, ${flipped.to} on aecc-cf[0-9a-f]+-node2`,
      ),
    );
  });

  it('leaves no namespace behind', () => {
    assert.deepEqual(
      aeccNetns().filter((name) => !netnsBefore.has(name)),
      [],
    );
  });
});
