// The antctl command table (data), its argument parser, help renderer and command runner. The serial
// console shares all of it; only transports differ (CLI: local API socket, console: in-process queries).
import { formatOutput, isOutputKind, OUTPUT_KINDS, type OutputKind, type TableData } from '../output/format';
import type { AgentInfoView, AgentQueries, PodInterfaceView } from './views';

export const PROGRAM_NAME = 'antctl';
export const DEFAULT_SOCKET_PATH = '/var/run/antrea-edge/antctl.sock';
export const SOCKET_ENV_VAR = 'ANTREA_EDGE_ANTCTL_SOCKET';

export interface FlagSpec {
  /** Long name, used as `--name`. */
  readonly name: string;
  /** One letter, used as `-x`. */
  readonly shorthand?: string;
  /** Type shown in help (`string`); absent for switches such as `--help`. */
  readonly valueType?: 'string';
  readonly usage: string;
  readonly defaultValue?: string;
}

export interface ArgSpec {
  readonly name: string;
  readonly usage: string;
}

export interface CommandExample {
  readonly description: string;
  readonly command: string;
}

export type CommandId = 'get podinterface' | 'get ovsflows' | 'get agentinfo' | 'version';

export interface CommandSpec {
  readonly id: CommandId;
  /** The group word in front of the command, if any (`get`). */
  readonly group?: string;
  readonly use: string;
  readonly aliases: readonly string[];
  readonly short: string;
  readonly long: string;
  /** The single optional positional argument, if the command takes one. */
  readonly arg?: ArgSpec;
  readonly flags: readonly FlagSpec[];
  readonly examples: readonly CommandExample[];
}

export interface CommandGroupSpec {
  readonly use: string;
  readonly short: string;
  readonly long: string;
}

export interface CommandTable {
  readonly program: string;
  readonly short: string;
  readonly long: string;
  readonly groups: readonly CommandGroupSpec[];
  readonly commands: readonly CommandSpec[];
  /** Accepted at every level, before or after the command words. */
  readonly globalFlags: readonly FlagSpec[];
}

const HELP_FLAG: FlagSpec = { name: 'help', shorthand: 'h', usage: 'help for this command' };

function outputFlag(defaultValue: OutputKind): FlagSpec {
  return {
    name: 'output',
    shorthand: 'o',
    valueType: 'string',
    usage: `output format: ${OUTPUT_KINDS.join('|')}`,
    defaultValue,
  };
}

