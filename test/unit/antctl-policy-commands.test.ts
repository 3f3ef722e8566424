// antctl's policy commands: parsing (apply, delete, get networkpolicy/addressgroup/appliedtogroup, query
// networkpolicyevaluation), the runner against a recording backend, and the Antrea-style tables.
import assert from 'node:assert/strict';
import { ApiError } from '../../firmware/core/antctl/api-error';
import {
  addressGroupTable,
  ANTCTL_COMMANDS,
  appliedToGroupTable,
  applyLines,
  describeCommandError,
  evaluationTable,
  isParseError,
  ManifestParseError,
  networkPolicyTable,
  parseArgs,
  renderHelp,
  resourceName,
  runCommand,
  type AntctlBackend,
  type ParseError,
  type RunnableCommand,
} from '../../firmware/core/antctl/commands';
import type {
  AgentQueries,
  ApplyResultView,
  DeleteResultView,
  NetworkPolicyEvaluationView,
  NetworkPolicyView,
  PolicyCommands,
  PolicyQueries,
} from '../../firmware/core/antctl/views';
import type { AddressGroup, AppliedToGroup } from '../../firmware/core/controller/internal-types';
import { formatTable, summarizeList } from '../../firmware/core/output/format';

function runnable(argv: string[]): RunnableCommand {
  const result = parseArgs(argv);
  if (isParseError(result)) assert.fail(`expected ${argv.join(' ')} to parse, got: ${result.message}`);
  if (result.kind === 'help') assert.fail(`expected a runnable command for ${argv.join(' ')}`);
  const { globals: _globals, ...command } = result;
  return command;
}

function failure(argv: string[]): ParseError {
  const result = parseArgs(argv);
  if (!isParseError(result)) assert.fail(`expected ${argv.join(' ')} to fail, got ${JSON.stringify(result)}`);
  return result;
}

const K8S_POLICY: NetworkPolicyView = {
  uid: '2b1a3c4d-0000-5000-8000-000000000001',
  name: 'nginx-allow',
  namespace: 'default',
  sourceRef: { type: 'K8sNetworkPolicy', namespace: 'default', name: 'nginx-allow', uid: 'u1' },
  rules: [
    {
      direction: 'In',
      peer: { addressGroups: ['ag-1'], ipBlocks: [] },
      services: [],
      action: 'Allow',
      priority: 0,
      name: '',
      enableLogging: false,
      appliedToGroups: [],
    },
  ],
  appliedToGroups: ['atg-1'],
  policyTypes: ['Ingress'],
  span: ['node1'],
};

const ACNP: NetworkPolicyView = {
  uid: '2b1a3c4d-0000-5000-8000-000000000002',
  name: 'strict',
  sourceRef: { type: 'AntreaClusterNetworkPolicy', name: 'strict', uid: 'u2' },
  rules: [
    {
      ...(K8S_POLICY.rules[0] as NetworkPolicyView['rules'][number]),
      action: 'Drop',
      appliedToGroups: ['atg-3'],
    },
    {
      ...(K8S_POLICY.rules[0] as NetworkPolicyView['rules'][number]),
      action: 'Pass',
      appliedToGroups: ['atg-2'],
    },
  ],
  appliedToGroups: [],
  priority: 5.5,
  tierPriority: 250,
  tierName: 'application',
  policyTypes: [],
  span: ['node1'],
};

const EVALUATION: NetworkPolicyEvaluationView = {
  source: { pod: 'default/ch-busybox', ip: '10.10.0.4' },
  destination: { pod: 'default/web', ip: '10.10.0.2' },
  protocol: 'TCP',
  port: 80,
  verdict: 'Drop',
  egress: {
    verdict: 'Allow',
    passedBy: {
      policy: ACNP.sourceRef,
      tier: 'application',
      direction: 'Out',
      ruleIndex: 1,
      ruleName: 'pass-all',
      action: 'Pass',
    },
  },
  ingress: {
    verdict: 'Drop',
    rule: {
      policy: K8S_POLICY.sourceRef,
      direction: 'In',
      ruleIndex: -1,
      ruleName: '',
      action: 'DefaultDeny',
    },
  },
  summary: 'Drop by K8sNetworkPolicy default/nginx-allow ingress isolation (no rule allows)',
};

