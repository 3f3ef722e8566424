// The console's command line: antctl's commands through the shared table (firmware/core/antctl/commands.ts),
// plus the appliance's own commands (label, show, passwd, reboot, shutdown, logout). Pure: a line becomes an
// action; the session runs it.
import {
  ANTCTL_COMMANDS,
  closestWord,
  isParseError,
  parseArgs,
  PROGRAM_NAME,
  renderHelp,
  RESOURCE_KINDS,
  type CommandSpec,
  type RunnableCommand,
} from '../antctl/commands';
import { NETWORK_POLICY_TYPE_FILTERS } from '../antctl/views';
import { labelValueProblems, qualifiedNameProblems } from '../api/validation';
import { isOutputKind, OUTPUT_KINDS, type OutputKind } from '../output/format';
import { PIPELINE_TABLES } from '../pipeline/tables';
import type { Completion } from './line-editor';
import { splitWords } from './shell-words';

export type ConsoleAction =
  | { kind: 'empty' }
  | { kind: 'error'; message: string }
  | { kind: 'help'; text: string }
  | { kind: 'antctl'; command: RunnableCommand }
  | {
      kind: 'label';
      namespace: string;
      name: string;
      set: Record<string, string>;
      remove: string[];
      overwrite: boolean;
    }
  | { kind: 'show system'; output: OutputKind }
  | { kind: 'show interfaces'; output: OutputKind }
  | { kind: 'passwd' }
  | { kind: 'reboot' }
  | { kind: 'shutdown' }
  | { kind: 'logout' };

interface ConsoleCommandSpec {
  /** Words typed, e.g. `show system`. */
  readonly words: string;
  readonly aliases?: readonly string[];
  readonly usage: string;
  readonly short: string;
  readonly long: string;
  readonly flags?: readonly { names: string; usage: string }[];
  readonly examples?: readonly string[];
}

const OUTPUT_FLAG = {
  names: '-o, --output string',
  usage: `output format: ${OUTPUT_KINDS.join('|')} (default "table")`,
};

export const CONSOLE_COMMANDS: readonly ConsoleCommandSpec[] = [
  {
    words: 'label pod',
    usage: 'label pod NAMESPACE/NAME KEY=VALUE... [KEY-]... [--overwrite]',
    short: 'Add, change or remove labels of a local Pod',
    long: 'Add (KEY=VALUE) or remove (KEY-) labels of a local Pod, as kubectl label does. Changing the value of an existing label needs --overwrite. Policies that select the Pod by label follow at once.',
    flags: [{ names: '    --overwrite', usage: 'allow changing the value of existing labels' }],
    examples: ['label pod default/ch-busybox app=nginx', 'label pod default/ch-busybox app-'],
  },
  {
    words: 'show system',
    usage: 'show system [-o table|json|yaml]',
    short: 'Show the board model, CPU temperature, memory, load and uptime',
    long: 'Show the board model, firmware version, CPU temperature, memory, load averages and uptime of the appliance.',
    flags: [OUTPUT_FLAG],
  },
  {
    words: 'show interfaces',
    usage: 'show interfaces [-o table|json|yaml]',
    short: 'Show the network interfaces with their roles, addresses and link state',
    long: "Show the appliance's network interfaces: the NICs of the board profile with their roles (cluster, management, uplink, spare), then the other interfaces, with link state and addresses.",
    flags: [OUTPUT_FLAG],
  },
  {
    words: 'passwd',
    usage: 'passwd',
    short: 'Change the password of the logged-in user',
    long: 'Change the password of the logged-in user: asks for the current password, then twice for the new one.',
  },
  {
    words: 'reboot',
    usage: 'reboot',
    short: 'Reboot the appliance (asks for confirmation)',
    long: 'Reboot the appliance after a confirmation. Policies are enforced again from the stored state when it is back.',
  },
  {
    words: 'shutdown',
    usage: 'shutdown',
    short: 'Power the appliance off (asks for confirmation)',
    long: 'Power the appliance off after a confirmation. Nothing is forwarded until it is powered on again.',
  },
  {
    words: 'logout',
    aliases: ['exit'],
    usage: 'logout',
    short: 'End the session (also: exit, Ctrl-D)',
    long: 'End the session and return to the login prompt.',
  },
];

const CONSOLE_WORDS = ['label', 'show', 'passwd', 'reboot', 'shutdown', 'logout', 'exit'];
const SHOW_TOPICS = ['system', 'interfaces'];
const HELP_WORD = 'help';

/** Every word that may start a command, with the full command to suggest for it. */
const COMMAND_WORDS = commandWordCandidates();