export const ANTCTL_COMMANDS: CommandTable = {
  program: PROGRAM_NAME,
  short: `${PROGRAM_NAME} is the command line tool for antrea-edge`,
  long: `${PROGRAM_NAME} is the command line tool for antrea-edge that shows the status of the local agent`,
  groups: [
    {
      use: 'get',
      short: 'Get the status or resource of a topic',
      long: 'Get the status or resource of a topic',
    },
  ],
  commands: [
    {
      id: 'get agentinfo',
      group: 'get',
      use: 'agentinfo',
      aliases: ['agentinfos', 'ai'],
      short: "Print agent's basic information",
      long: "Print agent's basic information including Node subnet, health, OVS version and NetworkPolicy counts.",
      flags: [outputFlag('table')],
      examples: [
        { description: "Print the agent's basic information", command: 'antctl get agentinfo' },
        {
          description: 'Print it with the OVS version and flow counts per table',
          command: 'antctl get ai -o yaml',
        },
      ],
    },
    {
      id: 'get ovsflows',
      group: 'get',
      use: 'ovsflows',
      aliases: ['of'],
      short: 'Dump OVS flows',
      long: 'Dump all the OVS flows or the flows installed for the specified Pod or in the specified table.',
      flags: [
        { name: 'namespace', shorthand: 'n', valueType: 'string', usage: 'Namespace of the Pod' },
        {
          name: 'pod',
          shorthand: 'p',
          valueType: 'string',
          usage: 'Name of a local Pod. If present, Namespace must be provided.',
        },
        {
          name: 'table',
          shorthand: 'T',
          valueType: 'string',
          usage: 'Name or number of a pipeline table, e.g. Classification or 0',
        },
        outputFlag('table'),
      ],
      examples: [
        { description: 'Dump all OVS flows', command: 'antctl get ovsflows' },
        { description: 'Dump OVS flows of a local Pod', command: 'antctl get ovsflows -p pod1 -n ns1' },
        { description: 'Dump OVS flows of a flow table', command: 'antctl get ovsflows -T IngressRule' },
        { description: 'Dump OVS flows of a flow table by number', command: 'antctl get of -T 90' },
      ],
    },
    {
      id: 'get podinterface',
      group: 'get',
      use: 'podinterface',
      aliases: ['podinterfaces', 'pi'],
      short: "Print Pod's network interface information",
      long: 'Print information about the network interface(s) created by the antrea-edge agent for local Pods.',
      arg: { name: 'NAME', usage: 'Name of the Pod; without -n, Pods of that name in all Namespaces' },
      flags: [
        {
          name: 'namespace',
          shorthand: 'n',
          valueType: 'string',
          usage: 'Get Pod interfaces from specific Namespace',
        },
        outputFlag('table'),
      ],
      examples: [
        { description: 'Get a pod-interface', command: 'antctl get podinterface pod1 -n ns1' },
        {
          description: 'Get the list of podinterfaces in a Namespace',
          command: 'antctl get podinterface -n ns1',
        },
        {
          description: 'Get the list of podinterfaces whose names match in all Namespaces',
          command: 'antctl get podinterface pod1',
        },
        {
          description: 'Get the list of podinterfaces in all Namespaces',
          command: 'antctl get podinterface',
        },
      ],
    },
    {
      id: 'version',
      use: 'version',
      aliases: [],
      short: 'Print version information',
      long: 'Print version information of antctl',
      flags: [outputFlag('yaml')],
      examples: [{ description: 'Print the antctl version', command: 'antctl version' }],
    },
  ],
  globalFlags: [
    {
      name: 'socket',
      valueType: 'string',
      usage: `path of the agent's local API socket (env ${SOCKET_ENV_VAR})`,
      defaultValue: DEFAULT_SOCKET_PATH,
    },
  ],
};

// ---------------------------------------------------------------------------------------------------
// Parsing

export interface GlobalOptions {
  /** `--socket`, when given; the CLI falls back to the environment, then DEFAULT_SOCKET_PATH. */
  socket?: string;
}

export type RunnableCommand =
  | { kind: 'get podinterface'; name?: string; namespace?: string; output: OutputKind }
  | { kind: 'get ovsflows'; pod?: string; namespace?: string; table?: string; output: OutputKind }
  | { kind: 'get agentinfo'; output: OutputKind }
  | { kind: 'version'; output: OutputKind };

/** `path` names the help topic with canonical words: [], ['get'], ['get', 'podinterface'], ['help']. */
export type HelpRequest = { kind: 'help'; path: string[] };

export type ParsedCommand = (RunnableCommand | HelpRequest) & { globals: GlobalOptions };

export type ParseErrorCode =
  | 'UnknownCommand'
  | 'UnknownFlag'
  | 'MissingFlagValue'
  | 'BadOutputFormat'
  | 'UnexpectedArgument'
  | 'MissingRequiredFlag';

export interface ParseError {
  kind: 'error';
  code: ParseErrorCode;
  /** One line, without the `Error: ` prefix. */
  message: string;
  /** The closest known command or flag, when one is close enough. */
  suggestion?: string;
}

export function isParseError(result: ParsedCommand | ParseError): result is ParseError {
  return result.kind === 'error';
}

interface FlagOccurrence {
  /** As typed, e.g. `-n` or `--namespace`, for messages. */
  typed: string;
  spec: FlagSpec;
  value?: string;
}

