import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { antreaAgentInfo } from '../../firmware/core/antctl/agentinfo';
import { ApiError } from '../../firmware/core/antctl/api-error';
import {
  agentInfoTable,
  ANTCTL_COMMANDS,
  closestWord,
  editDistance,
  isParseError,
  NO_RESOURCES_NOTICE,
  ovsFlowsTable,
  parseArgs,
  podInterfaceTable,
  renderHelp,
  runCommand,
  type ParsedCommand,
  type ParseError,
  type RunnableCommand,
} from '../../firmware/core/antctl/commands';
import type {
  AgentInfoView,
  AgentQueries,
  OvsFlowFilter,
  PodInterfaceFilter,
  PodInterfaceView,
} from '../../firmware/core/antctl/views';
import { formatOutput, formatTable } from '../../firmware/core/output/format';

const POD_INTERFACES: PodInterfaceView[] = [
  {
    namespace: 'kube-system',
    name: 'coredns-6955765f44-zcbwj',
    interfaceName: 'coredns--d0c58e',
    ip: '10.10.0.3',
    mac: '52:bd:c6:e0:eb:c1',
    portUuid: '1b2c3d4e-0000-4000-8000-000000000003',
    ofport: 3,
    containerId: '9f1e2d3c4b5a69788796a5b4c3d2e1f0',
  },
  {
    namespace: 'default',
    name: 'web',
    interfaceName: 'web-2a41f0',
    ip: '10.10.0.5',
    mac: 'aa:bb:cc:00:00:05',
    portUuid: '1b2c3d4e-0000-4000-8000-000000000005',
    ofport: 5,
    containerId: 'c0ffee',
  },
];

const FLOWS = [
  'cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=200,in_port=2 actions=load:0x2->NXM_NX_REG0[0..15],goto_table:10',
  'cookie=0x0, table=10, n_packets=4, n_bytes=280, priority=200,ip,in_port=5,dl_src=aa:bb:cc:00:00:05,nw_src=10.10.0.5 actions=goto_table:30',
];

const AGENT_INFO: AgentInfoView = {
  podName: 'antrea-edge-node1',
  nodeName: 'node1',
  status: 'Healthy',
  nodeSubnets: ['10.10.0.0/24', 'fd00:10:10::/64'],
  networkPolicies: 2,
  addressGroups: 3,
  appliedToGroups: 1,
  localPods: 2,
  ovsVersion: '3.1.0',
  bridgeName: 'br-int',
  flowsPerTable: { Classification: 3, SpoofGuard: 4 },
};

function parsed(argv: string[]): ParsedCommand {
  const result = parseArgs(argv);
  if (isParseError(result)) assert.fail(`expected ${argv.join(' ')} to parse, got: ${result.message}`);
  return result;
}

function parseFailure(argv: string[]): ParseError {
  const result = parseArgs(argv);
  if (!isParseError(result)) assert.fail(`expected ${argv.join(' ')} to fail, got ${JSON.stringify(result)}`);
  return result;
}

function runnable(argv: string[]): RunnableCommand {
  const result = parsed(argv);
  if (result.kind === 'help') assert.fail(`expected a runnable command for ${argv.join(' ')}`);
  return result;
}

class RecordingQueries implements AgentQueries {
  readonly podInterfaceFilters: PodInterfaceFilter[] = [];
  readonly flowFilters: OvsFlowFilter[] = [];

  constructor(
    private readonly answers: { podInterfaces?: PodInterfaceView[]; flows?: string[]; failure?: Error } = {},
  ) {}

  podInterfaces(filter: PodInterfaceFilter): Promise<PodInterfaceView[]> {
    this.podInterfaceFilters.push(filter);
    if (this.answers.failure) return Promise.reject(this.answers.failure);
    return Promise.resolve(this.answers.podInterfaces ?? POD_INTERFACES);
  }

  ovsFlows(filter: OvsFlowFilter): Promise<string[]> {
    this.flowFilters.push(filter);
    if (this.answers.failure) return Promise.reject(this.answers.failure);
    return Promise.resolve(this.answers.flows ?? FLOWS);
  }

  agentInfo(): Promise<AgentInfoView> {
    if (this.answers.failure) return Promise.reject(this.answers.failure);
    return Promise.resolve(AGENT_INFO);
  }
}

