// The pure parts of the real-traffic conformance runner: pod subnet choice, step diffs, pairs, verdicts,
// report lines, arguments, and the run loop against a fake live runner.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  parseArgs,
  runConformance,
  type LiveRunner,
  type LiveRunnerFactory,
} from '../../scripts/lib/conformance';
import { parseCasesFile, parseModelFile, type Model } from '../../scripts/lib/conformance/case-format';
import type { CaseResult } from '../../scripts/lib/conformance/dry-run';
import {
  agrees,
  choosePodCidr,
  collectPairs,
  desiredState,
  emptyNodeState,
  judgeStep,
  modelState,
  outcomeOf,
  pairKey,
  planChanges,
  requestableIp,
  type NodeState,
  type ProbeOutcome,
} from '../../scripts/lib/conformance/live-plan';
import { servedPorts } from '../../scripts/lib/conformance/live-run';
import { caseLines, caseStatus, jsonReport, summaryLine } from '../../scripts/lib/conformance/report';

const MODEL_JSON = {
  models: {
    tiny: {
      namespaces: {
        x: { labels: { 'kubernetes.io/metadata.name': 'x', ns: 'x' } },
        y: { labels: { 'kubernetes.io/metadata.name': 'y', ns: 'y' } },
      },
      pods: {
        'x/a': { namespace: 'x', name: 'a', labels: { pod: 'a' } },
        'y/a': { namespace: 'y', name: 'a', labels: { pod: 'a' } },
      },
      containerPorts: [
        { name: 'serve-80', containerPort: 80, protocol: 'TCP', serves: ['TCP', 'UDP', 'SCTP'] },
        { name: 'serve-81', containerPort: 81, protocol: 'UDP' },
        { name: 'serve-81-tcp', containerPort: 81, protocol: 'TCP' },
        { name: 'again-80', containerPort: 80, protocol: 'UDP' },
      ],
    },
  },
};

function tinyModel(): Model {
  const model = parseModelFile(JSON.stringify(MODEL_JSON), 'model.json').get('tiny');
  assert.ok(model);
  return model;
}

const denyIngress = (ns: string, name = 'deny') => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns },
  spec: { podSelector: {} },
});

const tier = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'Tier',
  metadata: { name: 'first' },
  spec: { priority: 10 },
};

const ipBlockPolicy = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'cidr', namespace: 'y' },
  spec: {
    podSelector: {},
    ingress: [{ from: [{ ipBlock: { cidr: { cidrOfPod: 'x/a', prefix: 24 } } }] }],
  },
};

function stepOf(raw: Record<string, unknown>) {
  const parsed = parseCasesFile(JSON.stringify([{ id: 'c', kind: 'k8s', model: 'tiny', ...raw }]), 'c.json');
  const step = parsed[0]?.steps[0];
  assert.ok(step, JSON.stringify(parsed[0]?.problems));
  return step;
}

describe('conformance live: pod subnet', () => {
  it('keeps the default subnet when no pod wishes for an address', () => {
    assert.equal(choosePodCidr([], 9), '10.10.0.0/24');
    assert.equal(choosePodCidr(['not-an-ip'], 9), '10.10.0.0/24');
  });

  it('fits the wished addresses as usable pod addresses', () => {
    assert.equal(choosePodCidr(['10.244.1.5', '10.244.1.9'], 2), '10.244.1.0/24');
    // 10.244.1.1 would be the gateway of 10.244.1.0/24: widen until it is an ordinary address.
    assert.equal(choosePodCidr(['10.244.1.1', '10.244.1.2'], 2), '10.244.0.0/23');
    assert.equal(choosePodCidr(['10.244.1.5', '10.244.3.5'], 2), '10.244.0.0/22');
  });

  it('gives up wishes that no /16 can hold, keeping the subnet around most of them', () => {
    const cidr = choosePodCidr(['10.1.0.5', '10.1.0.6', '192.168.7.7'], 3);
    assert.equal(cidr, '10.1.0.0/24');
    assert.equal(requestableIp('10.1.0.6', cidr, new Set()), '10.1.0.6');
    assert.equal(requestableIp('192.168.7.7', cidr, new Set()), undefined);
    assert.equal(requestableIp('10.1.0.1', cidr, new Set()), undefined, 'the gateway');
    assert.equal(requestableIp('10.1.0.255', cidr, new Set()), undefined, 'broadcast');
    assert.equal(requestableIp('10.1.0.6', cidr, new Set(['10.1.0.6'])), undefined, 'taken');
    assert.equal(requestableIp(undefined, cidr, new Set()), undefined);
  });

  it('widens for models with more pods than a /24 holds', () => {
    assert.equal(choosePodCidr([], 300), '10.10.0.0/23');
  });
});