type Target =
  { kind: 'root' } | { kind: 'group'; group: CommandGroupSpec } | { kind: 'command'; command: CommandSpec };

const HELP_COMMAND_WORD = 'help';

export function parseArgs(argv: string[]): ParsedCommand | ParseError {
  const table = ANTCTL_COMMANDS;
  const knownFlags = allFlags(table);
  const positionals: string[] = [];
  const flags: FlagOccurrence[] = [];

  for (let index = 0; index < argv.length; index++) {
    const token = argv[index] ?? '';
    if (token === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (!token.startsWith('-') || token === '-') {
      positionals.push(token);
      continue;
    }
    const split = splitFlagToken(token);
    const spec = knownFlags.find((flag) =>
      split.long ? flag.name === split.name : flag.shorthand !== undefined && flag.shorthand === split.name,
    );
    if (spec === undefined) {
      // Whether an unknown flag takes a value is unknowable, so stop here; name the command if the
      // words so far identify one, so that the suggestion only offers that command's flags.
      const resolved = resolveTarget(table, positionals);
      if ('code' in resolved) return unknownFlagError(split.typed, knownFlags, undefined);
      const allowed = [...targetFlags(resolved.target), ...table.globalFlags, HELP_FLAG];
      return unknownFlagError(split.typed, allowed, resolved.target);
    }
    if (spec.valueType === undefined) {
      flags.push({ typed: split.typed, spec });
      continue;
    }
    let value = split.attachedValue;
    if (value === undefined) {
      const next = argv[index + 1];
      // A following flag is never taken as a value: `-n -o json` is a forgotten namespace, not "-o".
      if (next !== undefined && !(next.startsWith('-') && next !== '-')) {
        value = next;
        index++;
      }
    }
    if (value === undefined || value === '') {
      return parseError('MissingFlagValue', `flag ${describeFlag(spec)} needs a value`);
    }
    flags.push({ typed: split.typed, spec, value });
  }

  const globals: GlobalOptions = {};
  const socket = lastValue(flags, 'socket');
  if (socket !== undefined) globals.socket = socket;
  const wantsHelp = flags.some((flag) => flag.spec.name === HELP_FLAG.name);

  if (positionals[0] === HELP_COMMAND_WORD) {
    const topic = positionals.slice(1);
    if (topic.length === 0) return { kind: 'help', path: [], globals };
    if (topic.length === 1 && topic[0] === HELP_COMMAND_WORD)
      return { kind: 'help', path: [HELP_COMMAND_WORD], globals };
    const resolved = resolveTarget(table, topic);
    if ('code' in resolved) return resolved;
    if (resolved.rest.length > 0) return extraArgumentsError(resolved.target, resolved.rest);
    return { kind: 'help', path: targetPath(resolved.target), globals };
  }

  const resolved = resolveTarget(table, positionals);
  if ('code' in resolved) return resolved;
  const { target, rest } = resolved;

  const allowed = [...targetFlags(target), ...table.globalFlags, HELP_FLAG];
  for (const flag of flags) {
    // By name: commands declare their own specs for shared names such as --namespace.
    if (!allowed.some((spec) => spec.name === flag.spec.name))
      return unknownFlagError(flag.typed, allowed, target);
  }
  if (wantsHelp || target.kind !== 'command') {
    return { kind: 'help', path: targetPath(target), globals };
  }

  const { command } = target;
  const maxArgs = command.arg === undefined ? 0 : 1;
  if (rest.length > maxArgs) return extraArgumentsError(target, rest);

  const outputText =
    lastValue(flags, 'output') ?? command.flags.find((flag) => flag.name === 'output')?.defaultValue;
  const output = outputText ?? 'table';
  if (!isOutputKind(output)) {
    return parseError(
      'BadOutputFormat',
      `invalid output format "${output}": valid formats are ${OUTPUT_KINDS.join(', ')}`,
    );
  }
  const namespace = lastValue(flags, 'namespace');

  switch (command.id) {
    case 'get podinterface':
      return { kind: command.id, output, globals, ...defined({ name: rest[0], namespace }) };
    case 'get ovsflows': {
      const pod = lastValue(flags, 'pod');
      const tableName = lastValue(flags, 'table');
      if (pod !== undefined && namespace === undefined) {
        return parseError(
          'MissingRequiredFlag',
          'flag -p/--pod needs -n/--namespace: Pod names are unique only within a Namespace',
        );
      }
      if (namespace !== undefined && pod === undefined) {
        return parseError('MissingRequiredFlag', 'flag -n/--namespace is only used together with -p/--pod');
      }
      return { kind: command.id, output, globals, ...defined({ pod, namespace, table: tableName }) };
    }
    case 'get agentinfo':
    case 'version':
      return { kind: command.id, output, globals };
  }
}

function allFlags(table: CommandTable): FlagSpec[] {
  const result: FlagSpec[] = [HELP_FLAG, ...table.globalFlags];
  for (const command of table.commands) {
    for (const flag of command.flags) {
      if (!result.some((known) => known.name === flag.name)) result.push(flag);
    }
  }
  return result;
}

function targetFlags(target: Target): readonly FlagSpec[] {
  return target.kind === 'command' ? target.command.flags : [];
}

/** Like pflag, a repeated flag keeps its last value. */
function lastValue(flags: readonly FlagOccurrence[], name: string): string | undefined {
  let value: string | undefined;
  for (const flag of flags) if (flag.spec.name === name) value = flag.value;
  return value;
}

function splitFlagToken(token: string): {
  typed: string;
  long: boolean;
  name: string;
  attachedValue?: string;
} {
  if (token.startsWith('--')) {
    const equals = token.indexOf('=');
    if (equals < 0) return { typed: token, long: true, name: token.slice(2) };
    return {
      typed: token.slice(0, equals),
      long: true,
      name: token.slice(2, equals),
      attachedValue: token.slice(equals + 1),
    };
  }
  const name = token.slice(1, 2);
  const remainder = token.slice(2);
  const typed = `-${name}`;
  if (remainder === '') return { typed, long: false, name };
  // Like pflag: `-n=ns` and `-nns` both carry the value.
  return {
    typed,
    long: false,
    name,
    attachedValue: remainder.startsWith('=') ? remainder.slice(1) : remainder,
  };
}

function resolveTarget(
  table: CommandTable,
  words: readonly string[],
): { target: Target; rest: string[] } | ParseError {
  const [first, second, ...others] = words;
  if (first === undefined) return { target: { kind: 'root' }, rest: [] };
  const group = table.groups.find((candidate) => candidate.use === first);
  if (group !== undefined) {
    if (second === undefined) return { target: { kind: 'group', group }, rest: [] };
    const members = table.commands.filter((command) => command.group === group.use);
    const command = members.find(
      (candidate) => candidate.use === second || candidate.aliases.includes(second),
    );
    if (command !== undefined) return { target: { kind: 'command', command }, rest: others };
    const suggestion = closestWord(
      second,
      members.flatMap((member) =>
        [member.use, ...member.aliases].map((word) => ({ word, suggestion: member.use })),
      ),
    );
    return unknownCommandError(second, `${table.program} ${group.use}`, suggestion);
  }
  const topLevel = table.commands.filter((command) => command.group === undefined);
  const command = topLevel.find((candidate) => candidate.use === first || candidate.aliases.includes(first));
  if (command !== undefined) return { target: { kind: 'command', command }, rest: words.slice(1) };

  // `antctl podinterface` is a common slip for `antctl get podinterface`: offer the full path.
  const candidates = [
    ...table.groups.map((candidate) => ({ word: candidate.use, suggestion: candidate.use })),
    { word: HELP_COMMAND_WORD, suggestion: HELP_COMMAND_WORD },
    ...table.commands.flatMap((candidate) =>
      [candidate.use, ...candidate.aliases].map((word) => ({ word, suggestion: commandPath(candidate) })),
    ),
  ];
  return unknownCommandError(first, table.program, closestWord(first, candidates));
}

function commandPath(command: CommandSpec): string {
  return command.group === undefined ? command.use : `${command.group} ${command.use}`;
}

function targetPath(target: Target): string[] {
  switch (target.kind) {
    case 'root':
      return [];
    case 'group':
      return [target.group.use];
    case 'command':
      return commandPath(target.command).split(' ');
  }
}

function targetTitle(target: Target): string {
  return [PROGRAM_NAME, ...targetPath(target)].join(' ');
}

function parseError(code: ParseErrorCode, message: string, suggestion?: string): ParseError {
  return suggestion === undefined
    ? { kind: 'error', code, message }
    : { kind: 'error', code, message, suggestion };
}

function unknownCommandError(word: string, parent: string, suggestion: string | undefined): ParseError {
  const advice =
    suggestion === undefined
      ? `run '${parent} --help' for the list of commands`
      : `did you mean "${suggestion}"?`;
  return parseError('UnknownCommand', `unknown command "${word}" for "${parent}"; ${advice}`, suggestion);
}

function unknownFlagError(
  typed: string,
  allowed: readonly FlagSpec[],
  target: Target | undefined,
): ParseError {
  const isLong = typed.startsWith('--');
  const candidates = allowed.flatMap((flag) =>
    isLong
      ? [{ word: flag.name, suggestion: `--${flag.name}` }]
      : flag.shorthand === undefined
        ? []
        : [{ word: flag.shorthand, suggestion: `-${flag.shorthand}` }],
  );
  const typedName = typed.replace(/^-+/, '');
  // Single letters are all within distance 1 of each other: only suggest for long names.
  const suggestion = isLong ? closestWord(typedName, candidates) : undefined;
  const where = target === undefined ? '' : ` for "${targetTitle(target)}"`;
  const advice = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
  return parseError('UnknownFlag', `unknown flag "${typed}"${where}${advice}`, suggestion);
}

function extraArgumentsError(target: Target, rest: readonly string[]): ParseError {
  const quoted = rest.map((word) => `"${word}"`).join(', ');
  if (target.kind === 'command' && target.command.arg !== undefined) {
    return parseError(
      'UnexpectedArgument',
      `"${targetTitle(target)}" takes at most one argument (${target.command.arg.name}), got ${quoted}`,
    );
  }
  return parseError('UnexpectedArgument', `"${targetTitle(target)}" takes no arguments, got ${quoted}`);
}

function describeFlag(spec: FlagSpec): string {
  return spec.shorthand === undefined ? `--${spec.name}` : `-${spec.shorthand}/--${spec.name}`;
}

function defined<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  const result: { [K in keyof T]?: string } = {};
  for (const key of Object.keys(values) as (keyof T)[]) {
    const value = values[key];
    if (value !== undefined) result[key] = value;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Suggestions

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`gte` → `get` is 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate closest to `typed`, if it is plausibly a typo (within 2 edits, a quarter of the word for
 * long words) or an abbreviation (`podint`); ties go to the earlier candidate.
 */
export function closestWord(
  typed: string,
  candidates: readonly { word: string; suggestion: string }[],
): string | undefined {
  const lower = typed.toLowerCase();
  let best: { suggestion: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const isPrefix = lower.length >= 3 && candidate.word.startsWith(lower);
    const distance = isPrefix ? 0.5 : editDistance(lower, candidate.word);
    const limit = Math.max(2, Math.floor(candidate.word.length / 4));
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { suggestion: candidate.suggestion, distance };
    }
  }
  return best?.suggestion;
}

// ---------------------------------------------------------------------------------------------------
// Help

/** Help text for a topic as returned in `HelpRequest.path`; unknown paths render the root help. */
export function renderHelp(path: readonly string[]): string {
  const table = ANTCTL_COMMANDS;
  if (path.length === 1 && path[0] === HELP_COMMAND_WORD) return renderHelpCommandHelp(table);
  const resolved = resolveTarget(table, path);
  const target: Target = 'code' in resolved ? { kind: 'root' } : resolved.target;
  switch (target.kind) {
    case 'root':
      return renderRootHelp(table);
    case 'group':
      return renderGroupHelp(table, target.group);
    case 'command':
      return renderCommandHelp(table, target.command);
  }
}

function renderRootHelp(table: CommandTable): string {
  const entries: [string, string][] = [
    ...table.groups.map((group): [string, string] => [group.use, group.short]),
    [HELP_COMMAND_WORD, 'Help about any command'] as [string, string],
    ...table.commands
      .filter((command) => command.group === undefined)
      .map((command): [string, string] => [command.use, command.short]),
  ].sort(([a], [b]) => a.localeCompare(b));
  return sections([
    table.long,
    `Usage:\n  ${table.program} [command]`,
    `Available Commands:\n${twoColumns(entries)}`,
    `Flags:\n${flagLines([{ ...HELP_FLAG, usage: `help for ${table.program}` }, ...table.globalFlags])}`,
    `Use "${table.program} [command] --help" for more information about a command.`,
  ]);
}

function renderGroupHelp(table: CommandTable, group: CommandGroupSpec): string {
  const entries = table.commands
    .filter((command) => command.group === group.use)
    .map((command): [string, string] => [command.use, command.short])
    .sort(([a], [b]) => a.localeCompare(b));
  return sections([
    group.long,
    `Usage:\n  ${table.program} ${group.use} [command]`,
    `Available Commands:\n${twoColumns(entries)}`,
    `Flags:\n${flagLines([{ ...HELP_FLAG, usage: `help for ${group.use}` }])}`,
    `Global Flags:\n${flagLines(table.globalFlags)}`,
    `Use "${table.program} ${group.use} [command] --help" for more information about a command.`,
  ]);
}

function renderCommandHelp(table: CommandTable, command: CommandSpec): string {
  const fullName = `${table.program} ${commandPath(command)}`;
  const argUsage = command.arg === undefined ? '' : ` [${command.arg.name}]`;
  const parts = [command.long, `Usage:\n  ${fullName}${argUsage} [flags]`];
  if (command.arg !== undefined) parts.push(`Args:\n${twoColumns([[command.arg.name, command.arg.usage]])}`);
  if (command.aliases.length > 0) parts.push(`Aliases:\n  ${[command.use, ...command.aliases].join(', ')}`);
  if (command.examples.length > 0) {
    parts.push(
      `Examples:\n${command.examples.map((example) => `  ${example.description}\n  $ ${example.command}`).join('\n')}`,
    );
  }
  parts.push(`Flags:\n${flagLines([...command.flags, { ...HELP_FLAG, usage: `help for ${command.use}` }])}`);
  parts.push(`Global Flags:\n${flagLines(table.globalFlags)}`);
  return sections(parts);
}

function renderHelpCommandHelp(table: CommandTable): string {
  return sections([
    `Help provides help for any command in the application.\nSimply type ${table.program} help [path to command] for full details.`,
    `Usage:\n  ${table.program} help [command] [flags]`,
    `Flags:\n${flagLines([{ ...HELP_FLAG, usage: 'help for help' }])}`,
  ]);
}

function sections(parts: readonly string[]): string {
  return `${parts.join('\n\n')}\n`;
}

function twoColumns(entries: readonly [string, string][]): string {
  const width = Math.max(...entries.map(([left]) => left.length));
  return entries.map(([left, right]) => `  ${left.padEnd(width)}   ${right}`).join('\n');
}

function flagLines(flags: readonly FlagSpec[]): string {
  const sorted = [...flags].sort((a, b) => a.name.localeCompare(b.name));
  return twoColumns(
    sorted.map((flag): [string, string] => {
      const names =
        flag.shorthand === undefined ? `    --${flag.name}` : `-${flag.shorthand}, --${flag.name}`;
      const type = flag.valueType === undefined ? '' : ` ${flag.valueType}`;
      const defaultText = flag.defaultValue === undefined ? '' : ` (default "${flag.defaultValue}")`;
      return [`${names}${type}`, `${flag.usage}${defaultText}`];
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// Running

export interface CommandOutput {
  stdout: string;
  /** Notices for humans that must not pollute piped output, e.g. "No resources found.". */
  stderr: string;
}

export interface RunContext {
  antctlVersion: string;
}

export const NO_RESOURCES_NOTICE = 'No resources found.\n';

/** Runs a parsed command against the agent; query failures (ApiError) propagate to the caller's edge. */
export async function runCommand(
  command: RunnableCommand,
  queries: AgentQueries,
  context: RunContext,
): Promise<CommandOutput> {
  switch (command.kind) {
    case 'get podinterface': {
      const views = await queries.podInterfaces(
        defined({ name: command.name, namespace: command.namespace }),
      );
      return listOutput(command.output, views, () => podInterfaceTable(views));
    }
    case 'get ovsflows': {
      const flows = await queries.ovsFlows(
        defined({ pod: command.pod, namespace: command.namespace, table: command.table }),
      );
      return listOutput(command.output, flows, () => ovsFlowsTable(flows));
    }
    case 'get agentinfo': {
      const info = await queries.agentInfo();
      return { stdout: formatOutput(command.output, info, () => agentInfoTable(info)), stderr: '' };
    }
    case 'version': {
      const data = { antctlVersion: context.antctlVersion };
      return {
        stdout: formatOutput(command.output, data, () => ({
          columns: ['ANTCTL-VERSION'],
          rows: [[context.antctlVersion]],
        })),
        stderr: '',
      };
    }
  }
}

function listOutput(output: OutputKind, items: readonly unknown[], table: () => TableData): CommandOutput {
  // kubectl's convention: an empty table is a notice on stderr, while json/yaml still print `[]`.
  if (output === 'table' && items.length === 0) return { stdout: '', stderr: NO_RESOURCES_NOTICE };
  return { stdout: formatOutput(output, items, table), stderr: '' };
}

const CONTAINER_ID_TABLE_LENGTH = 12;

export function podInterfaceTable(views: readonly PodInterfaceView[]): TableData {
  const sorted = [...views].sort(
    (a, b) =>
      a.namespace.localeCompare(b.namespace) ||
      a.name.localeCompare(b.name) ||
      a.interfaceName.localeCompare(b.interfaceName),
  );
  return {
    columns: ['NAMESPACE', 'NAME', 'INTERFACE-NAME', 'IP', 'MAC', 'PORT-UUID', 'OF-PORT', 'CONTAINER-ID'],
    rows: sorted.map((view) => [
      view.namespace,
      view.name,
      view.interfaceName,
      view.ip,
      view.mac,
      view.portUuid,
      String(view.ofport),
      view.containerId.slice(0, CONTAINER_ID_TABLE_LENGTH),
    ]),
  };
}

export function ovsFlowsTable(flows: readonly string[]): TableData {
  return { columns: ['FLOW'], rows: flows.map((flow) => [flow]) };
}

export function agentInfoTable(info: AgentInfoView): TableData {
  return {
    columns: [
      'POD',
      'NODE',
      'STATUS',
      'NODE-SUBNET',
      'NETWORK-POLICIES',
      'ADDRESS-GROUPS',
      'APPLIED-TO-GROUPS',
      'LOCAL-PODS',
    ],
    rows: [
      [
        info.podName,
        info.nodeName,
        info.status,
        info.nodeSubnets.join(','),
        String(info.networkPolicies),
        String(info.addressGroups),
        String(info.appliedToGroups),
        String(info.localPods),
      ],
    ],
  };
}
