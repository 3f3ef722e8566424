// The dry conformance runner's parts: the case format parser, pod addresses and cidrOfPod references, steps
// applied as diffs to the controller, and the in-process CLI.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PolicyController } from '../../firmware/core/controller/policy-controller';
import { parseArgs, runConformance, UsageError } from '../../scripts/lib/conformance';
import {
  FormatError,
  parseCasesFile,
  parseModelFile,
  parseProbeKey,
  type ConformanceCase,
  type Model,
} from '../../scripts/lib/conformance/case-format';
import { assignPodIps, resolveCidrRefs, runCaseDry } from '../../scripts/lib/conformance/dry-run';

const MODEL_JSON = {
  models: {
    tiny: {
      namespaces: {
        x: { labels: { 'kubernetes.io/metadata.name': 'x' } },
        y: { labels: { 'kubernetes.io/metadata.name': 'y' } },
      },
      pods: {
        'x/a': { namespace: 'x', name: 'a', labels: { app: 'a' } },
        'x/b': { namespace: 'x', name: 'b', labels: { app: 'b' }, ip: '10.10.0.2' },
        'y/a': { namespace: 'y', name: 'a', labels: { app: 'a' } },
      },
      containerPorts: [
        { container: 'c80', name: 'http', containerPort: 80, protocol: 'TCP', serves: ['TCP', 'UDP'] },
      ],
      loopback: 'asserted',
    },
  },
};

function tinyModel(): Model {
  const model = parseModelFile(JSON.stringify(MODEL_JSON), 'model.json').get('tiny');
  assert.ok(model);
  return model;
}

function parseOne(testCase: unknown): ConformanceCase {
  const [parsed] = parseCasesFile(JSON.stringify([testCase]), 'cases.json');
  assert.ok(parsed);
  return parsed;
}

const denyIngress = (ns: string, name = 'deny') => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns },
  spec: { podSelector: {}, policyTypes: ['Ingress'] },
});

const fromAppB = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'from-b', namespace: 'y' },
  spec: {
    podSelector: {},
    ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'b' } } }] }],
  },
};

const run = (testCase: unknown) => runCaseDry(parseOne(testCase), tinyModel(), () => new PolicyController());

describe('conformance format', () => {
  it('parses probe keys, including one table listed for several probes', () => {
    assert.deepEqual(parseProbeKey('TCP/80'), [{ protocol: 'TCP', port: 80 }]);
    assert.deepEqual(parseProbeKey('tcp/80, UDP/81'), [
      { protocol: 'TCP', port: 80 },
      { protocol: 'UDP', port: 81 },
    ]);
    for (const bad of ['TCP', 'ICMP/1', 'TCP/0', 'TCP/70000', '']) {
      assert.throws(() => parseProbeKey(bad), FormatError, bad);
    }
  });

  it('reads models and defaults the container port protocol and what it serves', () => {
    const model = tinyModel();
    assert.deepEqual([...model.pods.keys()], ['x/a', 'x/b', 'y/a']);
    assert.equal(model.pods.get('x/b')?.ip, '10.10.0.2');
    assert.deepEqual(model.containerPorts[0]?.serves, ['TCP', 'UDP']);
    const bare = parseModelFile(
      JSON.stringify({
        models: { m: { namespaces: { x: {} }, pods: {}, containerPorts: [{ containerPort: 81 }] } },
      }),
      'm.json',
    ).get('m');
    assert.deepEqual(bare?.containerPorts, [{ containerPort: 81, protocol: 'TCP', serves: ['TCP'] }]);
    assert.equal(bare?.loopback, 'ignored');
  });

  it('rejects files that are not the format, and reports broken cases as case problems', () => {
    assert.throws(() => parseModelFile('{', 'm.json'), /m\.json: not JSON/);
    assert.throws(
      () => parseModelFile('{"models": {"m": {"namespaces": {}, "pods": {"x/a": {}}}}}', 'm.json'),
      /namespace "x"/,
    );
    assert.throws(() => parseCasesFile('{}', 'c.json'), /expected a JSON array/);
    const cases = parseCasesFile(
      JSON.stringify([
        { id: 'same', model: 'tiny', expected: { 'TCP/80': { 'x/a': { 'x/b': 'yes' } } } },
        { id: 'same', model: 'tiny' },
        { model: 'tiny', steps: [] },
      ]),
      'c.json',
    );
    assert.match(
      cases[0]?.problems[0] ?? '',
      /expected\["TCP\/80"\]\["x\/a"\]\["x\/b"\]: expected true or false/,
    );
    assert.match(cases[1]?.problems[0] ?? '', /duplicate case id "same"/);
    assert.equal(cases[2]?.id, '#3');
    assert.equal(cases[2]?.problems.length, 2);
  });
});