export const PASTE_END_HINT = "end with a line holding only '.' (or Ctrl-D, or '---' with nothing after it)";

// ---------------------------------------------------------------------------------------------------
// Parsing

export function parseConsoleLine(line: string): ConsoleAction {
  const split = splitWords(line);
  if ('error' in split) return { kind: 'error', message: split.error };
  const words = split.words;
  // People type antctl's commands with its name out of habit; both forms work.
  if (words[0] === PROGRAM_NAME) words.shift();
  const [first] = words;
  if (first === undefined) return { kind: 'empty' };
  if (first === HELP_WORD) return helpAction(words.slice(1));
  if (CONSOLE_WORDS.includes(first)) return parseConsoleCommand(words);
  const isAntctlWord =
    ANTCTL_COMMANDS.groups.some((group) => group.use === first) ||
    ANTCTL_COMMANDS.commands.some(
      (command) => command.group === undefined && (command.use === first || command.aliases.includes(first)),
    );
  if (!isAntctlWord) return unknownCommand(first);
  const parsed = parseArgs(words);
  if (isParseError(parsed)) return { kind: 'error', message: parsed.message };
  if (parsed.kind === 'help') return { kind: 'help', text: antctlHelp(parsed.path) };
  const { globals: _globals, ...command } = parsed;
  if (command.kind === 'apply' && command.file !== '-') {
    return {
      kind: 'error',
      message: `the console cannot read files: use "apply -f -" and paste the manifest (${PASTE_END_HINT})`,
    };
  }
  return { kind: 'antctl', command };
}

function unknownCommand(word: string): ConsoleAction {
  const suggestion = closestWord(word, plausibleCandidates(word, COMMAND_WORDS));
  const advice =
    suggestion === undefined ? 'type "help" for the list of commands' : `did you mean "${suggestion}"?`;
  return { kind: 'error', message: `unknown command "${word}"; ${advice}` };
}

function commandWordCandidates(): { word: string; suggestion: string }[] {
  return [
    { word: HELP_WORD, suggestion: HELP_WORD },
    ...CONSOLE_COMMANDS.flatMap((spec) =>
      [spec.words, ...(spec.aliases ?? [])].flatMap((words) => {
        const parts = words.split(' ');
        // `sytem` → `show system`: the second word counts too.
        return parts.map((word) => ({ word, suggestion: words }));
      }),
    ),
    ...ANTCTL_COMMANDS.groups.map((group) => ({ word: group.use, suggestion: group.use })),
    ...ANTCTL_COMMANDS.commands.flatMap((command) =>
      [command.use, ...command.aliases].map((word) => ({ word, suggestion: antctlCommandWords(command) })),
    ),
  ];
}

/**
 * Candidates closestWord could accept (its limit is a quarter of the word, at least 2, or a prefix): line noise
 * has long words, and an edit distance per candidate for each would make every noisy line cost a millisecond.
 */
function plausibleCandidates(
  typed: string,
  candidates: readonly { word: string; suggestion: string }[],
): { word: string; suggestion: string }[] {
  const lower = typed.toLowerCase();
  return candidates.filter(
    (candidate) =>
      candidate.word.startsWith(lower) ||
      Math.abs(candidate.word.length - lower.length) <= Math.max(2, Math.floor(candidate.word.length / 4)),
  );
}

function antctlCommandWords(command: CommandSpec): string {
  return command.group === undefined ? command.use : `${command.group} ${command.use}`;
}

function parseConsoleCommand(words: string[]): ConsoleAction {
  const [first, ...rest] = words;
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  switch (first) {
    case 'label':
      if (wantsHelp) return { kind: 'help', text: consoleCommandHelp('label pod') };
      return parseLabel(rest);
    case 'show': {
      const [topic, ...flags] = rest;
      if (topic === undefined || topic === '--help' || topic === '-h')
        return { kind: 'help', text: showHelp() };
      if (!SHOW_TOPICS.includes(topic)) {
        const suggestion = closestWord(
          topic,
          SHOW_TOPICS.map((word) => ({ word, suggestion: `show ${word}` })),
        );
        const advice =
          suggestion === undefined
            ? `use ${SHOW_TOPICS.map((t) => `"show ${t}"`).join(' or ')}`
            : `did you mean "${suggestion}"?`;
        return { kind: 'error', message: `unknown topic "${topic}" for "show"; ${advice}` };
      }
      const words = `show ${topic}` as 'show system' | 'show interfaces';
      if (wantsHelp) return { kind: 'help', text: consoleCommandHelp(words) };
      const output = parseOutputOnly(words, flags);
      if (typeof output !== 'string') return output;
      return { kind: words, output };
    }
    case 'passwd':
    case 'reboot':
    case 'shutdown':
    case 'logout':
    case 'exit': {
      const spec = first === 'exit' ? 'logout' : first;
      if (wantsHelp) return { kind: 'help', text: consoleCommandHelp(spec) };
      if (rest.length > 0) {
        return {
          kind: 'error',
          message: `"${first}" takes no arguments, got ${rest.map((w) => `"${w}"`).join(', ')}`,
        };
      }
      return { kind: spec };
    }
    default:
      return unknownCommand(first ?? '');
  }
}

