import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { antreaAgentInfo } from '../../firmware/core/antctl/agentinfo';
import { ApiError } from '../../firmware/core/antctl/api-error';
import type {
  AntreaAgentInfoView,
  OvsFlowFilter,
  PodInterfaceFilter,
} from '../../firmware/core/antctl/views';
import { silentLogger } from '../../firmware/core/logger';
import { PIPELINE_TABLES } from '../../firmware/core/pipeline/tables';
import {
  LocalApiServer,
  type AgentInfoView,
  type AgentQueries,
  type PodInterfaceView,
} from '../../firmware/http/local-api';
import { NGINX_ALLOW_EXAMPLE } from '../../scripts/lib/seed';
import { startTestNode, type TestNode } from '../support/sim-cluster';

const REPO_ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(REPO_ROOT, 'firmware/cli/antctl.ts');
const PACKAGE_VERSION = (
  JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

const PODS: PodInterfaceView[] = [
  {
    namespace: 'default',
    name: 'web',
    interfaceName: 'web-2a41f0',
    ip: '10.10.0.5',
    mac: 'aa:bb:cc:00:00:05',
    portUuid: '1b2c3d4e-0000-4000-8000-000000000005',
    ofport: 5,
    containerId: '4f8d2c3a9b1e7f6d5c4b3a2918d7e6f5',
  },
  {
    namespace: 'kube-system',
    name: 'coredns',
    interfaceName: 'coredns-d0c58e',
    ip: '10.10.0.3',
    mac: '52:bd:c6:e0:eb:c1',
    portUuid: '1b2c3d4e-0000-4000-8000-000000000003',
    ofport: 3,
    containerId: '9f1e2d3c4b5a69788796a5b4c3d2e1f0',
  },
];

const TABLES = [
  { name: 'Classification', number: 0 },
  { name: 'SpoofGuard', number: 10 },
];

const FLOWS = [
  'table=0, n_packets=0, n_bytes=0, priority=200,in_port=5 actions=load:0x2->NXM_NX_REG0[0..15],goto_table:10',
  'table=10, n_packets=7, n_bytes=490, priority=200,ip,in_port=5,dl_src=aa:bb:cc:00:00:05,nw_src=10.10.0.5 actions=goto_table:30',
];

const AGENT_INFO: AgentInfoView = {
  podName: 'antrea-edge-node1',
  nodeName: 'node1',
  status: 'Healthy',
  nodeSubnets: ['10.10.0.0/24'],
  networkPolicies: 2,
  addressGroups: 3,
  appliedToGroups: 1,
  localPods: 2,
  ovsVersion: '3.1.0',
  bridgeName: 'br-int',
  flowsPerTable: { Classification: 3, SpoofGuard: 4 },
};

class FakeAgent implements AgentQueries {
  readonly podInterfaceFilters: PodInterfaceFilter[] = [];
  readonly flowFilters: OvsFlowFilter[] = [];
  flowCount: number | undefined;

  podInterfaces(filter: PodInterfaceFilter): Promise<PodInterfaceView[]> {
    this.podInterfaceFilters.push(filter);
    const matching = PODS.filter(
      (pod) =>
        (filter.name === undefined || pod.name === filter.name) &&
        (filter.namespace === undefined || pod.namespace === filter.namespace),
    );
    if (filter.name !== undefined && filter.namespace !== undefined && matching.length === 0) {
      return Promise.reject(new ApiError('NotFound', `pod ${filter.namespace}/${filter.name} not found`));
    }
    return Promise.resolve(matching);
  }

  ovsFlows(filter: OvsFlowFilter): Promise<string[]> {
    this.flowFilters.push(filter);
    const table = filter.table;
    if (table !== undefined && !TABLES.some((t) => t.name === table || String(t.number) === table)) {
      return Promise.reject(ApiError.unknownTable(table, TABLES));
    }
    if (this.flowCount !== undefined) {
      return Promise.resolve(
        Array.from({ length: this.flowCount }, (_, i) => `table=0, priority=${i} actions=drop`),
      );
    }
    return Promise.resolve(FLOWS);
  }

  agentInfo(): Promise<AgentInfoView> {
    return Promise.resolve(AGENT_INFO);
  }
}

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Asynchronous on purpose: the API server under test lives in this process and must keep answering. */
function runCli(file: string, args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : error.code;
        if (typeof code !== 'number') {
          reject(new Error(`could not run ${file}: ${error?.message ?? 'no exit code'}`));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('antctl CLI against a local API server', function () {
  this.timeout(120_000);

  let dir: string;
  let socketPath: string;
  let agent: FakeAgent;
  let server: LocalApiServer;

  const antctl = (...args: string[]): Promise<CliRun> =>
    runCli(process.execPath, ['--import', 'tsx', CLI, ...args], { ANTREA_EDGE_ANTCTL_SOCKET: socketPath });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'antctl-cli-'));
    socketPath = path.join(dir, 'antctl.sock');
    agent = new FakeAgent();
    server = new LocalApiServer({ socketPath, queries: agent, logger: silentLogger });
    await server.start();
  });

  after(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('get podinterface prints the antctl table', async () => {
    const run = await antctl('get', 'podinterface');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.equal(
      run.stdout,
      'NAMESPACE     NAME      INTERFACE-NAME   IP          MAC                 PORT-UUID                              OF-PORT   CONTAINER-ID\n' +
        'default       web       web-2a41f0       10.10.0.5   aa:bb:cc:00:00:05   1b2c3d4e-0000-4000-8000-000000000005   5         4f8d2c3a9b1e\n' +
        'kube-system   coredns   coredns-d0c58e   10.10.0.3   52:bd:c6:e0:eb:c1   1b2c3d4e-0000-4000-8000-000000000003   3         9f1e2d3c4b5a\n',
    );
  });

  it('get pi NAME -n NAMESPACE -o json sends the filter and prints the views', async () => {
    const run = await antctl('get', 'pi', 'web', '-n', 'default', '-o', 'json');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [PODS[0]]);
    assert.deepEqual(agent.podInterfaceFilters.at(-1), { name: 'web', namespace: 'default' });
  });

  it('get podinterface -o yaml prints every field', async () => {
    const run = await antctl('get', 'podinterface', '-n', 'kube-system', '-o', 'yaml');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(parseYaml(run.stdout), [PODS[1]]);
    assert.ok(run.stdout.startsWith('- namespace: kube-system\n  name: coredns\n'), run.stdout);
  });

  it('says so on stderr and exits 0 when nothing matches', async () => {
    const run = await antctl('get', 'pi', 'ghost');
    assert.equal(run.code, 0);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, 'No resources found.\n');
  });

  it('exits 1 with the agent message when a pod does not exist', async () => {
    const run = await antctl('get', 'pi', 'ghost', '-n', 'default');
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, 'Error: pod default/ghost not found\n');
  });

  it('get ovsflows prints the flow lines under FLOW and passes -p -n -T', async () => {
    const run = await antctl('get', 'ovsflows', '-p', 'web', '-n', 'default', '-T', 'SpoofGuard');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `FLOW\n${FLOWS.join('\n')}\n`);
    assert.deepEqual(agent.flowFilters.at(-1), { pod: 'web', namespace: 'default', table: 'SpoofGuard' });
    const json = await antctl('get', 'of', '-T', '10', '-o', 'json');
    assert.deepEqual(JSON.parse(json.stdout), FLOWS);
    assert.deepEqual(agent.flowFilters.at(-1), { table: '10' });
  });

  it('an unknown table exits 1 with the valid table names on one line', async () => {
    const run = await antctl('get', 'of', '-T', 'Nope');
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(
      run.stderr,
      'Error: unknown table "Nope": valid tables are Classification (0), SpoofGuard (10)\n',
    );
  });

  it('get agentinfo prints the antctl columns, and AntreaAgentInfo as yaml', async () => {
    const table = await antctl('get', 'agentinfo');
    assert.equal(table.code, 0, table.stderr);
    assert.equal(
      table.stdout,
      'POD                 NODE    STATUS    NODE-SUBNET    NETWORK-POLICIES   ADDRESS-GROUPS   APPLIED-TO-GROUPS   LOCAL-PODS\n' +
        'antrea-edge-node1   node1   Healthy   10.10.0.0/24   2                  3                1                   2\n',
    );
    const yaml = await antctl('get', 'ai', '-o', 'yaml');
    assert.deepEqual(parseYaml(yaml.stdout), antreaAgentInfo(AGENT_INFO));
  });

  it('version prints the package version without needing the agent', async () => {
    const run = await runCli(process.execPath, ['--import', 'tsx', CLI, 'version'], {
      ANTREA_EDGE_ANTCTL_SOCKET: path.join(dir, 'absent.sock'),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `antctlVersion: ${PACKAGE_VERSION}\n`);
  });

  it('--help and help print usage and exit 0', async () => {
    const root = await antctl('--help');
    assert.equal(root.code, 0);
    assert.match(root.stdout, /^Usage:\n {2}antctl \[command\]$/m);
    const command = await antctl('help', 'get', 'ovsflows');
    assert.equal(command.code, 0);
    assert.match(command.stdout, /^ {2}-T, --table string +Name or number of a pipeline table/m);
    const group = await antctl('get');
    assert.equal(group.code, 0);
    assert.match(group.stdout, /^ {2}podinterface +Print Pod's network interface information$/m);
  });

  it('bad input exits 2 with one error line and a suggestion', async () => {
    const cases: [string[], string][] = [
      [
        ['get', 'podinterfce'],
        'Error: unknown command "podinterfce" for "antctl get"; did you mean "podinterface"?\n',
      ],
      [
        ['get', 'pi', '--namespce', 'x'],
        'Error: unknown flag "--namespce" for "antctl get podinterface"; did you mean "--namespace"?\n',
      ],
      [['get', 'pi', '-n'], 'Error: flag -n/--namespace needs a value\n'],
      [
        ['get', 'ai', '-o', 'xml'],
        'Error: invalid output format "xml": valid formats are table, json, yaml\n',
      ],
    ];
    for (const [args, stderr] of cases) {
      const run = await antctl(...args);
      assert.equal(run.code, 2, args.join(' '));
      assert.equal(run.stdout, '');
      assert.equal(run.stderr, stderr);
    }
  });

  it('exits 1 with a clear message when the agent is down', async () => {
    const absent = path.join(dir, 'absent.sock');
    const run = await runCli(process.execPath, ['--import', 'tsx', CLI, 'get', 'ai'], {
      ANTREA_EDGE_ANTCTL_SOCKET: absent,
    });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `Error: cannot reach the antrea-edge agent at ${absent}: is it running?\n`);
  });

  it('--socket wins over the environment', async () => {
    const run = await runCli(
      process.execPath,
      ['--import', 'tsx', CLI, '--socket', socketPath, 'get', 'ai', '-o', 'json'],
      {
        ANTREA_EDGE_ANTCTL_SOCKET: path.join(dir, 'absent.sock'),
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), antreaAgentInfo(AGENT_INFO));
  });

  it('a reader that stops early (| head) is not a crash', async () => {
    agent.flowCount = 200_000;
    try {
      const run = await runCli(
        'bash',
        ['-c', `set -o pipefail; "${process.execPath}" --import tsx "${CLI}" get of | head -n 2`],
        { ANTREA_EDGE_ANTCTL_SOCKET: socketPath },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'FLOW\ntable=0, priority=0 actions=drop\n');
      assert.equal(run.stderr, '');
    } finally {
      agent.flowCount = undefined;
    }
  });
});