describe('conformance live: step diffs', () => {
  const ips = new Map([
    ['x/a', '10.10.0.2'],
    ['y/a', '10.10.0.3'],
  ]);

  function applied(state: NodeState, desired: ReturnType<typeof modelState>): NodeState {
    const changes = planChanges(state, desired);
    for (const entry of changes.apply) state.objects.set(entry.key, { json: entry.json, rank: entry.rank });
    for (const key of changes.delete) state.objects.delete(key);
    for (const [key, labels] of changes.podLabels) state.podLabels.set(key, JSON.stringify(labels));
    for (const [key, labels] of changes.namespaceLabels)
      state.namespaceLabels.set(key, JSON.stringify(labels));
    return state;
  }

  it('sets the model labels on a fresh node, then changes nothing for the same snapshot', () => {
    const model = tinyModel();
    const first = planChanges(emptyNodeState(), modelState(model));
    assert.deepEqual(
      first.namespaceLabels.map(([name]) => name),
      ['x', 'y'],
    );
    assert.deepEqual(first.namespaceLabels[0]?.[1], { 'kubernetes.io/metadata.name': 'x', ns: 'x' });
    assert.equal(first.podLabels.length, 2);
    const state = applied(emptyNodeState(), modelState(model));
    const again = planChanges(state, modelState(model));
    assert.deepEqual(again, { namespaceLabels: [], podLabels: [], apply: [], delete: [] });
  });

  it('applies tiers before policies, resolves cidrOfPod, and deletes policies before tiers', () => {
    const model = tinyModel();
    const state = applied(emptyNodeState(), modelState(model));
    const step1 = desiredState(model, stepOf({ policies: [denyIngress('x'), ipBlockPolicy, tier] }), ips);
    assert.ok('state' in step1);
    const changes1 = planChanges(state, step1.state);
    assert.deepEqual(
      changes1.apply.map((e) => e.key),
      ['Tier//first', 'K8sNetworkPolicy/x/deny', 'K8sNetworkPolicy/y/cidr'],
    );
    const cidr = changes1.apply[2]?.object as typeof ipBlockPolicy & {
      spec: { ingress: [{ from: [{ ipBlock: { cidr: string } }] }] };
    };
    assert.equal(cidr.spec.ingress[0].from[0].ipBlock.cidr, '10.10.0.2/24');
    applied(state, step1.state);

    // Step 2: the deny policy changes, the tier and the cidr policy go, a pod and a namespace are relabelled.
    const step2 = desiredState(
      model,
      stepOf({
        policies: [{ ...denyIngress('x'), spec: { podSelector: { matchLabels: { pod: 'a' } } } }],
        podLabels: { 'y/a': { pod: 'a', extra: 'yes' } },
        namespaceLabels: { y: { ns: 'y', env: 'test' } },
      }),
      ips,
    );
    assert.ok('state' in step2);
    const changes2 = planChanges(state, step2.state);
    assert.deepEqual(
      changes2.apply.map((e) => e.key),
      ['K8sNetworkPolicy/x/deny'],
    );
    assert.deepEqual(changes2.delete, ['K8sNetworkPolicy/y/cidr', 'Tier//first']);
    assert.deepEqual(changes2.podLabels, [['y/a', { pod: 'a', extra: 'yes' }]]);
    assert.deepEqual(changes2.namespaceLabels, [
      ['y', { ns: 'y', env: 'test', 'kubernetes.io/metadata.name': 'y' }],
    ]);
    applied(state, step2.state);

    // Reset: every object goes and the model's labels come back.
    const reset = planChanges(state, modelState(model));
    assert.deepEqual(reset.delete, ['K8sNetworkPolicy/x/deny']);
    assert.deepEqual(reset.podLabels, [['y/a', { pod: 'a' }]]);
    assert.deepEqual(
      reset.namespaceLabels.map(([name]) => name),
      ['y'],
    );
    assert.equal(reset.apply.length, 0);
  });

  it('reports snapshots it cannot apply', () => {
    const model = tinyModel();
    const unknownPod = desiredState(model, stepOf({ podLabels: { 'z/q': { a: 'b' } } }), ips);
    assert.deepEqual(unknownPod, { error: 'podLabels: unknown pod "z/q"' });
    const unknownNs = desiredState(model, stepOf({ namespaceLabels: { z: {} } }), ips);
    assert.deepEqual(unknownNs, { error: 'namespaceLabels: unknown namespace "z"' });
    const twice = desiredState(model, stepOf({ policies: [denyIngress('x'), denyIngress('x')] }), ips);
    assert.ok('error' in twice && /listed twice/.test(twice.error));
    const notObject = desiredState(model, stepOf({ policies: [{ kind: 'NetworkPolicy' }] }), ips);
    assert.ok('error' in notObject && /not an API object/.test(notObject.error));
  });
});

