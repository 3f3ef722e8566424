// 100k lines of random bytes through the line editor and the command parser, then through a logged-in session:
// nothing throws, nothing hangs, and the shell still answers `help`.
import assert from 'node:assert/strict';
import { parseConsoleLine } from '../../firmware/core/console/console-commands';
import { LineEditor } from '../../firmware/core/console/line-editor';
import { loggedIn } from './console-fakes';

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Editing keys as terminals send them, whole or (when the line ends first) cut short. */
const ESCAPE_SEQUENCES = [
  '\x1b[A',
  '\x1b[B',
  '\x1b[C',
  '\x1b[D',
  '\x1bOA',
  '\x1bOB',
  '\x1bOC',
  '\x1bOD',
  '\x1b[H',
  '\x1b[F',
  '\x1bOH',
  '\x1bOF',
  '\x1b[1~',
  '\x1b[4~',
  '\x1b[7~',
  '\x1b[8~',
  '\x1b[3~',
  '\x1b[2~',
  '\x1b[5~',
  '\x1b[1;5C',
  '\x1b[1;5D',
  '\x1b[1;3D',
  '\x1b[1;2A',
  '\x1bb',
  '\x1bf',
  '\x1bd',
  '\x1b\x7f',
  '\x1bOc',
  '\x1b[200~',
  '\x1b[201~',
  '\x1b[99;99;99;99;99;99;99;99H',
  '\x1b[?25l',
  '\x1b]0;title\x07',
  '\x1b\x1b[C',
].map((sequence) => Array.from(sequence, (char) => char.charCodeAt(0)));

/** Ctrl-A/B/E/F/K/L/N/P/U/W/Y: the editing keys. */
const CONTROL_KEYS = [0x01, 0x02, 0x05, 0x06, 0x0b, 0x0c, 0x0e, 0x10, 0x15, 0x17, 0x19];

/**
 * A line of 0–80 random bytes, biased towards the bytes that mean something to the editor: control keys and
 * escape sequences, whole or cut short.
 */
function randomLine(random: () => number, exclude: ReadonlySet<number>): Uint8Array {
  const special = [0x03, 0x04, 0x08, 0x09, 0x0a, 0x0d, 0x15, 0x1b, 0x5b, 0x4f, 0x41, 0x42, 0x7f, 0x2d, 0x20];
  const bytes: number[] = [];
  const length = Math.floor(random() * 81);
  while (bytes.length < length) {
    const dice = random();
    if (dice < 0.1) {
      const sequence = ESCAPE_SEQUENCES[Math.floor(random() * ESCAPE_SEQUENCES.length)] ?? [];
      const cut = random() < 0.2 ? Math.floor(random() * sequence.length) : sequence.length;
      bytes.push(...sequence.slice(0, cut));
      continue;
    }
    const byte =
      dice < 0.2
        ? (CONTROL_KEYS[Math.floor(random() * CONTROL_KEYS.length)] ?? 0)
        : dice < 0.4
          ? (special[Math.floor(random() * special.length)] ?? 0)
          : Math.floor(random() * 256);
    if (!exclude.has(byte)) bytes.push(byte);
  }
  bytes.push(0x0d);
  return Uint8Array.from(bytes);
}

const LINES = 100_000;
const SEED = 0x5eed7;

describe('console fuzz', function () {
  this.timeout(120_000);

  it(`feeds ${LINES} random byte lines through the editor and the parser without a throw`, () => {
    const random = prng(SEED);
    let lines = 0;
    const kinds = new Map<string, number>();
    const editor: LineEditor = new LineEditor({
      write: () => undefined,
      maxLineLength: 64,
      complete: () => ({ start: 0, candidates: ['get', 'help'] }),
      onLine: (line) => {
        lines++;
        const kind = parseConsoleLine(line).kind;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        editor.prompt('> ');
      },
      onInterrupt: () => editor.prompt('> '),
      onEndOfInput: () => editor.prompt('> '),
    });
    editor.prompt('> ');
    for (let index = 0; index < LINES; index++) editor.feed(randomLine(random, new Set()));
    assert.ok(lines > LINES / 2, `${lines} lines reached the parser`);
    assert.ok((kinds.get('error') ?? 0) > 0, 'random words are rejected as errors');
    editor.feed(new TextEncoder().encode('help\r'));
    assert.equal(
      [...kinds.values()].reduce((a, b) => a + b, 0),
      lines,
    );
    assert.ok((kinds.get('help') ?? 0) >= 1);
  });

  it(`keeps a logged-in session answering after ${LINES} random byte lines`, async () => {
    // Ctrl-D would log out by design; everything else (Ctrl-C, escapes, tabs, invalid UTF-8) is in.
    const h = await loggedIn({ limits: { maxLineLength: 64 } });
    const random = prng(SEED + 1);
    const noLogout = new Set([0x04]);
    for (let index = 0; index < LINES; index++) {
      h.session.input(randomLine(random, noLogout));
      // Random lines may start commands (all fakes answer at once) or paste mode: let them finish.
      if (index % 64 === 0) await h.session.settled();
    }
    await h.session.settled();
    // Tab completion lets noise type real commands ("exit" is a Tab away): leave whatever state it left
    // (a paste, a confirmation, a password prompt, a login back-off), then log in again if it logged out.
    h.timers.advance(10 * 60_000);
    await h.type('\x03');
    if (h.session.user === undefined) await h.type('\x03admin\rcorrect horse\r');
    h.take();
    await h.type('help\r');
    assert.match(h.take(), /Appliance commands:/);
    assert.equal(h.session.user, 'admin');
    assert.deepEqual(h.power.calls, [], 'noise never confirmed a reboot');
    assert.ok(h.output().length > LINES, 'the session answered the noise');
  });
});