describe('antctl CLI against a real node', function () {
  this.timeout(240_000);
  let t: TestNode;

  const antctl = (...args: string[]): Promise<CliRun> => {
    const [cmd = process.execPath, ...prefix] = t.node.antctlCommand();
    return runCli(cmd, [...prefix, ...args], { ANTREA_EDGE_ANTCTL_SOCKET: t.node.antctlSocket });
  };

  /** The one row under the header, split into cells (no cell here contains spaces). */
  const controllerInfoRow = async (): Promise<string[]> => {
    const run = await antctl('get', 'controllerinfo');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const [header, row, ...more] = run.stdout.trimEnd().split('\n');
    assert.deepEqual(header?.split(/\s+/), [
      'POD',
      'NODE',
      'STATUS',
      'NETWORK-POLICIES',
      'ADDRESS-GROUPS',
      'APPLIED-TO-GROUPS',
      'CONNECTED-AGENTS',
    ]);
    assert.deepEqual(more, []);
    return row?.split(/\s+/) ?? [];
  };

  before(async () => {
    t = await startTestNode('aci');
  });

  after(async () => {
    await t?.stop();
  });

  it('get controllerinfo shows the in-process controller and its policy count after an apply', async () => {
    // DevNode's default node name; the controller runs in the agent's process, so it reports the agent's Pod.
    const identity = ['antrea-agent-antrea-edge-sim', 'antrea-edge-sim', 'Healthy'];
    assert.deepEqual(await controllerInfoRow(), [...identity, '0', '0', '0', '1']);
    const apply = await antctl('apply', '-f', NGINX_ALLOW_EXAMPLE);
    assert.equal(apply.code, 0, apply.stderr);
    // nginx-allow: one policy, its applied-to Pods (app=nginx) and its peers (app=nginx) are one group each.
    assert.deepEqual(await controllerInfoRow(), [...identity, '1', '1', '1', '1']);
    const yaml = await antctl('get', 'ci', '-o', 'yaml');
    assert.equal(yaml.code, 0, yaml.stderr);
    const info = parseYaml(yaml.stdout) as Record<string, unknown>;
    assert.equal(info['kind'], 'AntreaControllerInfo');
    assert.deepEqual(info['networkPolicyControllerInfo'], {
      networkPolicyNum: 1,
      addressGroupNum: 1,
      appliedToGroupNum: 1,
    });
  });

  it('describe agentinfo shows the OVS version and the flows of every table of the running pipeline', async () => {
    const run = await antctl('describe', 'agentinfo');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /^Name: +antrea-edge-sim\n/);
    const ovsVersion = /^OVS Info:\n {2}Version: +(\S+)\n {2}Bridge Name: +br-int\n/m.exec(run.stdout)?.[1];
    assert.ok(ovsVersion !== undefined && ovsVersion !== '<none>', run.stdout);
    const flowLines = /^ {2}Flow Table:\n((?: {4}.*\n)+)/m.exec(run.stdout)?.[1] ?? '';
    const counts = new Map(
      [...flowLines.matchAll(/^ {4}(\d+) (\w+): +(\d+)$/gm)].map((m) => [`${m[1]} ${m[2]}`, Number(m[3])]),
    );
    assert.ok((counts.get('0 Classification') ?? 0) > 0, flowLines);
    assert.ok((counts.get('110 Output') ?? 0) > 0, flowLines);
    assert.deepEqual(
      [...counts.keys()],
      PIPELINE_TABLES.map((table) => `${table.id} ${table.name}`),
      'every pipeline table, in pipeline order',
    );
    assert.match(run.stdout, /^ {2}AgentHealthy +True +\S+Z$/m);
    assert.match(run.stdout, /^ {2}OVSDBConnectionUp +True +\S+Z$/m);
    assert.match(run.stdout, /^ {2}OpenflowConnectionUp +True +\S+Z$/m);
    // The same numbers as the AntreaAgentInfo object.
    const yaml = await antctl('get', 'agentinfo', '-o', 'yaml');
    const info = parseYaml(yaml.stdout) as AntreaAgentInfoView;
    assert.equal(info.kind, 'AntreaAgentInfo');
    assert.equal(info.ovsInfo.version, ovsVersion);
    assert.equal(info.ovsInfo.flowTable['0'], counts.get('0 Classification'));
  });
});
