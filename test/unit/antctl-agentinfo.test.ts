// `get agentinfo -o json|yaml` as Antrea's AntreaAgentInfo, and `describe agentinfo` as kubectl describe prints
// it: rendering from a fixed view, parsing, help (CLI and console) and the agent's side of the view.
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { antreaAgentInfo, describeAgentInfo } from '../../firmware/core/antctl/agentinfo';
import {
  agentInfoTable,
  isParseError,
  parseArgs,
  renderHelp,
  runCommand,
  type AntctlBackend,
  type ParseError,
  type RunnableCommand,
} from '../../firmware/core/antctl/commands';
import type { AgentInfoView, AntreaAgentInfoView } from '../../firmware/core/antctl/views';
import {
  completeConsoleLine,
  consoleHelp,
  parseConsoleLine,
} from '../../firmware/core/console/console-commands';
import { formatOutput } from '../../firmware/core/output/format';
import { AgentQueryService, type AgentQueryDeps } from '../../firmware/agent/agent-queries';
import type { FirmwareConfig } from '../../firmware/core/config';
import type { InstalledFlow } from '../../firmware/ovs/flow-writer';

const HEARTBEAT = '2026-11-26T16:00:00Z';

const AGENT_INFO: AgentInfoView = {
  podName: 'antrea-agent-node1',
  nodeName: 'node1',
  status: 'Healthy',
  nodeSubnets: ['10.10.0.0/24'],
  networkPolicies: 2,
  addressGroups: 3,
  appliedToGroups: 1,
  localPods: 2,
  ovsVersion: '3.1.0',
  bridgeName: 'br-int',
  flowsPerTable: { Classification: 3, SpoofGuard: 4, IngressRule: 12 },
  openflowConnectionUp: true,
  ovsdbConnectionUp: true,
  version: '0.4.0',
  heartbeatTime: HEARTBEAT,
};

const FLOW_TABLE = {
  '0': 3,
  '10': 4,
  '20': 0,
  '30': 0,
  '31': 0,
  '40': 0,
  '45': 0,
  '46': 0,
  '47': 0,
  '48': 0,
  '49': 0,
  '50': 0,
  '60': 0,
  '70': 0,
  '80': 0,
  '85': 0,
  '86': 0,
  '87': 0,
  '88': 0,
  '89': 0,
  '90': 12,
  '100': 0,
  '105': 0,
  '110': 0,
};

const ANTREA_AGENT_INFO: AntreaAgentInfoView = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'AntreaAgentInfo',
  metadata: { name: 'node1' },
  version: '0.4.0',
  podRef: { kind: 'Pod', name: 'antrea-agent-node1' },
  nodeRef: { kind: 'Node', name: 'node1' },
  nodeSubnets: ['10.10.0.0/24'],
  ovsInfo: { version: '3.1.0', bridgeName: 'br-int', flowTable: FLOW_TABLE },
  networkPolicyControllerInfo: { networkPolicyNum: 2, addressGroupNum: 3, appliedToGroupNum: 1 },
  localPodNum: 2,
  agentConditions: [
    { type: 'AgentHealthy', status: 'True', lastHeartbeatTime: HEARTBEAT },
    { type: 'OVSDBConnectionUp', status: 'True', lastHeartbeatTime: HEARTBEAT },
    { type: 'OpenflowConnectionUp', status: 'True', lastHeartbeatTime: HEARTBEAT },
  ],
};