function parseOutputOnly(command: string, flags: readonly string[]): OutputKind | ConsoleAction {
  let output: string = 'table';
  for (let index = 0; index < flags.length; index++) {
    const flag = flags[index] ?? '';
    let value: string | undefined;
    if (flag === '-o' || flag === '--output') value = flags[++index];
    else if (flag.startsWith('--output=')) value = flag.slice('--output='.length);
    else if (flag.startsWith('-o') && flag.length > 2) value = flag.slice(2).replace(/^=/, '');
    else return { kind: 'error', message: `unexpected argument "${flag}" for "${command}"` };
    if (value === undefined || value === '')
      return { kind: 'error', message: 'flag -o/--output needs a value' };
    output = value;
  }
  if (!isOutputKind(output)) {
    return {
      kind: 'error',
      message: `invalid output format "${output}": valid formats are ${OUTPUT_KINDS.join(', ')}`,
    };
  }
  return output;
}

function parseLabel(args: readonly string[]): ConsoleAction {
  const [resource, ref, ...changes] = args;
  if (resource !== 'pod' && resource !== 'pods' && resource !== 'po') {
    const got = resource === undefined ? 'nothing' : `"${resource}"`;
    return {
      kind: 'error',
      message: `"label" labels Pods only: label pod NAMESPACE/NAME KEY=VALUE (got ${got})`,
    };
  }
  if (ref === undefined || ref.startsWith('-')) {
    return {
      kind: 'error',
      message: '"label pod" needs the Pod as NAMESPACE/NAME (or NAME in Namespace default)',
    };
  }
  const slash = ref.indexOf('/');
  const namespace = slash < 0 ? 'default' : ref.slice(0, slash);
  const name = slash < 0 ? ref : ref.slice(slash + 1);
  if (namespace === '' || name === '' || name.includes('/')) {
    return { kind: 'error', message: `invalid Pod "${ref}": use NAMESPACE/NAME` };
  }
  const set: Record<string, string> = {};
  const remove: string[] = [];
  let overwrite = false;
  const problems: string[] = [];
  for (const change of changes) {
    if (change === '--overwrite') {
      overwrite = true;
      continue;
    }
    if (change.endsWith('-') && !change.includes('=')) {
      const key = change.slice(0, -1);
      problems.push(...qualifiedNameProblems(key).map((problem) => `label key "${key}": ${problem}`));
      remove.push(key);
      continue;
    }
    const equals = change.indexOf('=');
    if (equals <= 0) {
      problems.push(`"${change}" is neither KEY=VALUE nor KEY-`);
      continue;
    }
    const key = change.slice(0, equals);
    const value = change.slice(equals + 1);
    problems.push(...qualifiedNameProblems(key).map((problem) => `label key "${key}": ${problem}`));
    problems.push(...labelValueProblems(value).map((problem) => `label value "${value}": ${problem}`));
    set[key] = value;
  }
  if (problems.length > 0) return { kind: 'error', message: problems.join('; ') };
  if (Object.keys(set).length === 0 && remove.length === 0) {
    return { kind: 'error', message: 'at least one label change is required: KEY=VALUE or KEY-' };
  }
  const both = remove.find((key) => key in set);
  if (both !== undefined) return { kind: 'error', message: `label "${both}" is both set and removed` };
  return { kind: 'label', namespace, name, set, remove, overwrite };
}

/** kubectl's merge: the labels after the change, or the message for a refused change. */
export function mergeLabels(
  current: Readonly<Record<string, string>>,
  change: { set: Readonly<Record<string, string>>; remove: readonly string[]; overwrite: boolean },
): { labels: Record<string, string>; notes: string[] } | { error: string } {
  const labels = { ...current };
  const notes: string[] = [];
  for (const [key, value] of Object.entries(change.set)) {
    const existing = labels[key];
    if (existing !== undefined && existing !== value && !change.overwrite) {
      return { error: `'${key}' already has a value (${existing}), and --overwrite is false` };
    }
    labels[key] = value;
  }
  for (const key of change.remove) {
    if (!(key in labels)) notes.push(`label "${key}" not found.`);
    delete labels[key];
  }
  return { labels, notes };
}

