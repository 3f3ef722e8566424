// antctl's policy statistics and `get ovsflows --networkpolicy`: parsing, help, the Antrea-style table, json/yaml,
// the runner against a recording backend, the local API endpoints and client, and the agent side
// (AgentQueryService) over a real policy service with a fake flow dump.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AgentQueryService } from '../../firmware/agent/agent-queries';
import { PolicyService } from '../../firmware/agent/policy-service';
import { ApiError } from '../../firmware/core/antctl/api-error';
import {
  isParseError,
  networkPolicyStatsTable,
  parseArgs,
  renderHelp,
  runCommand,
  type AntctlBackend,
  type ParseError,
  type RunnableCommand,
} from '../../firmware/core/antctl/commands';
import type {
  NetworkPolicyStatsFilter,
  NetworkPolicyStatsView,
  OvsFlowFilter,
  PolicyRef,
  RuleStatsView,
} from '../../firmware/core/antctl/views';
import type { FirmwareConfig } from '../../firmware/core/config';
import { silentLogger } from '../../firmware/core/logger';
import { formatTable } from '../../firmware/core/output/format';
import { formatCookie, type Flow } from '../../firmware/core/pipeline/flow';
import {
  compilePolicyFlows,
  createPolicyFlowState,
  mergeRuleFlows,
} from '../../firmware/core/pipeline/policy-flows';
import { LocalApiClient, LocalApiServer } from '../../firmware/http/local-api';
import { openStore, type StoreDatabase } from '../../firmware/store/database';
import { PodRepository } from '../../firmware/store/pod-repository';
import { NamespaceRepository, PolicyObjectRepository } from '../../firmware/store/policy-repository';

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

const ACNP_STATS: NetworkPolicyStatsView = {
  apiVersion: 'stats.antrea.io/v1alpha1',
  kind: 'AntreaClusterNetworkPolicyStats',
  metadata: { name: 'cluster-access-dns', uid: 'u-acnp', creationTimestamp: '2022-02-24T09:04:53Z' },
  sourceRef: { type: 'AntreaClusterNetworkPolicy', name: 'cluster-access-dns', uid: 'u-acnp' },
  trafficStats: { packets: 6, bytes: 503, sessions: 6 },
  ruleTrafficStats: [
    { name: 'rule1', trafficStats: { packets: 4, bytes: 392, sessions: 4 } },
    { name: 'rule2', trafficStats: { packets: 2, bytes: 111, sessions: 2 } },
  ],
};
const K8S_STATS: NetworkPolicyStatsView = {
  apiVersion: 'stats.antrea.io/v1alpha1',
  kind: 'NetworkPolicyStats',
  metadata: { name: 'access-nginx', namespace: 'default', uid: 'u-k8s' },
  sourceRef: { type: 'K8sNetworkPolicy', namespace: 'default', name: 'access-nginx', uid: 'u-k8s' },
  trafficStats: { packets: 0, bytes: 0, sessions: 0 },
  ruleTrafficStats: [{ name: 'ingress-0', trafficStats: { packets: 0, bytes: 0, sessions: 0 } }],
};

class RecordingBackend implements AntctlBackend {
  readonly flowFilters: OvsFlowFilter[] = [];
  readonly statsFilters: NetworkPolicyStatsFilter[] = [];
  podInterfaces(): Promise<never[]> {
    return Promise.resolve([]);
  }
  ovsFlows(filter: OvsFlowFilter): Promise<string[]> {
    this.flowFilters.push(filter);
    if (filter.networkPolicy === 'missing') {
      return Promise.reject(new ApiError('NotFound', 'networkpolicy "missing" not found'));
    }
    return Promise.resolve(['cookie=0x600000000000001, table=89, priority=100,conj_id=1,ip actions=drop']);
  }
  agentInfo(): Promise<never> {
    return Promise.reject(new Error('unused'));
  }
  networkPolicyStats(filter: NetworkPolicyStatsFilter): Promise<NetworkPolicyStatsView[]> {
    this.statsFilters.push(filter);
    return Promise.resolve([ACNP_STATS, K8S_STATS]);
  }
  ruleStats(_policy: PolicyRef): Promise<RuleStatsView[]> {
    return Promise.resolve([]);
  }
}