describe('conformance live: pairs and verdicts', () => {
  it('probes each pair once, with every expectation listed for it', () => {
    const model = tinyModel();
    const step = stepOf({
      expected: {
        'TCP/80,UDP/80': { 'x/a': { 'y/a': true } },
        'TCP/80': { 'x/a': { 'y/a': true, 'z/b': false } },
      },
      expectedVerdicts: { 'TCP/80': { 'x/a': { 'y/a': 'Connected' } } },
    });
    const { pairs, errors } = collectPairs(step, model);
    assert.deepEqual(errors, ['unknown pod "z/b" in an expected table']);
    assert.deepEqual(
      pairs.map((p) => [pairKey(p.probe, p.from, p.to), p.expectations]),
      [
        ['TCP/80 x/a -> y/a', [true, true, 'Connected']],
        ['UDP/80 x/a -> y/a', [true]],
      ],
    );
  });

  it('maps verdicts onto boolean and exact expectations', () => {
    assert.equal(agrees(true, 'Connected'), true);
    assert.equal(agrees(true, 'Dropped'), false);
    assert.equal(agrees(false, 'Dropped'), true);
    assert.equal(agrees(false, 'Rejected'), true);
    assert.equal(agrees(false, 'Connected'), false);
    assert.equal(agrees('Rejected', 'Dropped'), false);
    assert.equal(agrees('Rejected', 'Rejected'), true);
  });

  it('reads pod agent results defensively', () => {
    assert.deepEqual(outcomeOf({ verdict: 'Rejected', detail: 'refused' }), {
      verdict: 'Rejected',
      detail: 'refused',
    });
    assert.equal(outcomeOf({ verdict: 'Maybe' }).verdict, 'Error');
    assert.equal(outcomeOf(null).verdict, 'Error');
  });

  it('judges a step: failures name the pair, skipped pairs are never counted as checked', () => {
    const model = tinyModel();
    const step = stepOf({
      expected: {
        'TCP/80': { 'x/a': { 'y/a': false }, 'y/a': { 'x/a': true } },
        'SCTP/80': { 'x/a': { 'y/a': true } },
      },
      expectedVerdicts: { 'TCP/80': { 'x/a': { 'y/a': 'Rejected' } } },
    });
    const { pairs } = collectPairs(step, model);
    const outcomes = new Map<string, ProbeOutcome>([
      ['TCP/80 x/a -> y/a', { verdict: 'Dropped', detail: 'no answer within 2000 ms' }],
      ['TCP/80 y/a -> x/a', { verdict: 'Connected', detail: 'connected' }],
      ['SCTP/80 x/a -> y/a', { verdict: 'Skipped', detail: 'no SCTP here' }],
    ]);
    const judgement = judgeStep(step, pairs, outcomes);
    assert.equal(judgement.checked, 3);
    assert.deepEqual(judgement.failures, [
      {
        step: 1,
        stepName: '',
        probe: 'TCP/80',
        from: 'x/a',
        to: 'y/a',
        expected: 'Rejected',
        got: 'Dropped',
        explanation: 'no answer within 2000 ms',
      },
    ]);
    assert.deepEqual(
      judgement.skipped.map((s) => [s.probe, s.from, s.to, s.reason]),
      [['SCTP/80', 'x/a', 'y/a', 'no SCTP here']],
    );
    assert.deepEqual(judgement.errors, []);

    const broken = judgeStep(step, pairs, new Map());
    assert.equal(broken.checked, 0);
    assert.equal(broken.errors.length, 3);
    assert.match(broken.errors[0] ?? '', /could not run: not probed/);
  });

  it('serves every port once per protocol it serves', () => {
    assert.deepEqual(
      servedPorts(tinyModel()).map((p) => `${p.proto}/${p.port}`),
      ['TCP/80', 'UDP/80', 'SCTP/80', 'UDP/81', 'TCP/81'],
    );
  });
});

