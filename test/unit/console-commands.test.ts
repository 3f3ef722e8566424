// The console's use of antctl's command table: help rendered by renderHelp's options instead of rewritten text,
// and the typo suggestions' edit distance.
import assert from 'node:assert/strict';
import { ANTCTL_COMMANDS, closestWord, editDistance, renderHelp } from '../../firmware/core/antctl/commands';
import { parseConsoleLine } from '../../firmware/core/console/console-commands';

function consoleHelpText(line: string): string {
  const action = parseConsoleLine(line);
  assert.equal(action.kind, 'help', line);
  return action.kind === 'help' ? action.text : '';
}

describe('console help from the antctl command table', () => {
  it('renders a command without the program name and without the CLI-only global flags', () => {
    const help = renderHelp(['get', 'podinterface'], { program: '', globalFlags: false });
    assert.match(help, /\nUsage:\n {2}get podinterface \[NAME\] \[flags\]\n/);
    assert.match(help, /\n {2}\$ get podinterface pod1 -n ns1\n/);
    assert.ok(!help.includes('antctl get'), help);
    assert.ok(!help.includes('Global Flags'), help);
    assert.ok(!help.includes('--socket'), help);
    assert.ok(help.includes('-o, --output string'), 'the command flags stay');
  });

  it('uses another program name in usage lines, examples (also after a pipe) and hints', () => {
    const apply = renderHelp(['apply'], { program: 'edgectl' });
    assert.match(apply, /\n {2}edgectl apply \[flags\]\n/);
    assert.match(apply, /\n {2}\$ cat policies\.yaml \| edgectl apply -f -\n/);
    assert.match(apply, /\nGlobal Flags:\n {6}--socket string/);
    const group = renderHelp(['get'], { program: '' });
    assert.match(group, /\nUsage:\n {2}get \[command\]\n/);
    assert.ok(group.endsWith('Use "get [command] --help" for more information about a command.\n'), group);
    assert.match(
      renderHelp(['help'], { program: '' }),
      /Simply type help \[path to command\] for full details\./,
    );
  });

  it('lets the caller adapt or drop examples', () => {
    const help = renderHelp(['apply'], {
      program: '',
      example: (command) => (command.includes('|') ? undefined : command.toUpperCase()),
    });
    assert.match(help, /\n {2}Apply the policies in a file\n {2}\$ APPLY -F NGINX-ALLOW\.YAML\n/);
    assert.ok(!help.includes('standard input\n  $'), 'the piped example is dropped');
    const none = renderHelp(['version'], { example: () => undefined });
    assert.ok(!none.includes('Examples:'), 'no examples left: no section');
  });

  it('renders the same text as before without options (the antctl CLI)', () => {
    for (const command of ANTCTL_COMMANDS.commands) {
      const path = command.group === undefined ? [command.use] : [command.group, command.use];
      const plain = renderHelp(path);
      assert.equal(renderHelp(path, { program: 'antctl', globalFlags: true }), plain, command.id);
      assert.ok(plain.includes(`Usage:\n  antctl ${path.join(' ')}`), command.id);
      assert.ok(plain.includes('Global Flags:\n      --socket string'), command.id);
    }
  });

  it('is what the console prints for "CMD --help" and "help CMD": pasting instead of files', () => {
    for (const line of ['apply --help', 'help apply', 'antctl apply -h']) {
      const help = consoleHelpText(line);
      assert.match(
        help,
        /\n {2}Apply a manifest from standard input\n {2}\$ apply -f - {3}\(then paste the manifest\)\n/,
      );
      assert.ok(!help.includes('nginx-allow.yaml'), 'no example reads a file');
      assert.ok(!help.includes('antctl'), line);
      assert.ok(!help.includes('--socket'), line);
    }
    assert.match(consoleHelpText('get --help'), /Use "get \[command\] --help"/);
    assert.match(consoleHelpText('help'), /Ctrl-K, Ctrl-U and Ctrl-W/);
  });
});

describe('typo suggestions', () => {
  it('computes the optimal string alignment distance whichever word is longer, reusing one buffer', () => {
    assert.equal(editDistance('gte', 'get'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('sitting', 'kitten'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('abc', ''), 3);
    assert.equal(editDistance('ca', 'abc'), 3, 'no substring edited twice (OSA, not Damerau)');
    // A long call grows the shared buffer; shorter calls after it must not see its leftovers.
    assert.equal(editDistance('x'.repeat(300), 'y'.repeat(200)), 300);
    assert.equal(editDistance('podinterfac', 'podinterface'), 1);
    assert.equal(editDistance('ab', 'ba'), 1);
    assert.equal(editDistance('same', 'same'), 0);
  });

  it('matches a straightforward full-matrix implementation on random words', () => {
    const reference = (a: string, b: string): number => {
      const d = Array.from({ length: a.length + 1 }, (_, i) =>
        Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
      );
      for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
          const row = d[i] ?? [];
          const up = d[i - 1] ?? [];
          const cost = a[i - 1] === b[j - 1] ? 0 : 1;
          row[j] = Math.min((up[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (up[j - 1] ?? 0) + cost);
          if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
            row[j] = Math.min(row[j] ?? 0, (d[i - 2]?.[j - 2] ?? 0) + 1);
          }
        }
      }
      return d[a.length]?.[b.length] ?? 0;
    };
    let state = 11;
    const random = (): number => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    const word = (): string =>
      Array.from({ length: Math.floor(random() * 14) }, () => 'abcd'[Math.floor(random() * 4)]).join('');
    for (let round = 0; round < 20_000; round++) {
      const [a, b] = [word(), word()];
      assert.equal(editDistance(a, b), reference(a, b), `${a} / ${b}`);
    }
  });

  it('still suggests the closest command', () => {
    const candidates = ['get', 'query', 'apply'].map((word) => ({ word, suggestion: word }));
    assert.equal(closestWord('gte', candidates), 'get');
    assert.equal(closestWord('qeury', candidates), 'query');
    assert.equal(closestWord('zzzzzzzz', candidates), undefined);
  });
});