class RecordingBackend implements AgentQueries, PolicyQueries, PolicyCommands {
  readonly calls: [string, unknown][] = [];
  podInterfaces = () => Promise.resolve([]);
  ovsFlows = () => Promise.resolve([]);
  agentInfo = () => Promise.reject(new ApiError('Unavailable', 'n/a'));
  networkPolicies(filter: unknown) {
    this.calls.push(['networkPolicies', filter]);
    return Promise.resolve([K8S_POLICY]);
  }
  addressGroups(filter: unknown) {
    this.calls.push(['addressGroups', filter]);
    return Promise.resolve([]);
  }
  appliedToGroups(filter: unknown) {
    this.calls.push(['appliedToGroups', filter]);
    return Promise.resolve([]);
  }
  networkPolicyEvaluation(query: unknown) {
    this.calls.push(['networkPolicyEvaluation', query]);
    return Promise.resolve(EVALUATION);
  }
  namespaceLabels(name: string) {
    return Promise.resolve({ name, labels: {} });
  }
  setNamespaceLabels(name: string, labels: Record<string, string>) {
    return Promise.resolve({ name, labels });
  }
  applyObjects(objects: unknown[]): Promise<ApplyResultView[]> {
    this.calls.push(['applyObjects', objects]);
    return Promise.resolve(
      objects.map((_object, index) => ({
        index,
        key: `K8sNetworkPolicy/default/p${index}`,
        kind: 'K8sNetworkPolicy',
        apiVersion: 'networking.k8s.io/v1',
        namespace: 'default',
        name: `p${index}`,
        result: 'created',
      })),
    );
  }
  deleteObject(key: string): Promise<DeleteResultView> {
    this.calls.push(['deleteObject', key]);
    return Promise.resolve({ key, kind: 'ClusterNetworkPolicy', name: 'strict', result: 'deleted' });
  }
}