describe('conformance dry run: addresses', () => {
  it('uses wished-for addresses and allocates the rest from 10.10.0.0/16, skipping taken ones', () => {
    assert.deepEqual(
      [...assignPodIps(tinyModel())],
      [
        ['x/b', '10.10.0.2'],
        ['x/a', '10.10.0.3'],
        ['y/a', '10.10.0.4'],
      ],
    );
  });

  it('replaces cidrOfPod references anywhere in an object, keeping host bits', () => {
    const ips = new Map([['x/a', '10.10.0.3']]);
    const resolved = resolveCidrRefs(
      { spec: { ipBlocks: [{ cidr: { cidrOfPod: 'x/a', prefix: 24 }, except: [{ cidrOfPod: 'x/a' }] }] } },
      ips,
      'policies[0]',
    );
    assert.deepEqual(resolved, {
      value: { spec: { ipBlocks: [{ cidr: '10.10.0.3/24', except: ['10.10.0.3/32'] }] } },
    });
    assert.deepEqual(resolveCidrRefs({ cidr: { cidrOfPod: 'x/zz', prefix: 8 } }, ips, 'p'), {
      error: 'p.cidr: cidrOfPod names unknown pod "x/zz"',
    });
    assert.match(
      JSON.stringify(resolveCidrRefs([{ cidrOfPod: 'x/a', prefix: 40 }], ips, 'p')),
      /prefix must be/,
    );
  });
});

describe('conformance dry run: cases', () => {
  it('passes a matching case and counts every listed pair, self pairs as loopback', () => {
    const result = run({
      id: 'deny y',
      kind: 'k8s',
      model: 'tiny',
      policies: [denyIngress('y')],
      expected: {
        'TCP/80': { 'x/a': { 'y/a': false, 'x/b': true }, 'y/a': { 'y/a': true } },
        'UDP/80': { 'x/b': { 'y/a': false } },
      },
      expectedVerdicts: { 'TCP/80': { 'x/a': { 'y/a': 'Dropped', 'x/a': 'Connected' } } },
    });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.failures, []);
    assert.equal(result.passed, true);
    assert.equal(result.pairsChecked, 6);
  });

  it('reports each differing pair with the deciding rule', () => {
    const result = run({
      id: 'wrong',
      kind: 'k8s',
      model: 'tiny',
      policies: [denyIngress('y')],
      expected: { 'TCP/80': { 'x/a': { 'y/a': true } } },
      expectedVerdicts: { 'TCP/80': { 'x/a': { 'y/a': 'Rejected' } } },
    });
    assert.equal(result.passed, false);
    assert.deepEqual(
      result.failures.map((f) => [f.probe, f.from, f.to, f.expected, f.got]),
      [
        ['TCP/80', 'x/a', 'y/a', true, 'Dropped'],
        ['TCP/80', 'x/a', 'y/a', 'Rejected', 'Dropped'],
      ],
    );
    assert.match(result.failures[0]?.explanation ?? '', /K8sNetworkPolicy y\/deny ingress isolation/);
  });

  it('applies each step as a diff: creates, updates, deletes, relabels and relabels back', () => {
    const steps = [
      {
        name: 'x/b is not app=b any more: nothing reaches y',
        policies: [fromAppB],
        podLabels: { 'x/b': { app: 'c' } },
        expected: { 'TCP/80': { 'x/b': { 'y/a': false }, 'x/a': { 'y/a': false } } },
      },
      {
        name: 'x/b back to its model labels',
        policies: [fromAppB],
        expected: { 'TCP/80': { 'x/b': { 'y/a': true }, 'x/a': { 'y/a': false } } },
      },
      {
        name: 'policy updated to allow app=a',
        policies: [
          {
            ...fromAppB,
            spec: {
              podSelector: {},
              ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'a' } } }] }],
            },
          },
        ],
        expected: { 'TCP/80': { 'x/b': { 'y/a': false }, 'x/a': { 'y/a': true } } },
      },
      {
        name: 'policy deleted, deny-all in x created',
        policies: [denyIngress('x', 'deny-x')],
        expected: { 'TCP/80': { 'x/b': { 'y/a': true }, 'y/a': { 'x/a': false } } },
      },
    ];
    const result = run({ id: 'steps', kind: 'k8s', model: 'tiny', steps });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.failures, []);
    assert.equal(result.pairsChecked, 8);
  });

  it('applies namespace labels of a step and restores the model labels afterwards', () => {
    const fromTeam = {
      ...fromAppB,
      spec: {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }],
      },
    };
    const result = run({
      id: 'namespace labels',
      kind: 'k8s',
      model: 'tiny',
      steps: [
        {
          policies: [fromTeam],
          namespaceLabels: { x: { team: 'blue' } },
          expected: { 'TCP/80': { 'x/a': { 'y/a': true } } },
        },
        { policies: [fromTeam], expected: { 'TCP/80': { 'x/a': { 'y/a': false } } } },
      ],
    });
    assert.deepEqual(result.failures, []);
    assert.equal(result.passed, true);
  });

  it('fails on invalid objects, unknown models and pods; refuses probes nobody serves', () => {
    const invalid = run({
      id: 'invalid',
      kind: 'k8s',
      model: 'tiny',
      policies: [{ ...denyIngress('y'), spec: { podSelector: {}, policyTypes: ['Sideways'] } }],
      expected: { 'TCP/80': { 'x/a': { 'y/a': true } } },
    });
    assert.equal(invalid.passed, false);
    assert.match(invalid.errors[0] ?? '', /spec\.policyTypes\[0\]/);
    assert.equal(invalid.pairsChecked, 0);

    const unknownModel = runCaseDry(
      parseOne({ id: 'm', model: 'nope' }),
      undefined,
      () => new PolicyController(),
    );
    assert.deepEqual(unknownModel.errors, ['unknown model "nope"']);

    const unknownPod = run({ id: 'p', model: 'tiny', expected: { 'TCP/80': { 'x/a': { 'z/q': true } } } });
    assert.deepEqual(unknownPod.errors, ['unknown pod "z/q" in an expected table']);

    // Nobody listens on SCTP/80: what policy lets through is refused.
    const unserved = run({
      id: 's',
      model: 'tiny',
      policies: [denyIngress('y')],
      expected: { 'SCTP/80': { 'x/a': { 'y/a': false, 'x/b': true } } },
      expectedVerdicts: { 'SCTP/80': { 'x/a': { 'y/a': 'Dropped', 'x/b': 'Rejected' } } },
    });
    assert.deepEqual(unserved.errors, []);
    assert.deepEqual(
      unserved.failures.map((f) => [f.to, f.expected, f.got]),
      [['x/b', true, 'Rejected']],
    );
    assert.match(unserved.failures[0]?.explanation ?? '', /no container of model "tiny" serves SCTP\/80/);

    const twice = run({ id: 't', model: 'tiny', policies: [denyIngress('y'), denyIngress('y')] });
    assert.match(twice.errors[0] ?? '', /K8sNetworkPolicy\/y\/deny is listed twice/);
  });
});