describe('antctl argument parsing', () => {
  it('parses get podinterface with a name, namespace and output', () => {
    assert.deepEqual(parsed(['get', 'podinterface', 'web', '-n', 'default', '-o', 'json']), {
      kind: 'get podinterface',
      name: 'web',
      namespace: 'default',
      output: 'json',
      globals: {},
    });
  });

  it('accepts the aliases Antrea users type', () => {
    assert.equal(parsed(['get', 'pi']).kind, 'get podinterface');
    assert.equal(parsed(['get', 'podinterfaces']).kind, 'get podinterface');
    assert.equal(parsed(['get', 'of']).kind, 'get ovsflows');
    assert.equal(parsed(['get', 'ai']).kind, 'get agentinfo');
    assert.equal(parsed(['get', 'agentinfos']).kind, 'get agentinfo');
  });

  it('accepts every flag spelling pflag accepts, before or after the command words', () => {
    const expected = { kind: 'get podinterface', namespace: 'default', output: 'yaml', globals: {} };
    assert.deepEqual(parsed(['get', 'pi', '--namespace=default', '--output', 'yaml']), expected);
    assert.deepEqual(parsed(['get', 'pi', '-ndefault', '-oyaml']), expected);
    assert.deepEqual(parsed(['get', 'pi', '-n=default', '-o=yaml']), expected);
    assert.deepEqual(parsed(['-o', 'yaml', 'get', '-n', 'default', 'pi']), expected);
  });

  it('keeps the last value of a repeated flag', () => {
    assert.deepEqual(runnable(['get', 'pi', '-n', 'a', '-n', 'b']), {
      kind: 'get podinterface',
      namespace: 'b',
      output: 'table',
      globals: {},
    });
  });

  it('treats everything after -- as arguments', () => {
    assert.deepEqual(runnable(['get', 'pi', '--', '-odd-name']), {
      kind: 'get podinterface',
      name: '-odd-name',
      output: 'table',
      globals: {},
    });
  });

  it('parses get ovsflows filters', () => {
    assert.deepEqual(parsed(['get', 'ovsflows', '-p', 'web', '-n', 'default', '-T', 'IngressRule']), {
      kind: 'get ovsflows',
      pod: 'web',
      namespace: 'default',
      table: 'IngressRule',
      output: 'table',
      globals: {},
    });
    assert.deepEqual(parsed(['get', 'of', '--table', '90', '-o', 'json']), {
      kind: 'get ovsflows',
      table: '90',
      output: 'json',
      globals: {},
    });
  });

  it('defaults to table for get commands and yaml for version, like antctl', () => {
    assert.equal(runnable(['get', 'agentinfo']).output, 'table');
    assert.deepEqual(parsed(['version']), { kind: 'version', output: 'yaml', globals: {} });
  });

  it('takes --socket anywhere as a global option', () => {
    assert.deepEqual(parsed(['--socket', '/tmp/a.sock', 'get', 'ai']).globals, { socket: '/tmp/a.sock' });
    assert.deepEqual(parsed(['get', 'ai', '--socket=/tmp/b.sock']).globals, { socket: '/tmp/b.sock' });
    assert.deepEqual(parsed(['--socket', '/tmp/c.sock']), {
      kind: 'help',
      path: [],
      globals: { socket: '/tmp/c.sock' },
    });
  });

  it('asks for help at every level', () => {
    const helpPath = (argv: string[]): string[] => {
      const result = parsed(argv);
      assert.equal(result.kind, 'help', `expected help for ${argv.join(' ')}`);
      return result.kind === 'help' ? result.path : [];
    };
    assert.deepEqual(helpPath([]), []);
    assert.deepEqual(helpPath(['help']), []);
    assert.deepEqual(helpPath(['-h']), []);
    assert.deepEqual(helpPath(['get']), ['get']);
    assert.deepEqual(helpPath(['get', '--help']), ['get']);
    assert.deepEqual(helpPath(['get', 'pi', '-h']), ['get', 'podinterface']);
    assert.deepEqual(helpPath(['get', 'of', '-p', 'web', '-n', 'default', '--help']), ['get', 'ovsflows']);
    assert.deepEqual(helpPath(['help', 'get', 'ai']), ['get', 'agentinfo']);
    assert.deepEqual(helpPath(['version', '-h']), ['version']);
    assert.deepEqual(helpPath(['help', 'help']), ['help']);
  });

  it('suggests the closest command for a typo at the top level', () => {
    const error = parseFailure(['gte', 'pi']);
    assert.equal(error.code, 'UnknownCommand');
    assert.equal(error.suggestion, 'get');
    assert.equal(error.message, 'unknown command "gte" for "antctl"; did you mean "get"?');
  });

  it('suggests the full path when the group word is missing', () => {
    assert.equal(parseFailure(['podinterface']).suggestion, 'get podinterface');
    assert.equal(parseFailure(['ovsflow']).suggestion, 'get ovsflows');
    assert.equal(parseFailure(['versoin']).suggestion, 'version');
  });

  it('suggests the closest get subcommand, also for abbreviations', () => {
    const error = parseFailure(['get', 'podinterfce']);
    assert.equal(
      error.message,
      'unknown command "podinterfce" for "antctl get"; did you mean "podinterface"?',
    );
    assert.equal(parseFailure(['get', 'agentinf']).suggestion, 'agentinfo');
    assert.equal(parseFailure(['get', 'podint']).suggestion, 'podinterface');
  });

  it('points to the help when nothing is close', () => {
    const error = parseFailure(['get', 'services']);
    assert.equal(error.code, 'UnknownCommand');
    assert.equal(error.suggestion, undefined);
    assert.equal(
      error.message,
      `unknown command "services" for "antctl get"; run 'antctl get --help' for the list of commands`,
    );
    assert.equal(parseFailure(['help', 'xyzzy']).code, 'UnknownCommand');
    assert.equal(parseFailure(['get', 'xyzzy', '-h']).code, 'UnknownCommand');
  });

  it('rejects unknown flags, suggesting only flags of the command at hand', () => {
    const typo = parseFailure(['get', 'pi', '--namespce', 'default']);
    assert.equal(typo.code, 'UnknownFlag');
    assert.equal(
      typo.message,
      'unknown flag "--namespce" for "antctl get podinterface"; did you mean "--namespace"?',
    );
    const notHere = parseFailure(['get', 'ai', '-n', 'default']);
    assert.equal(notHere.message, 'unknown flag "-n" for "antctl get agentinfo"');
    const noSuchFlag = parseFailure(['get', 'ai', '--namespce', 'default']);
    assert.equal(noSuchFlag.suggestion, undefined);
    assert.equal(parseFailure(['--verbose', 'get', 'ai']).message, 'unknown flag "--verbose" for "antctl"');
  });

  it('reports a flag without its value', () => {
    for (const argv of [
      ['get', 'pi', '-n'],
      ['get', 'pi', '-n', '-o', 'json'],
      ['get', 'pi', '--namespace='],
    ]) {
      const error = parseFailure(argv);
      assert.equal(error.code, 'MissingFlagValue', argv.join(' '));
      assert.equal(error.message, 'flag -n/--namespace needs a value');
    }
    assert.equal(parseFailure(['get', 'ai', '--socket']).message, 'flag --socket needs a value');
  });

  it('rejects an unknown output format', () => {
    const error = parseFailure(['get', 'ai', '-o', 'wide']);
    assert.equal(error.code, 'BadOutputFormat');
    assert.equal(error.message, 'invalid output format "wide": valid formats are table, json, yaml');
  });

  it('rejects extra arguments', () => {
    assert.equal(
      parseFailure(['get', 'ai', 'node1']).message,
      '"antctl get agentinfo" takes no arguments, got "node1"',
    );
    assert.equal(
      parseFailure(['get', 'pi', 'a', 'b']).message,
      '"antctl get podinterface" takes at most one argument (NAME), got "a", "b"',
    );
    assert.equal(parseFailure(['help', 'get', 'ai', 'extra']).code, 'UnexpectedArgument');
  });

  it('needs -n with -p for ovsflows, and -p with -n', () => {
    const podOnly = parseFailure(['get', 'of', '-p', 'web']);
    assert.equal(podOnly.code, 'MissingRequiredFlag');
    assert.match(podOnly.message, /-p\/--pod needs -n\/--namespace/);
    assert.equal(parseFailure(['get', 'of', '-n', 'default']).code, 'MissingRequiredFlag');
  });
});