describe('antctl policy commands: parsing', () => {
  it('parses get networkpolicy with name, namespace, type (case-insensitive) and output', () => {
    assert.deepEqual(
      runnable(['get', 'networkpolicy', 'web', '-n', 'default', '-T', 'k8snp', '-o', 'yaml']),
      {
        kind: 'get networkpolicy',
        name: 'web',
        namespace: 'default',
        type: 'K8sNP',
        output: 'yaml',
      },
    );
    assert.deepEqual(runnable(['get', 'netpol']), { kind: 'get networkpolicy', output: 'table' });
    assert.equal(runnable(['get', 'networkpolicies', '--type=ANNP']).kind, 'get networkpolicy');
    const bad = failure(['get', 'netpol', '-T', 'BANP']);
    assert.equal(bad.code, 'BadFlagValue');
    assert.equal(bad.message, 'invalid type "BANP" for -T/--type: valid types are K8sNP, ACNP, ANNP');
  });

  it('gives -T the meaning of the command at hand, as Antrea does (--table for ovsflows, --type for networkpolicy)', () => {
    assert.deepEqual(runnable(['get', 'of', '-T', '10']), {
      kind: 'get ovsflows',
      table: '10',
      output: 'table',
    });
    assert.deepEqual(runnable(['-T', 'acnp', 'get', 'netpol']), {
      kind: 'get networkpolicy',
      type: 'ACNP',
      output: 'table',
    });
    assert.equal(
      failure(['get', 'pi', '-T', 'x']).message,
      'unknown flag "-T" for "antctl get podinterface"',
    );
    assert.equal(failure(['get', 'netpol', '-T']).message, 'flag -T needs a value');
  });

  it('keeps shared shorthands consistent: flags with one letter all take a value, or none does', () => {
    const byShorthand = new Map<string, Set<string>>();
    for (const command of ANTCTL_COMMANDS.commands) {
      for (const flag of command.flags) {
        if (flag.shorthand === undefined) continue;
        const kinds = byShorthand.get(flag.shorthand) ?? new Set<string>();
        kinds.add(flag.valueType ?? 'switch');
        byShorthand.set(flag.shorthand, kinds);
      }
    }
    for (const [shorthand, kinds] of byShorthand) assert.equal(kinds.size, 1, `-${shorthand}`);
    assert.ok(byShorthand.has('T'));
  });

  it('parses get addressgroup and appliedtogroup with Antrea aliases', () => {
    assert.deepEqual(runnable(['get', 'ag', 'g1', '-o', 'json']), {
      kind: 'get addressgroup',
      name: 'g1',
      output: 'json',
    });
    assert.deepEqual(runnable(['get', 'addressgroups']), { kind: 'get addressgroup', output: 'table' });
    assert.deepEqual(runnable(['get', 'atg']), { kind: 'get appliedtogroup', output: 'table' });
    assert.equal(runnable(['get', 'appliedtogroups', 'x']).kind, 'get appliedtogroup');
  });

  it('parses query networkpolicyevaluation and checks its flags', () => {
    assert.deepEqual(
      runnable([
        'query',
        'networkpolicyevaluation',
        '-S',
        'default/a',
        '-D',
        '10.10.0.3',
        '--port',
        '53',
        '--protocol',
        'udp',
      ]),
      {
        kind: 'query networkpolicyevaluation',
        source: 'default/a',
        destination: '10.10.0.3',
        port: 53,
        protocol: 'UDP',
        output: 'table',
      },
    );
    assert.equal(
      runnable(['query', 'netpoleval', '-S', 'a', '-D', 'b', '--port=80']).kind,
      'query networkpolicyevaluation',
    );
    assert.equal(failure(['query', 'netpoleval', '-D', 'b', '--port', '80']).code, 'MissingRequiredFlag');
    const noPort = failure(['query', 'netpoleval', '-S', 'a', '-D', 'b']);
    assert.equal(noPort.code, 'MissingRequiredFlag');
    assert.match(noPort.message, /--port is required/);
    for (const port of ['0', '65536', 'http', '8O']) {
      assert.equal(
        failure(['query', 'netpoleval', '-S', 'a', '-D', 'b', '--port', port]).code,
        'BadFlagValue',
        port,
      );
    }
    assert.equal(
      failure(['query', 'netpoleval', '-S', 'a', '-D', 'b', '--port', '1', '--protocol', 'icmp']).code,
      'BadFlagValue',
    );
  });

  it('parses apply -f FILE (and - for stdin), requiring -f', () => {
    assert.deepEqual(runnable(['apply', '-f', 'p.yaml']), { kind: 'apply', file: 'p.yaml', output: 'table' });
    assert.deepEqual(runnable(['apply', '-f', '-', '-n', 'web']), {
      kind: 'apply',
      file: '-',
      namespace: 'web',
      output: 'table',
    });
    const missing = failure(['apply']);
    assert.equal(missing.code, 'MissingRequiredFlag');
    assert.match(missing.message, /-f\/--filename is required/);
    assert.equal(failure(['apply', '-f', 'a', 'extra']).code, 'UnexpectedArgument');
  });

  it('parses delete KIND NAME: networkpolicy is the Kubernetes kind, anp the Antrea one', () => {
    const kindOf = (word: string): unknown => {
      const command = runnable(['delete', word, 'x']);
      return command.kind === 'delete' ? [command.resource, command.namespace] : undefined;
    };
    assert.deepEqual(kindOf('networkpolicy'), ['K8sNetworkPolicy', 'default']);
    assert.deepEqual(kindOf('netpol'), ['K8sNetworkPolicy', 'default']);
    assert.deepEqual(kindOf('networkpolicy.networking.k8s.io'), ['K8sNetworkPolicy', 'default']);
    assert.deepEqual(kindOf('anp'), ['AntreaNetworkPolicy', 'default']);
    assert.deepEqual(kindOf('networkpolicy.crd.antrea.io'), ['AntreaNetworkPolicy', 'default']);
    assert.deepEqual(kindOf('acnp'), ['ClusterNetworkPolicy', undefined]);
    assert.deepEqual(kindOf('cnp'), ['ClusterNetworkPolicy', undefined]);
    assert.deepEqual(kindOf('ClusterNetworkPolicy'), ['ClusterNetworkPolicy', undefined]);
    assert.deepEqual(kindOf('tier'), ['Tier', undefined]);
    assert.deepEqual(kindOf('cg'), ['ClusterGroup', undefined]);
    assert.deepEqual(kindOf('group'), ['Group', 'default']);
    assert.deepEqual(kindOf('svc'), ['Service', 'default']);
    assert.deepEqual(runnable(['delete', 'anp', 'web', '-n', 'prod']), {
      kind: 'delete',
      resource: 'AntreaNetworkPolicy',
      name: 'web',
      namespace: 'prod',
      output: 'table',
    });
    assert.deepEqual(runnable(['delete', 'acnp', 'strict', '-n', 'prod']), {
      kind: 'delete',
      resource: 'ClusterNetworkPolicy',
      name: 'strict',
      output: 'table',
    });
  });

  it('rejects delete without KIND and NAME, with too many arguments, or with an unknown kind', () => {
    const missing = failure(['delete', 'acnp']);
    assert.equal(missing.code, 'MissingArgument');
    assert.equal(missing.message, '"antctl delete" needs KIND and NAME; missing NAME');
    assert.equal(
      failure(['delete', 'acnp', 'a', 'b']).message,
      '"antctl delete" takes at most 2 arguments (KIND NAME), got "acnp", "a", "b"',
    );
    const unknown = failure(['delete', 'networkpolcy', 'x']);
    assert.equal(unknown.code, 'BadArgument');
    assert.equal(unknown.suggestion, 'networkpolicy');
    assert.match(
      unknown.message,
      /^unknown kind "networkpolcy"; valid kinds are networkpolicy, anp, clusternetworkpolicy/,
    );
  });

  it('documents the commands: usage with required args, the kind rule, the query group', () => {
    const help = renderHelp(['delete']);
    assert.ok(help.includes('\nUsage:\n  antctl delete KIND NAME [flags]\n'), help);
    assert.ok(help.includes('\nArgs:\n  KIND   '), help);
    assert.match(help, /networkpolicy \(netpol; the Kubernetes networking\.k8s\.io NetworkPolicy\), anp/);
    assert.match(
      renderHelp(['query']),
      /\nAvailable Commands:\n {2}networkpolicyevaluation {3}Analyze effective NetworkPolicy rules\.\n/,
    );
    assert.match(
      renderHelp(['apply']),
      /-f, --filename string {4}File that contains the objects to apply; - reads standard input/,
    );
    assert.ok(renderHelp(['get', 'networkpolicy']).includes('antctl get networkpolicy [NAME] [flags]'));
  });
});