describe('antctl get networkpolicystats / get ovsflows --networkpolicy: parsing and help', () => {
  it('parses --networkpolicy / -N with -n and --type; -T stays --table for ovsflows', () => {
    assert.deepEqual(
      runnable(['get', 'ovsflows', '--networkpolicy', 'np1', '-n', 'ns1', '--type', 'K8sNP']),
      {
        kind: 'get ovsflows',
        networkPolicy: 'np1',
        namespace: 'ns1',
        type: 'K8sNP',
        output: 'table',
      },
    );
    assert.deepEqual(runnable(['get', 'of', '-N', 'acnp1', '-T', 'IngressRule', '-o', 'json']), {
      kind: 'get ovsflows',
      networkPolicy: 'acnp1',
      table: 'IngressRule',
      output: 'json',
    });
    assert.deepEqual(runnable(['get', 'of', '-N', 'np', '-n', 'ns', '--type=anp']), {
      kind: 'get ovsflows',
      networkPolicy: 'np',
      namespace: 'ns',
      type: 'ANNP',
      output: 'table',
    });
  });

  it('rejects flag combinations that cannot name one set of flows', () => {
    assert.match(
      failure(['get', 'of', '-N', 'np', '-p', 'pod', '-n', 'ns']).message,
      /cannot be used together/,
    );
    assert.match(failure(['get', 'of', '--type', 'ACNP']).message, /only used together with -N/);
    assert.match(failure(['get', 'of', '-n', 'ns']).message, /-p\/--pod or -N\/--networkpolicy/);
    assert.match(failure(['get', 'of', '-N', 'a', '-n', 'ns', '--type', 'ACNP']).message, /cluster-scoped/);
    const bad = failure(['get', 'of', '-N', 'a', '--type', 'bogus']);
    assert.equal(bad.code, 'BadFlagValue');
    assert.match(bad.message, /invalid type "bogus" for --type: valid types are K8sNP, ACNP, ANNP/);
  });

  it('parses get networkpolicystats with name, namespace and -T/--type, and its aliases', () => {
    assert.deepEqual(runnable(['get', 'networkpolicystats']), {
      kind: 'get networkpolicystats',
      output: 'table',
    });
    assert.deepEqual(runnable(['get', 'nps', 'web', '-n', 'default', '-T', 'k8snp', '-o', 'yaml']), {
      kind: 'get networkpolicystats',
      name: 'web',
      namespace: 'default',
      type: 'K8sNP',
      output: 'yaml',
    });
    assert.equal(runnable(['get', 'netpolstats', '--type', 'ACNP']).kind, 'get networkpolicystats');
    assert.equal(failure(['get', 'nps', 'a', 'b']).code, 'UnexpectedArgument');
    assert.equal(failure(['get', 'nps', '-T', 'x']).code, 'BadFlagValue');
    // get networkpolicy keeps -T as --type.
    assert.deepEqual(runnable(['get', 'netpol', '-T', 'acnp']), {
      kind: 'get networkpolicy',
      type: 'ACNP',
      output: 'table',
    });
  });

  it('documents what is counted, the flags and examples', () => {
    const stats = renderHelp(['get', 'networkpolicystats']);
    assert.match(stats, /conntrack fast path/);
    assert.match(stats, /SESSIONS is that number/);
    assert.match(stats, /For Drop and Reject rules every dropped packet is counted/);
    assert.match(stats, /Usage:\n {2}antctl get networkpolicystats \[NAME\] \[flags\]/);
    assert.match(stats, /-T, --type string/);
    assert.match(stats, /\$ antctl get nps cluster-access-dns -T ACNP -o json/);
    const flows = renderHelp(['get', 'ovsflows']);
    assert.match(flows, /-N, --networkpolicy string/);
    assert.match(flows, / {6}--type string/);
    assert.match(flows, /-T, --table string/);
    assert.match(flows, /\$ antctl get ovsflows -N np1 -n ns1 --type K8sNP/);
    assert.match(renderHelp(['get']), /networkpolicystats +Print traffic statistics/);
  });
});