// ---------------------------------------------------------------------------------------------------
// Help

function helpAction(topic: readonly string[]): ConsoleAction {
  if (topic.length === 0) return { kind: 'help', text: consoleHelp() };
  const joined = topic.join(' ');
  const spec = CONSOLE_COMMANDS.find(
    (candidate) => candidate.words === joined || candidate.aliases?.includes(joined),
  );
  if (spec !== undefined) return { kind: 'help', text: consoleCommandHelp(spec.words) };
  if (topic[0] === 'show') return { kind: 'help', text: showHelp() };
  if (topic[0] === 'label') return { kind: 'help', text: consoleCommandHelp('label pod') };
  const parsed = parseArgs([HELP_WORD, ...topic]);
  if (isParseError(parsed)) {
    const first = topic[0] ?? '';
    const known = CONSOLE_WORDS.includes(first);
    return known ? { kind: 'error', message: parsed.message } : unknownCommand(first);
  }
  return { kind: 'help', text: parsed.kind === 'help' ? antctlHelp(parsed.path) : consoleHelp() };
}

/** The console's overview: antctl's commands from the shared table, then the appliance's own. */
export function consoleHelp(): string {
  const antctl: [string, string][] = ANTCTL_COMMANDS.commands.map((command) => [
    command.id === 'apply'
      ? 'apply -f -'
      : command.id === 'delete'
        ? 'delete KIND NAME'
        : antctlCommandWords(command),
    command.short,
  ]);
  const appliance: [string, string][] = CONSOLE_COMMANDS.map((spec) => [
    spec.usage.replace(/ \[-o .*\]$/, ''),
    spec.short,
  ]);
  const width = Math.max(...[...antctl, ...appliance].map(([left]) => left.length));
  const lines = (entries: [string, string][]): string =>
    entries.map(([left, right]) => `  ${left.padEnd(width)}   ${right}`).join('\n');
  return [
    'Agent commands (as antctl: same columns, -o table|json|yaml):',
    lines(antctl),
    '',
    'Appliance commands:',
    lines(appliance),
    '',
    'Keys: Tab completes, Up/Down recall earlier lines, Ctrl-C cancels the line or a running command, Ctrl-D logs',
    'out. Left/Right, Home/End (Ctrl-B/F, Ctrl-A/E) move in the line; Delete, Ctrl-K, Ctrl-U and Ctrl-W delete the',
    'character, to the end, to the start and the word before the cursor; Ctrl-Y puts it back; Ctrl-L redraws.',
    `apply -f - reads the manifest you paste; ${PASTE_END_HINT}.`,
    'Use "COMMAND --help" (e.g. "get podinterface --help") for the flags of a command.',
    '',
  ].join('\n');
}

function showHelp(): string {
  const specs = CONSOLE_COMMANDS.filter((spec) => spec.words.startsWith('show '));
  return [
    'Show facts about the appliance.',
    '',
    'Usage:',
    ...specs.map((spec) => `  ${spec.usage}`),
    '',
    'Topics:',
    ...specs.map((spec) => `  ${spec.words.slice('show '.length).padEnd(12)}${spec.short}`),
    '',
  ].join('\n');
}

function consoleCommandHelp(words: string): string {
  const spec = CONSOLE_COMMANDS.find((candidate) => candidate.words === words);
  if (spec === undefined) return consoleHelp();
  const parts = [spec.long, `Usage:\n  ${spec.usage}`];
  if (spec.aliases !== undefined) parts.push(`Aliases:\n  ${[spec.words, ...spec.aliases].join(', ')}`);
  if (spec.examples !== undefined)
    parts.push(`Examples:\n${spec.examples.map((example) => `  ${example}`).join('\n')}`);
  if (spec.flags !== undefined) {
    parts.push(`Flags:\n${spec.flags.map((flag) => `  ${flag.names.padEnd(24)}${flag.usage}`).join('\n')}`);
  }
  return `${parts.join('\n\n')}\n`;
}

/**
 * antctl's help for the console: commands are typed without the program name, the manifest is pasted, and the
 * CLI's --socket flag means nothing here.
 */
function antctlHelp(path: readonly string[]): string {
  if (path.length === 0) return consoleHelp();
  return renderHelp(path, { program: '', globalFlags: false, example: consoleExample });
}