const DESCRIBED = [
  'Name:     node1',
  'Version:  0.4.0',
  'Node Ref:',
  '  Kind:  Node',
  '  Name:  node1',
  'Pod Ref:',
  '  Kind:  Pod',
  '  Name:  antrea-agent-node1',
  'Node Subnets:',
  '  10.10.0.0/24',
  'OVS Info:',
  '  Version:      3.1.0',
  '  Bridge Name:  br-int',
  '  Flow Table:',
  '    0 Classification:              3',
  '    10 SpoofGuard:                 4',
  '    20 ARPResponder:               0',
  '    30 ConntrackZone:              0',
  '    31 ConntrackState:             0',
  '    40 DNAT:                       0',
  '    45 CNPEmergencyEgressRule:     0',
  '    46 CNPSecurityOpsEgressRule:   0',
  '    47 CNPNetworkOpsEgressRule:    0',
  '    48 CNPPlatformEgressRule:      0',
  '    49 CNPApplicationEgressRule:   0',
  '    50 EgressRule:                 0',
  '    60 EgressDefaultRule:          0',
  '    70 l3Forwarding:               0',
  '    80 L2Forwarding:               0',
  '    85 CNPEmergencyIngressRule:    0',
  '    86 CNPSecurityOpsIngressRule:  0',
  '    87 CNPNetworkOpsIngressRule:   0',
  '    88 CNPPlatformIngressRule:     0',
  '    89 CNPApplicationIngressRule:  0',
  '    90 IngressRule:                12',
  '    100 IngressDefaultRule:        0',
  '    105 ConntrackCommit:           0',
  '    110 Output:                    0',
  'Network Policy Controller Info:',
  '  Network Policy Num:    2',
  '  Address Group Num:     3',
  '  Applied To Group Num:  1',
  'Local Pod Num:  2',
  'Agent Conditions:',
  '  Type                   Status   LastHeartbeatTime      Reason   Message',
  '  ----                   ------   -----------------      ------   -------',
  '  AgentHealthy           True     2026-11-26T16:00:00Z',
  '  OVSDBConnectionUp      True     2026-11-26T16:00:00Z',
  '  OpenflowConnectionUp   True     2026-11-26T16:00:00Z',
  '',
].join('\n');

function backend(info: AgentInfoView = AGENT_INFO): AntctlBackend {
  return {
    podInterfaces: () => Promise.reject(new Error('unused')),
    ovsFlows: () => Promise.reject(new Error('unused')),
    agentInfo: () => Promise.resolve(info),
  };
}

const context = { antctlVersion: 'test' };

function runnable(argv: string[]): RunnableCommand {
  const parsed = parseArgs(argv);
  if (isParseError(parsed) || parsed.kind === 'help') {
    assert.fail(`${argv.join(' ')} did not parse as a command: ${JSON.stringify(parsed)}`);
  }
  const { globals: _globals, ...command } = parsed;
  return command;
}

function failure(argv: string[]): ParseError {
  const parsed = parseArgs(argv);
  assert.ok(isParseError(parsed), `${argv.join(' ')} parsed`);
  return parsed;
}

describe('AntreaAgentInfo from the agent view', () => {
  it('has Antrea shape: refs, counts, every pipeline table by number and the three conditions', () => {
    assert.deepEqual(antreaAgentInfo(AGENT_INFO), ANTREA_AGENT_INFO);
    assert.deepEqual(Object.keys(antreaAgentInfo(AGENT_INFO).ovsInfo.flowTable), Object.keys(FLOW_TABLE));
  });

  it('says False where the agent is unhealthy or a connection is down, and drops the unread OVS version', () => {
    const info = antreaAgentInfo({
      ...AGENT_INFO,
      status: 'Unhealthy',
      ovsdbConnectionUp: false,
      ovsVersion: 'unknown',
      openflowConnectionUp: false,
    });
    assert.deepEqual(info.ovsInfo.version, undefined);
    assert.deepEqual(
      info.agentConditions?.map((condition) => [condition.type, condition.status]),
      [
        ['AgentHealthy', 'False'],
        ['OVSDBConnectionUp', 'False'],
        ['OpenflowConnectionUp', 'False'],
      ],
    );
  });

  it('lists only the conditions the agent knows, none without a heartbeat, and keeps tables outside the pipeline', () => {
    const {
      openflowConnectionUp: _openflow,
      ovsdbConnectionUp: _ovsdb,
      heartbeatTime: _heartbeat,
      version: _version,
      ...bare
    } = AGENT_INFO;
    const noConnections = antreaAgentInfo({ ...bare, heartbeatTime: HEARTBEAT });
    assert.deepEqual(
      noConnections.agentConditions?.map((condition) => condition.type),
      ['AgentHealthy'],
    );
    assert.equal(noConnections.ovsInfo.version, '3.1.0');
    const old = antreaAgentInfo({ ...bare, flowsPerTable: { '200': 2, Classification: 1 } });
    assert.equal(old.agentConditions, undefined);
    assert.equal(old.version, undefined);
    assert.equal(old.ovsInfo.flowTable['200'], 2);
    assert.equal(old.ovsInfo.flowTable['0'], 1);
    assert.equal(Object.keys(old.ovsInfo.flowTable).at(-1), '200');
  });
});

