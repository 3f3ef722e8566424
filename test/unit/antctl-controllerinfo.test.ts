// `get controllerinfo`: parsing, help (antctl and console), the table/json/yaml views, and the query against the
// real PolicyService (directly, and through the local API socket as the CLI asks it).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AgentQueryService } from '../../firmware/agent/agent-queries';
import { PolicyService } from '../../firmware/agent/policy-service';
import { runAntctl } from '../../firmware/cli/antctl';
import { ApiError } from '../../firmware/core/antctl/api-error';
import {
  controllerInfoTable,
  isParseError,
  parseArgs,
  renderHelp,
  runCommand,
  type AntctlBackend,
  type ParsedCommand,
  type RunnableCommand,
} from '../../firmware/core/antctl/commands';
import type { ControllerInfoView } from '../../firmware/core/antctl/views';
import type { FirmwareConfig } from '../../firmware/core/config';
import {
  completeConsoleLine,
  consoleHelp,
  parseConsoleLine,
} from '../../firmware/core/console/console-commands';
import { silentLogger } from '../../firmware/core/logger';
import { formatOutput } from '../../firmware/core/output/format';
import { LocalApiServer } from '../../firmware/http/local-api';
import { openStore, type StoreDatabase } from '../../firmware/store/database';
import { PodRepository } from '../../firmware/store/pod-repository';
import { NamespaceRepository, PolicyObjectRepository } from '../../firmware/store/policy-repository';

const CONTROLLER_INFO: ControllerInfoView = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'AntreaControllerInfo',
  metadata: { name: 'antrea-controller' },
  version: '0.4.0',
  podRef: { kind: 'Pod', name: 'antrea-agent-node1' },
  nodeRef: { kind: 'Node', name: 'node1' },
  networkPolicyControllerInfo: { networkPolicyNum: 2, addressGroupNum: 3, appliedToGroupNum: 1 },
  connectedAgentNum: 1,
  controllerConditions: [
    { type: 'ControllerHealthy', status: 'True', lastHeartbeatTime: '2024-01-02T03:04:05Z' },
  ],
};

const TABLE =
  'POD                  NODE    STATUS    NETWORK-POLICIES   ADDRESS-GROUPS   APPLIED-TO-GROUPS   CONNECTED-AGENTS\n' +
  'antrea-agent-node1   node1   Healthy   2                  3                1                   1\n';

function parsed(argv: string[]): ParsedCommand {
  const result = parseArgs(argv);
  if (isParseError(result)) throw new Error(`unexpected parse error: ${result.message}`);
  return result;
}

function runnable(argv: string[]): RunnableCommand {
  const result = parsed(argv);
  if (result.kind === 'help') throw new Error(`${argv.join(' ')} asks for help`);
  return result;
}

function parseFailure(argv: string[]) {
  const parsed = parseArgs(argv);
  if (!isParseError(parsed)) throw new Error(`expected a parse error for ${argv.join(' ')}`);
  return parsed;
}

/** An agent without the controller's info; `controllerInfo` is added per test. */
function backend(controllerInfo?: () => Promise<ControllerInfoView>): AntctlBackend {
  return {
    podInterfaces: () => Promise.resolve([]),
    ovsFlows: () => Promise.resolve([]),
    agentInfo: () => Promise.reject(new Error('unused')),
    ...(controllerInfo === undefined ? {} : { controllerInfo }),
  };
}