describe('antctl policy commands: running', () => {
  const context = (manifest?: string) => ({
    antctlVersion: '1.0.0',
    ...(manifest === undefined
      ? {}
      : { readManifest: (file: string) => Promise.resolve(file === '-' ? manifest : '') }),
  });

  it('apply parses the manifest, fills the namespace and prints kubectl lines', async () => {
    const backend = new RecordingBackend();
    const manifest =
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: a\nspec:\n  podSelector: {}\n' +
      '---\napiVersion: crd.antrea.io/v1beta1\nkind: Tier\nmetadata:\n  name: t\nspec:\n  priority: 9\n';
    const output = await runCommand(runnable(['apply', '-f', '-', '-n', 'web']), backend, context(manifest));
    assert.deepEqual(backend.calls, [
      [
        'applyObjects',
        [
          {
            apiVersion: 'networking.k8s.io/v1',
            kind: 'NetworkPolicy',
            metadata: { name: 'a', namespace: 'web' },
            spec: { podSelector: {} },
          },
          {
            apiVersion: 'crd.antrea.io/v1beta1',
            kind: 'Tier',
            metadata: { name: 't' },
            spec: { priority: 9 },
          },
        ],
      ],
    ]);
    assert.equal(
      output.stdout,
      'networkpolicy.networking.k8s.io/p0 created\nnetworkpolicy.networking.k8s.io/p1 created\n',
    );
  });

  it('apply refuses a manifest with errors, without objects, or whose namespace contradicts -n', async () => {
    const backend = new RecordingBackend();
    await assert.rejects(
      runCommand(runnable(['apply', '-f', '-']), backend, context('kind: [a\n')),
      (error: unknown) =>
        error instanceof ManifestParseError && error.source === '<stdin>' && error.errors.length > 0,
    );
    await assert.rejects(
      runCommand(runnable(['apply', '-f', '-']), backend, context('# nothing\n')),
      /no objects passed to apply: <stdin> has none/,
    );
    await assert.rejects(
      runCommand(
        runnable(['apply', '-f', '-', '-n', 'web']),
        backend,
        context(
          'kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: a, namespace: db}\n',
        ),
      ),
      /namespace from the provided object "db" does not match the namespace "web"/,
    );
    await assert.rejects(
      runCommand(runnable(['apply', '-f', 'x.yaml']), backend, context()),
      (error: unknown) => error instanceof ApiError && error.code === 'Unavailable',
    );
    assert.deepEqual(backend.calls, []);
  });

  it('delete builds the object key; get and query pass their filters', async () => {
    const backend = new RecordingBackend();
    const deleted = await runCommand(runnable(['delete', 'acnp', 'strict']), backend, context());
    assert.equal(deleted.stdout, 'clusternetworkpolicy.crd.antrea.io "strict" deleted\n');
    await runCommand(runnable(['delete', 'anp', 'web', '-n', 'prod', '-o', 'json']), backend, context());
    await runCommand(runnable(['get', 'netpol', 'x', '-n', 'default', '-T', 'acnp']), backend, context());
    await runCommand(runnable(['get', 'ag', 'g']), backend, context());
    await runCommand(runnable(['get', 'atg']), backend, context());
    const query = await runCommand(
      runnable(['query', 'netpoleval', '-S', 'a', '-D', 'b', '--port', '80', '-o', 'json']),
      backend,
      context(),
    );
    assert.deepEqual(JSON.parse(query.stdout), EVALUATION);
    assert.deepEqual(backend.calls, [
      ['deleteObject', 'ClusterNetworkPolicy//strict'],
      ['deleteObject', 'AntreaNetworkPolicy/prod/web'],
      ['networkPolicies', { name: 'x', namespace: 'default', type: 'ACNP' }],
      ['addressGroups', { name: 'g' }],
      ['appliedToGroups', {}],
      ['networkPolicyEvaluation', { source: 'a', destination: 'b', port: 80, protocol: 'TCP' }],
    ]);
  });

  it('says the agent serves no policies when the backend has only AgentQueries', async () => {
    const agentOnly: AntctlBackend = {
      podInterfaces: () => Promise.resolve([]),
      ovsFlows: () => Promise.resolve([]),
      agentInfo: () => Promise.reject(new Error('n/a')),
    };
    await assert.rejects(
      runCommand(runnable(['get', 'netpol']), agentOnly, context()),
      (error: unknown) => error instanceof ApiError && error.code === 'Unavailable',
    );
    await assert.rejects(
      runCommand(runnable(['delete', 'tier', 'x']), agentOnly, context()),
      (error: unknown) => error instanceof ApiError && error.code === 'Unavailable',
    );
  });

  it('describes errors: apply rejections and manifest errors one problem per line, the rest on one line', () => {
    const rejected = new ApiError('BadRequest', 'nothing was applied: ...', {
      objectCount: 3,
      invalidObjects: [
        {
          index: 0,
          kind: 'ClusterNetworkPolicy',
          name: 'a',
          errors: [{ path: 'spec.priority', reason: 'must be between 1 and 10000', value: 0 }],
        },
        {
          index: 2,
          kind: 'K8sNetworkPolicy',
          name: 'b',
          namespace: 'x',
          errors: [
            { path: 'spec.podSelector', reason: 'Required value' },
            { path: 'metadata.name', reason: 'must be a DNS-1123 subdomain', value: 'B' },
          ],
        },
      ],
    });
    assert.equal(
      describeCommandError(rejected),
      'nothing was applied: 2 objects are invalid (of 3)\n' +
        '  document 1: ClusterNetworkPolicy "a":\n' +
        '    spec.priority: must be between 1 and 10000 (got 0)\n' +
        '  document 3: K8sNetworkPolicy "x/b":\n' +
        '    spec.podSelector: Required value\n' +
        '    metadata.name: must be a DNS-1123 subdomain (got "B")',
    );
    assert.equal(
      describeCommandError(
        new ManifestParseError('p.yaml', [{ line: 3, column: 7, message: 'bad\nindent' }]),
      ),
      'p.yaml is not a valid manifest; nothing was applied\n  p.yaml:3:7: bad indent',
    );
    assert.equal(describeCommandError(new Error('a\n  b')), 'a b');
  });
});