describe('antctl describe agentinfo', () => {
  it('prints the kubectl describe tree: flow tables in pipeline order with names, conditions as a table', () => {
    assert.equal(describeAgentInfo(ANTREA_AGENT_INFO), DESCRIBED);
  });

  it('prints <none> for what is unknown and unnamed tables by number', () => {
    const text = describeAgentInfo({
      ...ANTREA_AGENT_INFO,
      version: undefined,
      nodeSubnets: [],
      ovsInfo: { bridgeName: 'br-int', flowTable: { '0': 1, '200': 2 } },
      podRef: { kind: 'Pod', namespace: 'kube-system', name: 'antrea-agent-x' },
      agentConditions: [
        {
          type: 'AgentHealthy',
          status: 'False',
          lastHeartbeatTime: HEARTBEAT,
          reason: 'Starting',
          message: 'not ready',
        },
      ],
    });
    assert.match(text, /^Version: {2}<none>$/m);
    assert.match(text, /^Node Subnets: {2}<none>$/m);
    assert.match(text, /^ {2}Version: {6}<none>$/m);
    assert.match(
      text,
      /^Pod Ref:\n {2}Kind: {7}Pod\n {2}Namespace: {2}kube-system\n {2}Name: {7}antrea-agent-x\n/m,
    );
    assert.match(text, /^ {2}Flow Table:\n {4}0 Classification: {2}1\n {4}200: {15}2\n/m);
    assert.match(text, /^ {2}AgentHealthy {3}False {4}2026-11-26T16:00:00Z {3}Starting {3}not ready$/m);
  });

  it('runs through the command runner from the agent view', async () => {
    const run = await runCommand(runnable(['describe', 'agentinfo']), backend(), context);
    assert.deepEqual(run, { stdout: DESCRIBED, stderr: '' });
  });
});

describe('antctl get agentinfo output', () => {
  it('keeps the table of the agent view', async () => {
    const run = await runCommand(runnable(['get', 'agentinfo']), backend(), context);
    assert.equal(
      run.stdout,
      formatOutput('table', AGENT_INFO, () => agentInfoTable(AGENT_INFO)),
    );
    assert.match(run.stdout, /^POD +NODE +STATUS +NODE-SUBNET/);
  });

  it('prints AntreaAgentInfo as json and yaml', async () => {
    const json = await runCommand(runnable(['get', 'agentinfo', '-o', 'json']), backend(), context);
    assert.deepEqual(JSON.parse(json.stdout), ANTREA_AGENT_INFO);
    const yaml = await runCommand(runnable(['get', 'ai', '-o', 'yaml']), backend(), context);
    assert.deepEqual(parseYaml(yaml.stdout), ANTREA_AGENT_INFO);
    assert.match(
      yaml.stdout,
      /^apiVersion: crd\.antrea\.io\/v1beta1\nkind: AntreaAgentInfo\nmetadata:\n {2}name: node1\n/,
    );
  });
});