describe('antctl get controllerinfo: parsing and help', () => {
  it('parses the command, its aliases and -o', () => {
    assert.deepEqual(runnable(['get', 'controllerinfo']), {
      kind: 'get controllerinfo',
      output: 'table',
      globals: {},
    });
    assert.equal(runnable(['get', 'ci']).kind, 'get controllerinfo');
    assert.equal(runnable(['get', 'controllerinfos']).kind, 'get controllerinfo');
    assert.equal(runnable(['get', 'ci', '-o', 'yaml']).output, 'yaml');
    assert.equal(runnable(['get', 'ci', '--output=json']).output, 'json');
  });

  it('rejects arguments, foreign flags and bad formats, and suggests the command for a typo', () => {
    assert.equal(
      parseFailure(['get', 'controllerinfo', 'node1']).message,
      '"antctl get controllerinfo" takes no arguments, got "node1"',
    );
    assert.equal(
      parseFailure(['get', 'ci', '-n', 'default']).message,
      'unknown flag "-n" for "antctl get controllerinfo"',
    );
    assert.equal(parseFailure(['get', 'ci', '-o', 'xml']).code, 'BadOutputFormat');
    assert.equal(parseFailure(['get', 'controlerinfo']).suggestion, 'controllerinfo');
  });

  it('has its own help page and a line in the get group', () => {
    const help = renderHelp(['get', 'controllerinfo']);
    assert.ok(help.startsWith('Print the basic information of the NetworkPolicy controller'), help);
    assert.match(help, /^ {2}antctl get controllerinfo \[flags\]$/m);
    assert.match(help, /^ {2}controllerinfo, controllerinfos, ci$/m);
    assert.match(help, /^ {2}\$ antctl get ci -o yaml$/m);
    assert.match(help, /^ {2}-o, --output string +output format: table\|json\|yaml \(default "table"\)$/m);
    assert.deepEqual(parsed(['get', 'ci', '--help']), {
      kind: 'help',
      path: ['get', 'controllerinfo'],
      globals: {},
    });
    assert.match(renderHelp(['get']), /^ {2}controllerinfo +Print Antrea controller's basic information$/m);
  });

  it('is a console command too: help lists it, Tab completes it, the line parses', () => {
    assert.match(consoleHelp(), /^ {2}get controllerinfo +Print Antrea controller's basic information$/m);
    assert.deepEqual(parseConsoleLine('get ci -o json'), {
      kind: 'antctl',
      command: { kind: 'get controllerinfo', output: 'json' },
    });
    assert.deepEqual(parseConsoleLine('antctl get controllerinfo'), {
      kind: 'antctl',
      command: { kind: 'get controllerinfo', output: 'table' },
    });
    const help = parseConsoleLine('help get controllerinfo');
    assert.equal(help.kind, 'help');
    assert.ok(help.kind === 'help' && help.text.includes('  $ get ci -o yaml\n'), JSON.stringify(help));
    assert.ok(help.kind === 'help' && !help.text.includes('Global Flags'), 'the console drops --socket');
    const names = { pods: [], policies: [] };
    const words = completeConsoleLine('get ', names);
    assert.equal(words.start, 4);
    assert.ok(words.candidates.includes('controllerinfo'), words.candidates.join(' '));
    assert.deepEqual(completeConsoleLine('get ci -', names).candidates, ['--output', '--help']);
    assert.deepEqual(completeConsoleLine('get ci -o ', names).candidates, ['table', 'json', 'yaml']);
  });
});

describe('antctl get controllerinfo: output', () => {
  it("prints Antrea's columns as one row", () => {
    assert.equal(
      formatOutput('table', CONTROLLER_INFO, () => controllerInfoTable(CONTROLLER_INFO)),
      TABLE,
    );
  });

  it('prints the AntreaControllerInfo object as json and yaml, without a serviceRef', () => {
    const table = () => controllerInfoTable(CONTROLLER_INFO);
    const json = formatOutput('json', CONTROLLER_INFO, table);
    assert.deepEqual(JSON.parse(json), CONTROLLER_INFO);
    const yaml = formatOutput('yaml', CONTROLLER_INFO, table);
    assert.deepEqual(parseYaml(yaml), CONTROLLER_INFO);
    assert.ok(yaml.startsWith('apiVersion: crd.antrea.io/v1beta1\nkind: AntreaControllerInfo\n'), yaml);
    assert.match(yaml, /^ {2}networkPolicyNum: 2$/m);
    assert.ok(!json.includes('serviceRef'), json);
  });

  it('derives STATUS from the conditions as Antrea does, prints namespace/name, <NONE> for unknown counts', () => {
    const notServing: ControllerInfoView = {
      ...CONTROLLER_INFO,
      podRef: { kind: 'Pod', namespace: 'kube-system', name: 'antrea-agent-node1' },
      controllerConditions: [
        {
          type: 'ControllerHealthy',
          status: 'False',
          lastHeartbeatTime: '2024-01-02T03:04:05Z',
          reason: 'NotStarted',
          message: 'the policy service is not started',
        },
      ],
      connectedAgentNum: 0,
    };
    delete notServing.networkPolicyControllerInfo;
    assert.deepEqual(controllerInfoTable(notServing).rows, [
      ['kube-system/antrea-agent-node1', 'node1', 'Unhealthy', '', '', '', '0'],
    ]);
    assert.match(
      formatOutput('table', notServing, () => controllerInfoTable(notServing)),
      /\nkube-system\/antrea-agent-node1 +node1 +Unhealthy +<NONE> +<NONE> +<NONE> +0\n$/,
    );
    const unknown: ControllerInfoView = {
      ...CONTROLLER_INFO,
      controllerConditions: [{ type: 'ControllerHealthy', status: 'Unknown', lastHeartbeatTime: '' }],
    };
    assert.equal(controllerInfoTable(unknown).rows[0]?.[2], 'Unknown');
  });

  it('runs through the command runner, and says so where no controller runs', async () => {
    const context = { antctlVersion: 'test' };
    const ok = await runCommand(
      { kind: 'get controllerinfo', output: 'table' },
      backend(() => Promise.resolve(CONTROLLER_INFO)),
      context,
    );
    assert.deepEqual(ok, { stdout: TABLE, stderr: '' });
    await assert.rejects(
      runCommand({ kind: 'get controllerinfo', output: 'json' }, backend(), context),
      (error: unknown) =>
        error instanceof ApiError &&
        error.code === 'Unavailable' &&
        error.message === 'no policy controller runs in this agent',
    );
  });
});

const NGINX_ALLOW = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace: 'default', name: 'nginx-allow' },
  spec: {
    podSelector: { matchLabels: { app: 'nginx' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { run: 'ch-busybox' } } }] }],
  },
};