describe('conformance CLI', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conformance-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function cli(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = runConformance(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  }

  it('parses its arguments', () => {
    assert.deepEqual(parseArgs(['--model', 'm', '--cases=c', '--dry', '--case', 'deny', '--out', 'r.json']), {
      model: 'm',
      cases: 'c',
      dry: true,
      caseFilter: 'deny',
      out: 'r.json',
    });
    assert.equal(parseArgs(['-h']), 'help');
    assert.throws(() => parseArgs(['--model']), UsageError);
    assert.throws(() => parseArgs(['--model', 'm', '--cases', 'c', '--fast']), /unknown argument "--fast"/);
  });

  it('prints PASS/FAIL lines and the summary, writes the report, and sets the exit code', () => {
    const model = path.join(dir, 'model.json');
    const cases = path.join(dir, 'cases.json');
    const report = path.join(dir, 'report.json');
    fs.writeFileSync(model, JSON.stringify(MODEL_JSON));
    fs.writeFileSync(
      cases,
      JSON.stringify([
        {
          id: 'ok',
          kind: 'k8s',
          model: 'tiny',
          policies: [denyIngress('y')],
          expected: { 'TCP/80': { 'x/a': { 'y/a': false } } },
        },
        {
          id: 'bad',
          kind: 'k8s',
          model: 'tiny',
          policies: [],
          expected: { 'TCP/80': { 'x/a': { 'y/a': false } } },
        },
      ]),
    );
    const all = cli(['--dry', '--model', model, '--cases', cases, '--out', report]);
    assert.equal(all.code, 1);
    assert.deepEqual(all.out, [
      'PASS ok',
      'FAIL bad',
      '  TCP/80 x/a -> y/a: expected false, got true (egress: Allow (no policy); ingress: Allow (no policy))',
      '1 passed, 1 failed',
    ]);
    const json = JSON.parse(fs.readFileSync(report, 'utf8')) as {
      passed: number;
      failed: number;
      cases: { status: string }[];
    };
    assert.deepEqual([json.passed, json.failed, json.cases.map((c) => c.status)], [1, 1, ['PASS', 'FAIL']]);

    const filtered = cli(['--dry', '--model', model, '--cases', cases, '--case', 'ok']);
    assert.equal(filtered.code, 0);
    assert.deepEqual(filtered.out, ['PASS ok', '1 passed, 0 failed']);

    const none = cli(['--dry', '--model', model, '--cases', cases, '--case', 'zzz']);
    assert.equal(none.code, 2);
    assert.match(none.err[0] ?? '', /no case .* matches "zzz"/);

    const missing = cli(['--dry', '--model', path.join(dir, 'absent.json'), '--cases', cases]);
    assert.equal(missing.code, 2);
    assert.match(missing.err[0] ?? '', /cannot read .*absent\.json: ENOENT/);

    assert.equal(cli(['--model', model, '--cases', cases]).code, 2);
  });
});