describe('antctl get networkpolicystats / get ovsflows --networkpolicy: output', () => {
  it('renders Antrea’s columns, NAMESPACE and TYPE only when the command did not fix them', () => {
    const mixed = networkPolicyStatsTable([ACNP_STATS, K8S_STATS], {
      namespaceColumn: true,
      typeColumn: true,
    });
    assert.equal(
      formatTable(mixed.columns, mixed.rows),
      [
        'NAMESPACE   NAME                 TYPE    SESSIONS   PACKETS   BYTES   CREATED AT',
        '<NONE>      cluster-access-dns   ACNP    6          6         503     2022-02-24T09:04:53Z',
        'default     access-nginx         K8sNP   0          0         0       <NONE>',
        '',
      ].join('\n'),
    );
    const acnp = networkPolicyStatsTable([ACNP_STATS], { namespaceColumn: false, typeColumn: false });
    assert.deepEqual(acnp.columns, ['NAME', 'SESSIONS', 'PACKETS', 'BYTES', 'CREATED AT']);
    assert.deepEqual(acnp.rows, [['cluster-access-dns', '6', '6', '503', '2022-02-24T09:04:53Z']]);
  });

  it('runs: the table follows the filters, json/yaml carry the per-rule breakdown', async () => {
    const backend = new RecordingBackend();
    const context = { antctlVersion: 'test' };
    const table = await runCommand(runnable(['get', 'nps', '-T', 'ACNP']), backend, context);
    assert.match(table.stdout, /^NAME {3}/);
    assert.deepEqual(backend.statsFilters, [{ type: 'ACNP' }]);
    const all = await runCommand(runnable(['get', 'nps']), backend, context);
    assert.match(all.stdout, /^NAMESPACE +NAME +TYPE +SESSIONS +PACKETS +BYTES +CREATED AT\n/);

    const json = await runCommand(runnable(['get', 'nps', '-o', 'json']), backend, context);
    const parsed = JSON.parse(json.stdout) as NetworkPolicyStatsView[];
    assert.deepEqual(parsed[0]?.ruleTrafficStats, ACNP_STATS.ruleTrafficStats);
    const yaml = await runCommand(runnable(['get', 'nps', '-o', 'yaml']), backend, context);
    assert.deepEqual(parseYaml(yaml.stdout), [ACNP_STATS, K8S_STATS]);
  });

  it('passes --networkpolicy through to the agent and prints its flows; errors propagate', async () => {
    const backend = new RecordingBackend();
    const context = { antctlVersion: 'test' };
    const out = await runCommand(
      runnable(['get', 'of', '-N', 'np', '-n', 'ns', '--type', 'K8sNP']),
      backend,
      context,
    );
    assert.deepEqual(backend.flowFilters, [{ networkPolicy: 'np', namespace: 'ns', type: 'K8sNP' }]);
    assert.equal(
      out.stdout,
      'FLOW\ncookie=0x600000000000001, table=89, priority=100,conj_id=1,ip actions=drop\n',
    );
    await assert.rejects(runCommand(runnable(['get', 'of', '-N', 'missing']), backend, context), /not found/);
  });

  it('says the agent serves no statistics when the backend has none', async () => {
    const backend: AntctlBackend = {
      podInterfaces: () => Promise.resolve([]),
      ovsFlows: () => Promise.resolve([]),
      agentInfo: () => Promise.reject(new Error('unused')),
    };
    await assert.rejects(
      runCommand(runnable(['get', 'nps']), backend, { antctlVersion: 'test' }),
      (error: unknown) => error instanceof ApiError && error.code === 'Unavailable',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// The agent side over a real policy service, through the local API socket and its client.

const ACNP_YAML = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'ClusterNetworkPolicy',
  metadata: { name: 'guard' },
  spec: {
    priority: 5,
    appliedTo: [{ podSelector: { matchLabels: { app: 'web' } } }],
    ingress: [
      {
        name: 'drop-db',
        action: 'Drop',
        from: [{ podSelector: { matchLabels: { app: 'db' } } }],
      },
    ],
  },
};
const K8S_YAML = (ns: string) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace: ns, name: 'guard' },
  spec: {
    podSelector: { matchLabels: { app: 'web' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'db' } } }] }],
  },
});