/** Selects no Pod: its span is empty, yet the controller computed it and counts it. */
const GUARD_NOBODY = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'ClusterNetworkPolicy',
  metadata: { name: 'guard' },
  spec: {
    priority: 5,
    appliedTo: [{ podSelector: { matchLabels: { app: 'web' } } }],
    ingress: [{ name: 'drop-db', action: 'Drop', from: [{ podSelector: { matchLabels: { app: 'db' } } }] }],
  },
};

const HEARTBEAT_MS = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

describe('controllerinfo from the real policy service', () => {
  let dir: string;
  let db: StoreDatabase;
  let service: PolicyService;
  let queries: AgentQueryService;
  let server: LocalApiServer;
  let socketPath: string;

  const antctl = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const code = await runAntctl(args, {
      env: { ANTREA_EDGE_ANTCTL_SOCKET: socketPath },
      io: { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
      antctlVersion: '0.0.0-test',
    });
    return { code, stdout, stderr };
  };

  function queryService(deps: { withEnforcer: boolean }): AgentQueryService {
    return new AgentQueryService({
      config: { nodeName: 'node1', podCidr: '10.10.0.0/24', bridgeName: 'br-int' } as FirmwareConfig,
      version: '1.2.3',
      agent: { health: () => 'Healthy' },
      pods: new PodRepository(db),
      lifecycle: { ofportOf: () => undefined },
      policies: service,
      bridge: { listPorts: () => Promise.resolve([]), getOvsVersion: () => Promise.resolve('3.1.0') },
      flowWriter: { dumpFlows: () => Promise.resolve([]), dumpFlowsText: () => Promise.resolve([]) },
      ...(deps.withEnforcer ? { realization: { status: () => undefined } } : {}),
      now: () => HEARTBEAT_MS,
    });
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-controllerinfo-'));
    socketPath = path.join(dir, 'antctl.sock');
    db = openStore(':memory:');
    const pods = new PodRepository(db);
    const add = (name: string, labels: Record<string, string>, ip: string): void =>
      pods.insert({
        containerId: `c-${name}`,
        namespace: 'default',
        name,
        ifName: 'eth0',
        netns: `/n/${name}`,
        hostIfName: `${name.slice(0, 8)}-0`,
        ip,
        mac: '0a:00:00:00:00:01',
        labels,
        containerPorts: [],
        createdAt: 'then',
      });
    add('nginx-1', { app: 'nginx' }, '10.10.0.2');
    add('ch-busybox', { run: 'ch-busybox' }, '10.10.0.3');
    service = new PolicyService({
      nodeName: 'node1',
      pods,
      namespaces: new NamespaceRepository(db),
      objects: new PolicyObjectRepository(db),
      logger: silentLogger,
    });
    queries = queryService({ withEnforcer: true });
    server = new LocalApiServer({ socketPath, queries, policies: queries, logger: silentLogger });
    await server.start();
  });

  after(async () => {
    await server.stop();
    service.stop();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is Unhealthy with no counts while the policy service is not started', async () => {
    const info = await queries.controllerInfo();
    assert.equal(info.networkPolicyControllerInfo, undefined);
    assert.deepEqual(info.controllerConditions, [
      {
        type: 'ControllerHealthy',
        status: 'False',
        lastHeartbeatTime: '2024-01-02T03:04:05Z',
        reason: 'NotStarted',
        message: 'the policy service is not started',
      },
    ]);
    const run = await antctl(['get', 'ci']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\nantrea-agent-node1 +node1 +Unhealthy +<NONE> +<NONE> +<NONE> +1\n$/);
  });

  it("counts the controller's policies and groups, also those that span no node", async () => {
    service.start();
    const empty = await queries.controllerInfo();
    assert.deepEqual(empty.networkPolicyControllerInfo, {
      networkPolicyNum: 0,
      addressGroupNum: 0,
      appliedToGroupNum: 0,
    });
    service.apply([NGINX_ALLOW, GUARD_NOBODY]);
    const guard = service.networkPolicies({ name: 'guard' })[0];
    assert.deepEqual(guard?.span, [], 'the ACNP selects no Pod');
    assert.deepEqual(await queries.controllerInfo(), {
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'AntreaControllerInfo',
      metadata: { name: 'antrea-controller' },
      version: '1.2.3',
      podRef: { kind: 'Pod', name: 'antrea-agent-node1' },
      nodeRef: { kind: 'Node', name: 'node1' },
      networkPolicyControllerInfo: { networkPolicyNum: 2, addressGroupNum: 2, appliedToGroupNum: 2 },
      connectedAgentNum: 1,
      controllerConditions: [
        { type: 'ControllerHealthy', status: 'True', lastHeartbeatTime: '2024-01-02T03:04:05Z' },
      ],
    });
    // Same identity and counts as agentinfo: one process runs both.
    const agent = await queries.agentInfo();
    assert.equal(agent.podName, 'antrea-agent-node1');
    assert.equal(agent.networkPolicies, 2);
  });

  it('answers antctl over the local API socket in every format', async () => {
    const table = await antctl(['get', 'controllerinfo']);
    assert.deepEqual(table, {
      code: 0,
      stdout:
        'POD                  NODE    STATUS    NETWORK-POLICIES   ADDRESS-GROUPS   APPLIED-TO-GROUPS   CONNECTED-AGENTS\n' +
        'antrea-agent-node1   node1   Healthy   2                  2                2                   1\n',
      stderr: '',
    });
    const json = await antctl(['get', 'ci', '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), await queries.controllerInfo());
    const yaml = await antctl(['get', 'ci', '-o', 'yaml']);
    assert.deepEqual(parseYaml(yaml.stdout), await queries.controllerInfo());
    service.delete('ClusterNetworkPolicy//guard');
    const after = await antctl(['get', 'ci', '-o', 'json']);
    assert.deepEqual((JSON.parse(after.stdout) as ControllerInfoView).networkPolicyControllerInfo, {
      networkPolicyNum: 1,
      addressGroupNum: 1,
      appliedToGroupNum: 1,
    });
  });

  it('counts no connected agent when nothing enforces the policies', async () => {
    assert.equal((await queryService({ withEnforcer: false }).controllerInfo()).connectedAgentNum, 0);
  });

  it('answers 503 over the socket when the server serves no policies', async () => {
    const other = path.join(dir, 'no-policies.sock');
    const bare = new LocalApiServer({ socketPath: other, queries, logger: silentLogger });
    await bare.start();
    try {
      let stderr = '';
      const code = await runAntctl(['get', 'ci'], {
        env: { ANTREA_EDGE_ANTCTL_SOCKET: other },
        io: { stdout: () => undefined, stderr: (t) => (stderr += t) },
        antctlVersion: '0.0.0-test',
      });
      assert.deepEqual(
        [code, stderr],
        [1, 'Error: this agent serves no network policies over its local API\n'],
      );
    } finally {
      await bare.stop();
    }
  });
});