describe('parsing and help of describe agentinfo', () => {
  it('parses the command and its aliases, and takes no arguments or -o', () => {
    for (const word of ['agentinfo', 'agentinfos', 'ai']) {
      assert.deepEqual(parseArgs(['describe', word]), { kind: 'describe agentinfo', globals: {} });
    }
    assert.deepEqual(parseArgs(['describe', 'ai', '--socket', '/s']), {
      kind: 'describe agentinfo',
      globals: { socket: '/s' },
    });
    assert.equal(failure(['describe', 'agentinfo', 'extra']).code, 'UnexpectedArgument');
    assert.equal(failure(['describe', 'agentinfo', '-o', 'yaml']).code, 'UnknownFlag');
    const typo = failure(['describe', 'agentinf']);
    assert.deepEqual([typo.code, typo.suggestion], ['UnknownCommand', 'agentinfo']);
    assert.deepEqual(parseArgs(['describe']), { kind: 'help', path: ['describe'], globals: {} });
    assert.deepEqual(parseArgs(['describe', 'ai', '--help']), {
      kind: 'help',
      path: ['describe', 'agentinfo'],
      globals: {},
    });
  });

  it('renders the group and the command help like the others', () => {
    const group = renderHelp(['describe']);
    assert.match(group, /^Show the details of a resource/);
    assert.match(
      group,
      /\nAvailable Commands:\n {2}agentinfo {3}Show the details of the agent's basic information\n\n/,
    );
    const help = renderHelp(['describe', 'agentinfo']);
    assert.match(help, /\nUsage:\n {2}antctl describe agentinfo \[flags\]\n/);
    assert.match(help, /\nAliases:\n {2}agentinfo, agentinfos, ai\n/);
    assert.match(
      help,
      /\nExamples:\n {2}Show the details of the agent's basic information\n {2}\$ antctl describe agentinfo\n/,
    );
    assert.match(help, /\nFlags:\n {2}-h, --help {3}help for agentinfo\n/);
    assert.match(renderHelp([]), /\n {2}describe {8}Show details of a resource\n/);
  });

  it('is a console command: listed in help, completed, parsed and helped without the program name', () => {
    assert.match(
      consoleHelp(),
      /\n {2}describe agentinfo +Show the details of the agent's basic information\n/,
    );
    const names = { pods: [], policies: [] };
    assert.ok(completeConsoleLine('', names).candidates.includes('describe'));
    assert.deepEqual(completeConsoleLine('desc', names).candidates.includes('describe'), true);
    assert.deepEqual(completeConsoleLine('describe ', names), { start: 9, candidates: ['agentinfo'] });
    assert.deepEqual(parseConsoleLine('describe ai'), {
      kind: 'antctl',
      command: { kind: 'describe agentinfo' },
    });
    const help = parseConsoleLine('describe agentinfo --help');
    assert.equal(help.kind, 'help');
    assert.match(help.kind === 'help' ? help.text : '', /\nUsage:\n {2}describe agentinfo \[flags\]\n/);
  });
});

describe('the agent view behind AntreaAgentInfo', () => {
  function service(ovsVersion: () => Promise<string>): AgentQueryService {
    const flows = [0, 0, 10, 90].map((table) => ({ table }) as InstalledFlow);
    return new AgentQueryService({
      config: { nodeName: 'node1', podCidr: '10.10.0.0/24', bridgeName: 'br-int' } as FirmwareConfig,
      version: '1.2.3',
      agent: { health: () => 'Healthy' },
      pods: { list: () => [], byName: () => undefined, setLabels: () => false },
      lifecycle: { ofportOf: () => undefined },
      policies: {
        counts: () => ({ networkPolicies: 1, addressGroups: 2, appliedToGroups: 3 }),
      } as unknown as AgentQueryDeps['policies'],
      bridge: { listPorts: () => Promise.resolve([]), getOvsVersion: ovsVersion },
      flowWriter: { dumpFlows: () => Promise.resolve(flows), dumpFlowsText: () => Promise.resolve([]) },
      openflow: { isConnected: true },
      now: () => Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    });
  }

  it('carries the version, the heartbeat and whether OVSDB answered', async () => {
    const up = await service(() => Promise.resolve('3.1.0')).agentInfo();
    assert.deepEqual(
      [up.version, up.heartbeatTime, up.ovsdbConnectionUp, up.ovsVersion],
      ['1.2.3', '2024-01-02T03:04:05Z', true, '3.1.0'],
    );
    assert.deepEqual(up.flowsPerTable, { Classification: 2, SpoofGuard: 1, IngressRule: 1 });
    const info = antreaAgentInfo(up);
    assert.deepEqual(
      [info.ovsInfo.flowTable['0'], info.ovsInfo.flowTable['10'], info.ovsInfo.flowTable['90']],
      [2, 1, 1],
    );
    const down = await service(() => Promise.reject(new Error('ovsdb: connection refused'))).agentInfo();
    assert.deepEqual([down.ovsdbConnectionUp, down.ovsVersion], [false, 'unknown']);
    assert.deepEqual(
      antreaAgentInfo(down).agentConditions?.find((condition) => condition.type === 'OVSDBConnectionUp')
        ?.status,
      'False',
    );
  });
});