describe('antctl suggestions', () => {
  it('measures edit distance with transpositions', () => {
    assert.equal(editDistance('gte', 'get'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('same', 'same'), 0);
  });

  it('prefers the nearest candidate and gives up when none is close', () => {
    const candidates = [
      { word: 'version', suggestion: 'version' },
      { word: 'get', suggestion: 'get' },
    ];
    assert.equal(closestWord('ge', candidates), 'get');
    assert.equal(closestWord('VERSION', candidates), 'version');
    assert.equal(closestWord('traceflow', candidates), undefined);
  });
});

describe('antctl help', () => {
  it('renders a command like antctl: usage, args, aliases, examples, flags, global flags', () => {
    const help = renderHelp(['get', 'podinterface']);
    assert.ok(help.startsWith('Print information about the network interface(s)'), help);
    assert.ok(help.includes('\nUsage:\n  antctl get podinterface [NAME] [flags]\n'), help);
    assert.ok(help.includes('\nAliases:\n  podinterface, podinterfaces, pi\n'), help);
    assert.ok(
      help.includes('\nExamples:\n  Get a pod-interface\n  $ antctl get podinterface pod1 -n ns1\n'),
      help,
    );
    assert.ok(
      help.includes(
        '\nFlags:\n' +
          '  -h, --help               help for podinterface\n' +
          '  -n, --namespace string   Get Pod interfaces from specific Namespace\n' +
          '  -o, --output string      output format: table|json|yaml (default "table")\n',
      ),
      help,
    );
    assert.match(help, /\nGlobal Flags:\n {6}--socket string {3}path of the agent's local API socket/);
  });

  it('documents every flag and example of every command', () => {
    for (const command of ANTCTL_COMMANDS.commands) {
      const help = renderHelp(command.group === undefined ? [command.use] : [command.group, command.use]);
      assert.ok(help.startsWith(`${command.long}\n\nUsage:\n`), command.id);
      for (const flag of command.flags) {
        const names = flag.shorthand === undefined ? `--${flag.name}` : `-${flag.shorthand}, --${flag.name}`;
        assert.ok(help.includes(names), `${command.id} help lacks ${names}`);
      }
      for (const example of command.examples) assert.ok(help.includes(`$ ${example.command}`), command.id);
    }
  });

  it('renders the get group with its commands', () => {
    assert.equal(
      renderHelp(['get']),
      [
        'Get the status or resource of a topic',
        '',
        'Usage:',
        '  antctl get [command]',
        '',
        'Available Commands:',
        '  addressgroup         Print address groups',
        "  agentinfo            Print agent's basic information",
        '  appliedtogroup       Print appliedto groups',
        "  controllerinfo       Print Antrea controller's basic information",
        '  networkpolicy        Print control plane NetworkPolicies',
        '  networkpolicystats   Print traffic statistics of NetworkPolicies on this node',
        '  ovsflows             Dump OVS flows',
        "  podinterface         Print Pod's network interface information",
        '',
        'Flags:',
        '  -h, --help   help for get',
        '',
        'Global Flags:',
        `      --socket string   path of the agent's local API socket (env ANTREA_EDGE_ANTCTL_SOCKET) (default "/var/run/antrea-edge/antctl.sock")`,
        '',
        'Use "antctl get [command] --help" for more information about a command.',
        '',
      ].join('\n'),
    );
  });

  it('renders the root with all top-level commands', () => {
    const help = renderHelp([]);
    assert.ok(help.includes('\nUsage:\n  antctl [command]\n'), help);
    assert.match(
      help,
      /\nAvailable Commands:\n {2}apply {11}Apply network policies from a file or standard input\n {2}delete {10}Delete a network policy object\n {2}describe {8}Show details of a resource\n {2}get {13}Get the status or resource of a topic\n {2}help {12}Help about any command\n {2}log-level {7}Show or set the log level of the firmware\n {2}query {11}Execute a user-provided query\n {2}supportbundle {3}Generate a support bundle\n {2}traceflow {7}Start a Traceflow\n {2}version {9}Print version information\n\n/,
    );
    assert.ok(help.endsWith('Use "antctl [command] --help" for more information about a command.\n'), help);
  });
});

describe('output formatting', () => {
  it('pads columns with three spaces, leaves the last column unpadded and marks empty cells', () => {
    assert.equal(
      formatTable(
        ['A', 'LONGER', 'C'],
        [
          ['x', '', 'end'],
          ['wide-cell', 'y', ''],
        ],
      ),
      'A           LONGER   C\n' + 'x           <NONE>   end\n' + 'wide-cell   y        <NONE>\n',
    );
    assert.equal(formatTable(['FLOW'], [['a b  c']]), 'FLOW\na b  c\n');
    assert.equal(formatTable(['A', 'B'], []), 'A   B\n');
  });

  it('formats a table of 200k rows (a full flow dump) without overflowing the stack', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [`flow-${i}`, 'x']);
    const text = formatTable(['FLOW', 'X'], rows);
    assert.equal(text.split('\n').length, 200_002);
    assert.ok(text.endsWith('flow-199999   x\n'));
  });

  it('prints podinterfaces as a sorted table with 12-character container ids', () => {
    assert.equal(
      formatOutput('table', POD_INTERFACES, () => podInterfaceTable(POD_INTERFACES)),
      'NAMESPACE     NAME                       INTERFACE-NAME    IP          MAC                 PORT-UUID                              OF-PORT   CONTAINER-ID\n' +
        'default       web                        web-2a41f0        10.10.0.5   aa:bb:cc:00:00:05   1b2c3d4e-0000-4000-8000-000000000005   5         c0ffee\n' +
        'kube-system   coredns-6955765f44-zcbwj   coredns--d0c58e   10.10.0.3   52:bd:c6:e0:eb:c1   1b2c3d4e-0000-4000-8000-000000000003   3         9f1e2d3c4b5a\n',
    );
  });

  it('prints podinterfaces as json and yaml with every field, in the order the agent sent', () => {
    const onePod = POD_INTERFACES.slice(1);
    assert.equal(
      formatOutput('json', onePod, () => podInterfaceTable(onePod)),
      '[\n' +
        '  {\n' +
        '    "namespace": "default",\n' +
        '    "name": "web",\n' +
        '    "interfaceName": "web-2a41f0",\n' +
        '    "ip": "10.10.0.5",\n' +
        '    "mac": "aa:bb:cc:00:00:05",\n' +
        '    "portUuid": "1b2c3d4e-0000-4000-8000-000000000005",\n' +
        '    "ofport": 5,\n' +
        '    "containerId": "c0ffee"\n' +
        '  }\n' +
        ']\n',
    );
    assert.equal(
      formatOutput('yaml', onePod, () => podInterfaceTable(onePod)),
      '- namespace: default\n' +
        '  name: web\n' +
        '  interfaceName: web-2a41f0\n' +
        '  ip: 10.10.0.5\n' +
        '  mac: aa:bb:cc:00:00:05\n' +
        '  portUuid: 1b2c3d4e-0000-4000-8000-000000000005\n' +
        '  ofport: 5\n' +
        '  containerId: c0ffee\n',
    );
    assert.deepEqual(
      parseYaml(formatOutput('yaml', POD_INTERFACES, () => podInterfaceTable(POD_INTERFACES))),
      POD_INTERFACES,
    );
  });

  it('prints flows verbatim under a FLOW header, and as a list of strings', () => {
    assert.equal(
      formatOutput('table', FLOWS, () => ovsFlowsTable(FLOWS)),
      `FLOW\n${FLOWS[0]}\n${FLOWS[1]}\n`,
    );
    assert.equal(
      formatOutput('json', FLOWS, () => ovsFlowsTable(FLOWS)),
      `${JSON.stringify(FLOWS, null, 2)}\n`,
    );
    // One line per flow even past 80 columns, so that grep keeps working on yaml output.
    assert.equal(
      formatOutput('yaml', FLOWS, () => ovsFlowsTable(FLOWS)),
      `- ${FLOWS[0]}\n- ${FLOWS[1]}\n`,
    );
    assert.deepEqual(parseYaml(formatOutput('yaml', FLOWS, () => ovsFlowsTable(FLOWS))), FLOWS);
  });

  it('prints agentinfo as one table row and every field in json/yaml', () => {
    assert.equal(
      formatOutput('table', AGENT_INFO, () => agentInfoTable(AGENT_INFO)),
      'POD                 NODE    STATUS    NODE-SUBNET                    NETWORK-POLICIES   ADDRESS-GROUPS   APPLIED-TO-GROUPS   LOCAL-PODS\n' +
        'antrea-edge-node1   node1   Healthy   10.10.0.0/24,fd00:10:10::/64   2                  3                1                   2\n',
    );
    assert.deepEqual(
      JSON.parse(formatOutput('json', AGENT_INFO, () => agentInfoTable(AGENT_INFO))),
      AGENT_INFO,
    );
    assert.equal(
      formatOutput('yaml', AGENT_INFO, () => agentInfoTable(AGENT_INFO)),
      'podName: antrea-edge-node1\n' +
        'nodeName: node1\n' +
        'status: Healthy\n' +
        'nodeSubnets:\n' +
        '  - 10.10.0.0/24\n' +
        '  - fd00:10:10::/64\n' +
        'networkPolicies: 2\n' +
        'addressGroups: 3\n' +
        'appliedToGroups: 1\n' +
        'localPods: 2\n' +
        'ovsVersion: 3.1.0\n' +
        'bridgeName: br-int\n' +
        'flowsPerTable:\n' +
        '  Classification: 3\n' +
        '  SpoofGuard: 4\n',
    );
  });

  it('only builds the table for table output', () => {
    let built = 0;
    const table = () => {
      built++;
      return { columns: ['A'], rows: [] };
    };
    formatOutput('json', [], table);
    formatOutput('yaml', [], table);
    assert.equal(built, 0);
    formatOutput('table', [], table);
    assert.equal(built, 1);
  });
});