describe('conformance live: report', () => {
  const base: CaseResult = {
    id: 'c',
    kind: 'k8s',
    model: 'tiny',
    passed: true,
    pairsChecked: 4,
    failures: [],
    errors: [],
  };
  const skipped = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      step: 1,
      stepName: '',
      probe: 'SCTP/80',
      from: 'x/a',
      to: `y/${i}`,
      reason: 'no SCTP',
    }));

  it('never passes a case with skipped pairs', () => {
    assert.equal(caseStatus(base), 'PASS');
    assert.equal(caseStatus({ ...base, skipped: skipped(2) }), 'SKIP');
    assert.equal(caseStatus({ ...base, passed: false, skipped: skipped(2) }), 'FAIL');
    assert.deepEqual(caseLines({ ...base, skipped: skipped(2) }, false), [
      'SKIP c',
      '  skipped SCTP/80: 2 pairs (no SCTP)',
      '  4 other expectation(s) checked',
    ]);
  });

  it('counts skipped cases in the live summary and the JSON report only', () => {
    const results = [base, { ...base, id: 'd', skipped: skipped(1) }, { ...base, id: 'e', passed: false }];
    assert.equal(summaryLine(results, 'live'), '1 passed, 1 failed, 1 skipped');
    assert.equal(summaryLine(results), '1 passed, 1 failed');
    const json = jsonReport('m', 'c', results, 'live');
    assert.deepEqual(
      [json.mode, json.passed, json.failed, json.skipped, json.cases.map((c) => c.status)],
      ['live', 1, 1, 1, ['PASS', 'SKIP', 'FAIL']],
    );
  });
});