/** There are no files on the console: `apply -f FILE` examples are left out, stdin means pasting. */
function consoleExample(command: string): string | undefined {
  const apply = /^(?:cat \S+ \| )?apply -f (\S+)$/.exec(command);
  if (apply === null) return command;
  return apply[1] === '-' ? 'apply -f -   (then paste the manifest)' : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Completion

/** Object names offered by tab completion; the session refreshes them after every command. */
export interface CompletionNames {
  /** `NAMESPACE/NAME` of local Pods. */
  pods: readonly string[];
  /** Names of the policies (their source names), any kind. */
  policies: readonly string[];
}

const VALUE_CANDIDATES: Readonly<
  Record<string, (names: CompletionNames, command?: CommandSpec) => readonly string[]>
> = {
  output: () => OUTPUT_KINDS,
  namespace: (names) => [...new Set(names.pods.map((ref) => ref.split('/')[0] ?? ''))],
  pod: (names) => [...new Set(names.pods.map((ref) => ref.split('/')[1] ?? ''))],
  networkpolicy: (names) => names.policies,
  source: (names) => names.pods,
  destination: (names) => names.pods,
  type: () => NETWORK_POLICY_TYPE_FILTERS,
  protocol: () => ['TCP', 'UDP', 'SCTP'],
  table: () => PIPELINE_TABLES.map((table) => table.name),
  filename: () => ['-'],
};

export function completeConsoleLine(line: string, names: CompletionNames): Completion {
  const start = line.search(/\S*$/);
  const before = line.slice(0, start).trim();
  const words = before === '' ? [] : before.split(/\s+/);
  if (words[0] === PROGRAM_NAME) words.shift();
  const word = line.slice(start);
  const result = (candidates: readonly string[]): Completion => ({ start, candidates });
  if (words.length === 0) {
    const first = [
      HELP_WORD,
      ...new Set(CONSOLE_COMMANDS.map((spec) => spec.words.split(' ')[0] ?? '')),
      'exit',
      ...ANTCTL_COMMANDS.groups.map((group) => group.use),
      ...ANTCTL_COMMANDS.commands
        .filter((command) => command.group === undefined)
        .map((command) => command.use),
    ];
    return result(first);
  }
  const [first = '', second] = words;
  if (first === HELP_WORD) return completeConsoleLine(line.replace(/^\s*(antctl\s+)?help\s+/, ''), names);
  if (first === 'show')
    return result(words.length === 1 ? SHOW_TOPICS : word.startsWith('-') ? ['--output', '--help'] : []);
  if (first === 'label') {
    if (words.length === 1) return result(['pod']);
    if (words.length === 2) return result(names.pods);
    if (word.startsWith('-')) return result(['--overwrite']);
    return result([]);
  }
  const group = ANTCTL_COMMANDS.groups.find((candidate) => candidate.use === first);
  if (group !== undefined && words.length === 1) {
    return result(
      ANTCTL_COMMANDS.commands.filter((command) => command.group === group.use).map((command) => command.use),
    );
  }
  const command = ANTCTL_COMMANDS.commands.find((candidate) =>
    group === undefined
      ? candidate.group === undefined && (candidate.use === first || candidate.aliases.includes(first))
      : candidate.group === group.use &&
        (candidate.use === second || candidate.aliases.includes(second ?? '')),
  );
  if (command === undefined) return result([]);
  const previous = words[words.length - 1] ?? '';
  const valueFlag = previous.startsWith('-')
    ? command.flags.find(
        (flag) =>
          flag.valueType !== undefined &&
          (previous === `--${flag.name}` || previous === `-${flag.shorthand ?? '\0'}`),
      )
    : undefined;
  if (valueFlag !== undefined) {
    // ovsflows' -T is a table; networkpolicy's --type/-T is a policy type.
    const values = VALUE_CANDIDATES[valueFlag.name];
    return result(values === undefined ? [] : values(names, command));
  }
  if (word.startsWith('-')) return result([...command.flags.map((flag) => `--${flag.name}`), '--help']);
  const positionals = words.slice(group === undefined ? 1 : 2).filter((token, index, all) => {
    if (token.startsWith('-')) return false;
    const flagBefore = all[index - 1];
    return !(flagBefore !== undefined && flagBefore.startsWith('-') && !flagBefore.includes('='));
  });
  switch (command.id) {
    case 'get podinterface':
      return result(
        positionals.length === 0 ? [...new Set(names.pods.map((ref) => ref.split('/')[1] ?? ''))] : [],
      );
    case 'get networkpolicy':
    case 'get networkpolicystats':
      return result(positionals.length === 0 ? names.policies : []);
    case 'delete':
      if (positionals.length === 0) return result(RESOURCE_KINDS.map((kind) => kind.words[0] ?? ''));
      return result(positionals.length === 1 ? names.policies : []);
    default:
      return result([]);
  }
}