describe('antctl command runner', () => {
  const context = { antctlVersion: '9.9.9' };

  it('passes podinterface filters through and formats the answer', async () => {
    const queries = new RecordingQueries();
    const result = await runCommand(
      runnable(['get', 'pi', 'web', '-n', 'default', '-o', 'json']),
      queries,
      context,
    );
    assert.deepEqual(queries.podInterfaceFilters, [{ name: 'web', namespace: 'default' }]);
    assert.deepEqual(JSON.parse(result.stdout), POD_INTERFACES);
    assert.equal(result.stderr, '');
    await runCommand(runnable(['get', 'pi']), queries, context);
    assert.deepEqual(queries.podInterfaceFilters[1], {});
  });

  it('passes ovsflows filters through', async () => {
    const queries = new RecordingQueries();
    const result = await runCommand(
      runnable(['get', 'of', '-p', 'web', '-n', 'default', '-T', 'SpoofGuard']),
      queries,
      context,
    );
    assert.deepEqual(queries.flowFilters, [{ pod: 'web', namespace: 'default', table: 'SpoofGuard' }]);
    assert.equal(result.stdout, `FLOW\n${FLOWS.join('\n')}\n`);
  });

  it('says "No resources found." on stderr for an empty table but prints [] for json', async () => {
    const queries = new RecordingQueries({ podInterfaces: [], flows: [] });
    assert.deepEqual(await runCommand(runnable(['get', 'pi']), queries, context), {
      stdout: '',
      stderr: NO_RESOURCES_NOTICE,
    });
    assert.deepEqual(await runCommand(runnable(['get', 'of', '-o', 'json']), queries, context), {
      stdout: '[]\n',
      stderr: '',
    });
  });

  it('prints agentinfo and the version', async () => {
    const queries = new RecordingQueries();
    const info = await runCommand(runnable(['get', 'ai', '-o', 'yaml']), queries, context);
    assert.deepEqual(parseYaml(info.stdout), antreaAgentInfo(AGENT_INFO));
    const version = await runCommand(runnable(['version']), queries, context);
    assert.equal(version.stdout, 'antctlVersion: 9.9.9\n');
    const versionTable = await runCommand(runnable(['version', '-o', 'table']), queries, context);
    assert.equal(versionTable.stdout, 'ANTCTL-VERSION\n9.9.9\n');
  });

  it('lets typed query errors through to the edge', async () => {
    const failure = ApiError.unknownTable('Nope', [
      { name: 'Classification', number: 0 },
      { name: 'SpoofGuard', number: 10 },
    ]);
    await assert.rejects(
      runCommand(runnable(['get', 'of', '-T', 'Nope']), new RecordingQueries({ failure }), context),
      (error: unknown) =>
        error instanceof ApiError &&
        error.code === 'BadRequest' &&
        error.message === 'unknown table "Nope": valid tables are Classification (0), SpoofGuard (10)',
    );
  });
});