describe('conformance live: command line', () => {
  let dir: string;
  let model: string;
  let cases: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conformance-live-unit-'));
    model = path.join(dir, 'model.json');
    cases = path.join(dir, 'cases.json');
    fs.writeFileSync(model, JSON.stringify(MODEL_JSON));
    fs.writeFileSync(
      cases,
      JSON.stringify([
        { id: 'one', kind: 'k8s', model: 'tiny', expected: { 'TCP/80': { 'x/a': { 'y/a': true } } } },
        { id: 'two', kind: 'k8s', model: 'tiny', expected: { 'TCP/80': { 'x/a': { 'y/a': true } } } },
      ]),
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('parses --nodes, --probe-timeout and --keep-state only when given', () => {
    assert.deepEqual(parseArgs(['--model', 'm', '--cases', 'c']), { model: 'm', cases: 'c', dry: false });
    assert.deepEqual(
      parseArgs(['--model', 'm', '--cases', 'c', '--nodes', '1', '--probe-timeout=1500', '--keep-state']),
      { model: 'm', cases: 'c', dry: false, nodes: 1, probeTimeoutMs: 1500, keepState: true },
    );
    assert.throws(() => parseArgs(['--model', 'm', '--cases', 'c', '--nodes', '0']), /positive integer/);
    assert.throws(() => parseArgs(['--model', 'm', '--cases', 'c', '--nodes', 'two']), /positive integer/);
  });

  function fakeRunner(verdicts: Record<string, 'pass' | 'fail' | 'skip' | 'throw'>) {
    const calls: string[] = [];
    let options: Parameters<LiveRunnerFactory>[0] | undefined;
    const factory: LiveRunnerFactory = (given) => {
      options = given;
      const runner: LiveRunner = {
        start: () => {
          calls.push('start');
          return Promise.resolve();
        },
        runCase: (testCase) => {
          calls.push(`case ${testCase.id}`);
          const verdict = verdicts[testCase.id] ?? 'pass';
          if (verdict === 'throw') return Promise.reject(new Error('the node went away'));
          return Promise.resolve({
            id: testCase.id,
            kind: testCase.kind,
            model: testCase.model,
            passed: verdict !== 'fail',
            pairsChecked: 1,
            failures: [],
            errors: verdict === 'fail' ? ['boom'] : [],
            skipped:
              verdict === 'skip'
                ? [{ step: 1, stepName: '', probe: 'SCTP/80', from: 'a', to: 'b', reason: 'r' }]
                : [],
          });
        },
        stop: () => {
          calls.push('stop');
          return Promise.resolve();
        },
      };
      return runner;
    };
    return { factory, calls, options: () => options };
  }

  async function cli(args: string[], factory?: LiveRunnerFactory) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runConformance(
      args,
      { out: (l) => out.push(l), err: (l) => err.push(l) },
      undefined,
      factory,
    );
    return { code, out, err };
  }

  it('passes --nodes to the runner, refuses more nodes than one machine runs, but not with --dry', async () => {
    const two = fakeRunner({});
    const run = await cli(['--model', model, '--cases', cases, '--nodes', '2'], two.factory);
    assert.equal(run.code, 0, run.err.join('\n'));
    assert.equal(two.options()?.nodes, 2);
    const fake = fakeRunner({});
    const many = await cli(['--model', model, '--cases', cases, '--nodes', '10'], fake.factory);
    assert.equal(many.code, 2);
    assert.match(many.err[0] ?? '', /--nodes 10: at most 9 nodes run on one machine/);
    assert.deepEqual(fake.calls, []);
    const dry = await cli(['--model', model, '--cases', cases, '--nodes', '3', '--dry']);
    assert.equal(dry.code, 0);
    assert.equal(dry.out.at(-1), '2 passed, 0 failed');
  });

  it('runs every selected case, prints progress on stderr and the three-part summary', async () => {
    const fake = fakeRunner({ two: 'skip' });
    const report = path.join(dir, 'report.json');
    const run = await cli(
      ['--model', model, '--cases', cases, '--out', report, '--probe-timeout', '1500'],
      fake.factory,
    );
    assert.equal(run.code, 0, run.err.join('\n'));
    assert.deepEqual(fake.calls, ['start', 'case one', 'case two', 'stop']);
    assert.deepEqual(run.out, [
      'PASS one',
      'SKIP two',
      '  skipped SCTP/80: 1 pair (r)',
      '  1 other expectation(s) checked',
      '1 passed, 0 failed, 1 skipped',
    ]);
    assert.ok(run.err.includes('[1/2] one') && run.err.includes('[2/2] two'), run.err.join('\n'));
    assert.equal(fake.options()?.probeTimeoutMs, 1500);
    assert.deepEqual([...(fake.options()?.models.keys() ?? [])], ['tiny']);
    const json = JSON.parse(fs.readFileSync(report, 'utf8')) as { mode: string; skipped: number };
    assert.deepEqual([json.mode, json.skipped], ['live', 1]);
  });

  it('exits 1 when a case fails and 2 (after stopping the node) when the run breaks', async () => {
    const failing = fakeRunner({ one: 'fail' });
    const failed = await cli(['--model', model, '--cases', cases], failing.factory);
    assert.equal(failed.code, 1);
    assert.equal(failed.out.at(-1), '1 passed, 1 failed, 0 skipped');

    const breaking = fakeRunner({ one: 'throw' });
    const broken = await cli(['--model', model, '--cases', cases], breaking.factory);
    assert.equal(broken.code, 2);
    assert.deepEqual(breaking.calls, ['start', 'case one', 'stop']);
    assert.match(broken.err.join('\n'), /error: the node went away/);
  });

  it('answers real-traffic requests without a live runner with exit 2', () => {
    const err: string[] = [];
    const code = runConformance(['--model', model, '--cases', cases], {
      out: () => undefined,
      err: (l) => err.push(l),
    });
    assert.equal(code, 2);
    assert.match(err[0] ?? '', /real traffic runs through scripts\/conformance/);
  });
});