describe('antctl policy tables', () => {
  it('networkpolicy: Antrea columns, UID as NAME, rule appliedTo groups included, empty priorities for K8s', () => {
    const table = networkPolicyTable([K8S_POLICY, ACNP]);
    assert.equal(
      formatTable(table.columns, table.rows),
      'NAME                                   APPLIED-TO    RULES   SOURCE                                 TIER-PRIORITY   PRIORITY\n' +
        '2b1a3c4d-0000-5000-8000-000000000001   atg-1         1       K8sNetworkPolicy:default/nginx-allow   <NONE>          <NONE>\n' +
        '2b1a3c4d-0000-5000-8000-000000000002   atg-2,atg-3   2       AntreaClusterNetworkPolicy:strict      250             5.5\n',
    );
  });

  it('addressgroup and appliedtogroup: sorted by name, members summarised past 50 characters like antctl', () => {
    const member = (i: number) => ({
      namespace: 'default',
      name: `pod-${String(i).padStart(2, '0')}`,
      ip: `10.10.0.${i}`,
      nodeName: 'n',
      ports: [],
    });
    const members = Array.from({ length: 12 }, (_v, i) => member(i + 1));
    const groups: AddressGroup[] = [
      { name: 'b', members, ipBlocks: [], span: [] },
      { name: 'a', members: members.slice(0, 2), ipBlocks: [], span: [] },
    ];
    assert.deepEqual(addressGroupTable(groups).rows, [
      ['a', '10.10.0.1,10.10.0.2', ''],
      // 10.10.0.1,10.10.0.10,10.10.0.11,10.10.0.12 + 8 more... would be 54 characters
      ['b', '10.10.0.1,10.10.0.10,10.10.0.11 + 9 more...', ''],
    ]);
    const applied: AppliedToGroup[] = [{ name: 'g', members: members.slice(0, 3), span: [] }];
    assert.deepEqual(appliedToGroupTable(applied), {
      columns: ['NAME', 'PODS'],
      rows: [['g', 'default/pod-01,default/pod-02,default/pod-03']],
    });
  });

  it('summarizeList keeps what fits and counts the rest', () => {
    assert.equal(summarizeList([]), '');
    assert.equal(summarizeList(['b', 'a']), 'a,b');
    assert.equal(summarizeList(['aaaa', 'bbbb', 'cccc'], 12), 'aaaa + 2 more...');
    assert.equal(summarizeList(['dd', 'cc', 'bb', 'aa'], 11), 'aa,bb,cc,dd');
    assert.equal(summarizeList(['aa', 'bb', 'cc', 'dd'], 10), 'aa + 3 more...');
    assert.equal(summarizeList(['aa', 'bb', 'cc', 'dd', 'ee', 'ff', 'gg'], 20), 'aa,bb,cc,dd,ee,ff,gg');
    assert.equal(summarizeList(['aa', 'bb', 'cc', 'dd', 'ee', 'ff', 'gg'], 19), 'aa,bb + 5 more...');
    assert.ok(summarizeList(Array.from({ length: 100 }, (_v, i) => `10.0.0.${i}`)).length <= 50);
  });

  it('evaluation: one row per direction; isolation shows ACTION Isolate; a Pass without a later rule says so', () => {
    assert.deepEqual(evaluationTable(EVALUATION), {
      columns: ['NAME', 'NAMESPACE', 'POLICY-TYPE', 'RULE-INDEX', 'DIRECTION', 'ACTION', 'VERDICT'],
      rows: [
        ['strict', '', 'AntreaClusterNetworkPolicy', '1', 'Out', 'Pass', 'Allow (no policy after Pass)'],
        ['nginx-allow', 'default', 'K8sNetworkPolicy', '', 'In', 'Isolate', 'Drop'],
      ],
    });
  });

  it('names kinds the way kubectl prints them', () => {
    assert.equal(resourceName('K8sNetworkPolicy'), 'networkpolicy.networking.k8s.io');
    assert.equal(resourceName('AntreaNetworkPolicy'), 'networkpolicy.crd.antrea.io');
    assert.equal(resourceName('Service'), 'service');
    assert.equal(
      applyLines([
        {
          index: 0,
          key: 'Tier//t',
          kind: 'Tier',
          apiVersion: 'crd.antrea.io/v1beta1',
          name: 't',
          result: 'unchanged',
        },
      ]),
      'tier.crd.antrea.io/t unchanged\n',
    );
  });
});