function dumpLine(flow: Flow, packets: number): string {
  const match = `priority=${flow.priority}${flow.match ? `,${flow.match}` : ''}`;
  return `cookie=${formatCookie(flow.cookie)}, duration=3.000s, table=${flow.table}, n_packets=${packets}, n_bytes=${packets * 74}, ${match} actions=${flow.actions}`;
}

describe('agent statistics through the local API', () => {
  let dir: string;
  let db: StoreDatabase;
  let server: LocalApiServer;
  let client: LocalApiClient;
  let service: PolicyService;
  let settled = 0;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-stats-api-'));
    db = openStore(path.join(dir, 'store.db'));
    const pods = new PodRepository(db);
    service = new PolicyService({
      nodeName: 'node1',
      pods,
      namespaces: new NamespaceRepository(db),
      objects: new PolicyObjectRepository(db),
      logger: silentLogger,
    });
    service.start();
    for (const [name, app, ip] of [
      ['web-1', 'web', '10.10.0.5'],
      ['db-1', 'db', '10.10.0.6'],
    ] as const) {
      service.podAdded({
        containerId: `c-${name}`,
        namespace: 'default',
        name,
        ifName: 'eth0',
        netns: `/var/run/netns/${name}`,
        hostIfName: name,
        ip,
        mac: '02:00:00:00:00:01',
        labels: { app },
        containerPorts: [],
        createdAt: '2025-01-01T00:00:00Z',
      });
    }
    service.apply([ACNP_YAML, K8S_YAML('default')]);

    // The enforcer's computation, done here in-process: its ids and flows with counters.
    const state = createPolicyFlowState();
    const local = new Map([
      ['default/web-1', { ofport: 5, ip: '10.10.0.5' }],
      ['default/db-1', { ofport: 6, ip: '10.10.0.6' }],
    ]);
    const flows = mergeRuleFlows(
      compilePolicyFlows(service.view().snapshot(), { name: 'node1', pods: local }, state).flows,
    );
    const conjIds = new Map(state.conjIds.keys().map((key) => [key, state.conjIds.idOf(key) ?? -1]));
    const lines = flows.map((f) => dumpLine(f, f.match.startsWith('conj_id=') ? 4 : 9));

    const queries = new AgentQueryService({
      config: { nodeName: 'node1', podCidr: '10.10.0.0/24', bridgeName: 'br-int' } as FirmwareConfig,
      version: 'test',
      agent: { health: () => 'Healthy' },
      pods: { list: () => [], byName: () => undefined, setLabels: () => false },
      lifecycle: { ofportOf: () => undefined },
      policies: service,
      bridge: { listPorts: () => Promise.resolve([]), getOvsVersion: () => Promise.resolve('3.1.0') },
      flowWriter: {
        dumpFlows: () => Promise.resolve([]),
        dumpFlowsText: (filter) =>
          Promise.resolve(
            lines.filter((line) => filter?.table === undefined || line.includes(`table=${filter.table},`)),
          ),
      },
      policyFlows: { conjunctionIds: () => conjIds },
      flowCounters: {
        settle: () => {
          settled++;
          return Promise.resolve();
        },
      },
      now: () => Date.parse('2025-01-01T00:00:10Z'),
    });
    const socketPath = path.join(dir, 'api.sock');
    server = new LocalApiServer({
      socketPath,
      queries,
      policies: queries,
      stats: queries,
      logger: silentLogger,
    });
    await server.start();
    client = new LocalApiClient({ socketPath });
  });

  after(async () => {
    await server?.stop();
    service?.stop();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves /v1/networkpolicystats with per-rule counts from the action flows, after settling counters', async () => {
    const before = settled;
    const views = await client.networkPolicyStats({ type: 'ACNP' });
    assert.equal(settled, before + 1);
    assert.equal(views.length, 1);
    assert.deepEqual(views[0]?.ruleTrafficStats, [
      { name: 'drop-db', trafficStats: { packets: 4, bytes: 296, sessions: 4 } },
    ]);
    assert.equal(views[0]?.metadata.creationTimestamp, '2025-01-01T00:00:07Z');
    const all = await client.networkPolicyStats({ name: 'guard' });
    assert.deepEqual(
      all.map((v) => v.kind),
      ['AntreaClusterNetworkPolicyStats', 'NetworkPolicyStats'],
    );
  });

  it('serves /v1/rulestats for one policy: without namespace the cluster-scoped one', async () => {
    const rules = await client.ruleStats({ name: 'guard' });
    assert.deepEqual(rules, [
      {
        ruleName: 'drop-db',
        direction: 'In',
        ruleIndex: 0,
        action: 'Drop',
        packets: 4,
        bytes: 296,
        sessions: 4,
        since: '2025-01-01T00:00:07Z',
      },
    ]);
    const k8s = await client.ruleStats({ name: 'guard', namespace: 'default' });
    assert.deepEqual(
      k8s.map((r) => [r.ruleName, r.action, r.sessions]),
      [['ingress-0', 'Allow', 4]],
    );
  });

  it('lists one policy’s flows in table order; a Kubernetes policy includes its isolation drops', async () => {
    const acnp = await client.ovsFlows({ networkPolicy: 'guard' });
    assert.ok(acnp.length >= 3);
    assert.ok(
      acnp.every((line) => / table=8[5-9], /.test(line)),
      acnp.join('\n'),
    );
    assert.match(acnp[0] ?? '', /conj_id=\d+,ip actions=drop/);
    const k8s = await client.ovsFlows({ networkPolicy: 'guard', namespace: 'default', type: 'K8sNP' });
    assert.ok(k8s.some((line) => / table=90, /.test(line)));
    assert.ok(
      k8s.some((line) => / table=100, .*actions=drop/.test(line)),
      'isolation drop of web-1',
    );
    assert.ok(
      k8s.every((line) => !/ table=8[5-9], /.test(line)),
      'nothing of the ACNP',
    );
    const tables = k8s.map((line) => Number(/ table=(\d+),/.exec(line)?.[1]));
    assert.deepEqual(
      tables,
      [...tables].sort((a, b) => a - b),
    );
    assert.deepEqual(await client.ovsFlows({ networkPolicy: 'guard', table: '100' }), []);
  });

  it('answers unknown, ambiguous and misaddressed policies with clear errors', async () => {
    await assert.rejects(client.ovsFlows({ networkPolicy: 'nope' }), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'NotFound');
      assert.match(error.message, /"nope" not found/);
      return true;
    });
    await assert.rejects(
      client.ovsFlows({ networkPolicy: 'guard', namespace: 'other' }),
      (error: unknown) => error instanceof ApiError && error.code === 'NotFound',
    );
    await assert.rejects(client.ruleStats({ name: 'nope' }), /not found/);
    service.apply([
      { ...ACNP_YAML, kind: 'NetworkPolicy', metadata: { namespace: 'default', name: 'guard' } },
    ]);
    await assert.rejects(
      client.ovsFlows({ networkPolicy: 'guard', namespace: 'default' }),
      (error: unknown) =>
        error instanceof ApiError &&
        error.code === 'BadRequest' &&
        /several policies.*--type/.test(error.message),
    );
    const annp = await client.ruleStats({ name: 'guard', namespace: 'default', type: 'ANNP' });
    assert.deepEqual(
      annp.map((r) => [r.ruleName, r.sessions]),
      [['drop-db', 0]],
      'computed after the flows: no ids, no counts',
    );
    await assert.rejects(
      client.ovsFlows({ networkPolicy: 'guard', type: 'bogus' as never }),
      (error: unknown) => error instanceof ApiError && error.code === 'BadRequest',
    );
  });
});
