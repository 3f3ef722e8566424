// A line editor for a dumb serial terminal, fed raw bytes: echo, CR/LF/CRLF, Ctrl-C, Ctrl-D, history on the arrow
// keys, tab completion, a maximum line length, and editing anywhere in the line with the keys of readline and of
// network devices' consoles (arrows, Home/End, Delete, Ctrl-A/E/B/F/K/U/W/Y/L, Alt-B/F/D, Ctrl-Left/Right). Like
// the repository's other stream parsers it never throws on input: unknown control characters, unknown escape
// sequences and invalid UTF-8 are dropped.
//
// Redraws use only VT100 sequences every terminal emulator knows (ESC [ n D / ESC [ n C to move, ESC [ K to erase
// to the end): an insertion in the middle re-prints the tail and moves back over it. The cursor arithmetic
// assumes the line fits on one terminal row (relative moves do not cross a wrapped row); East Asian wide
// characters count two columns.
//
// After a line is submitted the editor holds further input (typeahead) until the owner asks for the next line
// with prompt(); Ctrl-C in held input is delivered at once, so a running command can be interrupted.
import { Utf8Decoder } from './utf8-decoder';

export interface Completion {
  /** Index in the line where the word being completed starts. */
  start: number;
  /** Every word that may replace line.slice(start); the editor keeps those starting with what was typed. */
  candidates: readonly string[];
}

export interface LineEditorOptions {
  write(text: string): void;
  /** Longest line accepted, in characters; longer input is discarded up to the next line end. */
  maxLineLength: number;
  /** Lines remembered for the arrow keys. */
  historySize?: number;
  /** Bytes held while no line is requested; more is dropped. */
  maxTypeaheadBytes?: number;
  /** Terminal width for listing completions. */
  columns?: number;
  /**
   * Completes the word that ends at the cursor: `line` is the text before the cursor; what follows the cursor
   * stays as it is.
   */
  complete?(line: string): Completion;
  onLine(line: string): void;
  /** Ctrl-C: the line being typed was cancelled, or (while no line is requested) the owner should interrupt. */
  onInterrupt(): void;
  /** Ctrl-D on an empty line. */
  onEndOfInput(): void;
}

export interface PromptOptions {
  /** false for passwords: nothing typed is shown, and the cursor stays at the end of the line. */
  echo?: boolean;
  /** false: the line is not remembered for the arrow keys (passwords, pasted manifests). */
  history?: boolean;
}

/** What a key or escape sequence asks the editor to do. */
type EditKey =
  | 'left'
  | 'right'
  | 'home'
  | 'end'
  | 'up'
  | 'down'
  | 'word-left'
  | 'word-right'
  | 'delete'
  | 'kill-word-right'
  | 'kill-word-left';

const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_E = 0x05;
const CTRL_F = 0x06;
const BACKSPACE = 0x08;
const TAB = 0x09;
const LF = 0x0a;
const CTRL_K = 0x0b;
const CTRL_L = 0x0c;
const CR = 0x0d;
const CTRL_N = 0x0e;
const CTRL_P = 0x10;
const CTRL_U = 0x15;
const CTRL_W = 0x17;
const CTRL_Y = 0x19;
const ESC = 0x1b;
const DEL = 0x7f;
const BELL = '\x07';
const ERASE_TO_END = '\x1b[K';
const CLEAR_SCREEN = '\x1b[H\x1b[2J';
const MAX_ESCAPE_LENGTH = 16;

type EscapeState =
  { kind: 'none' } | { kind: 'esc' } | { kind: 'csi'; params: string; length: number } | { kind: 'ss3' };

/** ESC O x (application cursor mode, rxvt's Ctrl-arrows). */
const SS3_KEYS: Readonly<Record<string, EditKey>> = {
  A: 'up',
  B: 'down',
  C: 'right',
  D: 'left',
  H: 'home',
  F: 'end',
  c: 'word-right',
  d: 'word-left',
};

/** ESC [ n ~ (VT220 editing keys). */
const TILDE_KEYS: Readonly<Record<string, EditKey>> = {
  '1': 'home',
  '7': 'home',
  '4': 'end',
  '8': 'end',
  '3': 'delete',
};

/** ESC x (Alt/Meta as an ESC prefix, as terminals send it). */
const META_KEYS: Readonly<Record<string, EditKey>> = {
  b: 'word-left',
  f: 'word-right',
  d: 'kill-word-right',
  '\x7f': 'kill-word-left',
  '\b': 'kill-word-left',
};

export class LineEditor {
  private readonly decoder = new Utf8Decoder();
  private readonly history: string[] = [];
  private readonly queue: number[] = [];
  private queueStart = 0;
  private draining = false;
  private active = false;
  private promptText = '';
  private echo = true;
  private remember = true;
  /** The line as code points, so that editing works on whole characters. */
  private chars: string[] = [];
  /** Index in `chars` the next typed character goes to. */
  private position = 0;
  private historyIndex = 0;
  private draft: string[] = [];
  /** The text Ctrl-K, Ctrl-U and Ctrl-W removed last, for Ctrl-Y. */
  private killed: string[] = [];
  private escape: EscapeState = { kind: 'none' };
  private lastWasCr = false;
  private overflowing = false;
  private heldDropped = 0;

  constructor(private readonly options: LineEditorOptions) {}

  /** Whether a line is requested (false between a submitted line and the next prompt()). */
  get reading(): boolean {
    return this.active;
  }

  /** The line typed so far. */
  get line(): string {
    return this.chars.join('');
  }

  /** The cursor's index in the line, in characters (code points). */
  get cursor(): number {
    return this.position;
  }

  /** Shows the prompt and reads a line; input held since the last line is processed now. */
  prompt(text: string, options: PromptOptions = {}): void {
    this.promptText = text;
    this.echo = options.echo ?? true;
    this.remember = options.history ?? true;
    this.chars = [];
    this.position = 0;
    this.draft = [];
    this.historyIndex = this.history.length;
    this.overflowing = false;
    this.active = true;
    this.options.write(text);
    this.drain();
  }

  /** Stops reading: held and further input waits for the next prompt(). */
  hold(): void {
    this.active = false;
  }

  /** Forgets typeahead and half-received sequences, e.g. when the session starts over. */
  discardInput(): void {
    this.queue.length = 0;
    this.queueStart = 0;
    this.decoder.reset();
    this.escape = { kind: 'none' };
  }

  feed(bytes: Uint8Array): void {
    const limit = this.options.maxTypeaheadBytes ?? 256 * 1024;
    for (const byte of bytes) {
      if (!this.active && !this.draining && byte === CTRL_C) {
        // An interrupt overtakes held input, as a terminal flushes typeahead on ^C.
        this.discardInput();
        this.options.onInterrupt();
        continue;
      }
      if (this.active && !this.draining && this.queueStart === this.queue.length) {
        this.queue.push(byte);
        this.drain();
        continue;
      }
      if (this.queue.length - this.queueStart >= limit) {
        this.heldDropped++;
        continue;
      }
      this.queue.push(byte);
    }
    this.drain();
  }

  /** Bytes dropped because typeahead was full or was not valid UTF-8. */
  get droppedBytes(): number {
    return this.heldDropped + this.decoder.droppedBytes;
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.active && this.queueStart < this.queue.length) {
        const byte = this.queue[this.queueStart++] ?? 0;
        const codePoint = this.decoder.push(byte);
        if (codePoint !== undefined) this.handle(codePoint);
      }
      if (this.queueStart === this.queue.length) {
        this.queue.length = 0;
        this.queueStart = 0;
      } else if (this.queueStart > 4096) {
        this.queue.splice(0, this.queueStart);
        this.queueStart = 0;
      }
    } finally {
      this.draining = false;
    }
  }

  private handle(codePoint: number): void {
    const wasCr = this.lastWasCr;
    this.lastWasCr = codePoint === CR;
    if (this.escape.kind !== 'none' && this.continueEscape(codePoint)) return;
    switch (codePoint) {
      case CR:
        this.submit();
        return;
      case LF:
        if (!wasCr) this.submit();
        return;
      case BACKSPACE:
      case DEL:
        this.backspace();
        return;
      case CTRL_C:
        this.interrupt();
        return;
      case CTRL_D:
        if (this.chars.length === 0 && !this.overflowing) {
          this.active = false;
          this.options.onEndOfInput();
        } else this.edit('delete');
        return;
      case TAB:
        this.complete();
        return;
      case CTRL_A:
        this.edit('home');
        return;
      case CTRL_E:
        this.edit('end');
        return;
      case CTRL_B:
        this.edit('left');
        return;
      case CTRL_F:
        this.edit('right');
        return;
      case CTRL_P:
        this.edit('up');
        return;
      case CTRL_N:
        this.edit('down');
        return;
      case CTRL_K:
        this.killTo(this.chars.length);
        return;
      case CTRL_U:
        this.killTo(0);
        return;
      case CTRL_W:
        this.edit('kill-word-left');
        return;
      case CTRL_Y:
        this.yank();
        return;
      case CTRL_L:
        this.redraw(CLEAR_SCREEN);
        return;
      case ESC:
        this.escape = { kind: 'esc' };
        return;
    }
    // Other C0 and C1 control characters have no meaning here: dropped.
    if (codePoint < 0x20 || (codePoint >= 0x80 && codePoint < 0xa0)) return;
    this.insert([String.fromCodePoint(codePoint)]);
  }

  /** True when the code point was part of an escape sequence (consumed). */
  private continueEscape(codePoint: number): boolean {
    const state = this.escape;
    if (state.kind === 'esc') {
      this.escape = { kind: 'none' };
      if (codePoint === 0x5b /* [ */) this.escape = { kind: 'csi', params: '', length: 0 };
      else if (codePoint === 0x4f /* O */) this.escape = { kind: 'ss3' };
      else {
        const meta = META_KEYS[String.fromCodePoint(codePoint)];
        if (meta !== undefined) {
          this.edit(meta);
          return true;
        }
        // ESC followed by a control character: the ESC was noise; the character still counts.
        return codePoint >= 0x20;
      }
      return true;
    }
    if (state.kind === 'ss3') {
      this.escape = { kind: 'none' };
      if (codePoint < 0x20) return false;
      const key = SS3_KEYS[String.fromCodePoint(codePoint)];
      if (key !== undefined) this.edit(key);
      return true;
    }
    if (state.kind === 'csi') {
      if (codePoint >= 0x20 && codePoint <= 0x3f && state.length < MAX_ESCAPE_LENGTH) {
        this.escape = {
          kind: 'csi',
          params: state.params + String.fromCodePoint(codePoint),
          length: state.length + 1,
        };
        return true;
      }
      this.escape = { kind: 'none' };
      if (codePoint >= 0x40 && codePoint <= 0x7e) {
        const key = csiKey(state.params, String.fromCodePoint(codePoint));
        if (key !== undefined) this.edit(key);
        return true;
      }
      // Not a valid sequence: a control character still counts, anything else is dropped with it.
      return codePoint >= 0x20 && codePoint < 0x7f;
    }
    return false;
  }

  private edit(key: EditKey): void {
    if (this.overflowing) return;
    if (key === 'up' || key === 'down') {
      this.recall(key === 'up' ? -1 : 1);
      return;
    }
    // Without echo the person cannot see where the cursor is: it stays at the end.
    if (!this.echo) {
      if (key === 'kill-word-left') this.killTo(this.wordStartLeft());
      return;
    }
    switch (key) {
      case 'left':
        this.moveTo(this.position - 1);
        return;
      case 'right':
        this.moveTo(this.position + 1);
        return;
      case 'home':
        this.moveTo(0);
        return;
      case 'end':
        this.moveTo(this.chars.length);
        return;
      case 'word-left':
        this.moveTo(this.wordStartLeft());
        return;
      case 'word-right':
        this.moveTo(this.wordEndRight());
        return;
      case 'delete':
        this.deleteRange(this.position, Math.min(this.chars.length, this.position + 1));
        return;
      case 'kill-word-left':
        this.killTo(this.wordStartLeft());
        return;
      case 'kill-word-right':
        this.killTo(this.wordEndRight());
        return;
    }
  }

  private submit(): void {
    const line = this.chars.join('');
    this.options.write('\r\n');
    if (this.overflowing) {
      this.overflowing = false;
      this.chars = [];
      this.position = 0;
      this.options.write(this.promptText);
      return;
    }
    if (this.remember && line.trim() !== '' && this.history[this.history.length - 1] !== line) {
      this.history.push(line);
      const size = this.options.historySize ?? 100;
      if (this.history.length > size) this.history.splice(0, this.history.length - size);
    }
    this.active = false;
    this.chars = [];
    this.position = 0;
    this.options.onLine(line);
  }

  private interrupt(): void {
    this.options.write('^C\r\n');
    this.chars = [];
    this.position = 0;
    this.overflowing = false;
    this.active = false;
    this.options.onInterrupt();
  }

  /** Inserts at the cursor; a line that would grow past the limit is refused until the next line end. */
  private insert(text: readonly string[]): void {
    if (this.overflowing || text.length === 0) return;
    if (this.chars.length + text.length > this.options.maxLineLength) {
      this.overflowing = true;
      this.options.write(
        `\r\n% Line too long: at most ${this.options.maxLineLength} characters. Ignoring input up to the next Enter.\r\n`,
      );
      return;
    }
    this.chars.splice(this.position, 0, ...text);
    this.position += text.length;
    const tail = this.chars.slice(this.position);
    this.show(`${text.join('')}${tail.join('')}${cursorLeft(width(tail))}`);
  }

  private backspace(): void {
    if (this.overflowing || this.position === 0) return;
    if (this.position === this.chars.length) {
      const [removed = ''] = this.chars.splice(-1, 1);
      this.position--;
      const columns = width([removed]);
      this.show(`${'\b'.repeat(columns)}${' '.repeat(columns)}${'\b'.repeat(columns)}`);
      return;
    }
    this.deleteRange(this.position - 1, this.position);
  }

  /** Removes chars[from, to) around the cursor and redraws from the new cursor position. */
  private deleteRange(from: number, to: number): string[] {
    if (from >= to) return [];
    const removedBefore = width(this.chars.slice(from, Math.min(to, this.position)));
    const removed = this.chars.splice(from, to - from);
    this.position = from;
    const tail = this.chars.slice(from);
    this.show(`${cursorLeft(removedBefore)}${tail.join('')}${ERASE_TO_END}${cursorLeft(width(tail))}`);
    return removed;
  }

  /** Ctrl-K / Ctrl-U / Ctrl-W / Alt-D: removes the text between the cursor and `index`, kept for Ctrl-Y. */
  private killTo(index: number): void {
    if (this.overflowing) return;
    const removed =
      index < this.position ? this.deleteRange(index, this.position) : this.deleteRange(this.position, index);
    // A password must not come back with Ctrl-Y in a line that is shown.
    if (removed.length > 0 && this.echo) this.killed = removed;
  }

  private yank(): void {
    if (!this.echo) return;
    if (this.chars.length + this.killed.length > this.options.maxLineLength) {
      this.options.write(BELL);
      return;
    }
    this.insert(this.killed);
  }

  private moveTo(index: number): void {
    const target = Math.max(0, Math.min(this.chars.length, index));
    if (target < this.position) this.show(cursorLeft(width(this.chars.slice(target, this.position))));
    else if (target > this.position) this.show(cursorRight(width(this.chars.slice(this.position, target))));
    this.position = target;
  }

  private wordStartLeft(): number {
    let index = this.position;
    while (index > 0 && isSpace(this.chars[index - 1])) index--;
    while (index > 0 && !isSpace(this.chars[index - 1])) index--;
    return index;
  }

  private wordEndRight(): number {
    let index = this.position;
    while (index < this.chars.length && isSpace(this.chars[index])) index++;
    while (index < this.chars.length && !isSpace(this.chars[index])) index++;
    return index;
  }

  /** Writes the prompt and the line again (after `before`), with the cursor where it was. */
  private redraw(before: string): void {
    const tail = this.chars.slice(this.position);
    const line = this.echo ? `${this.chars.join('')}${cursorLeft(width(tail))}` : '';
    this.options.write(`${before}${this.promptText}${line}`);
  }

  private recall(step: -1 | 1): void {
    if (!this.echo || !this.remember || this.overflowing) return;
    const next = this.historyIndex + step;
    if (next < 0 || next > this.history.length) {
      this.options.write(BELL);
      return;
    }
    if (this.historyIndex === this.history.length) this.draft = this.chars;
    this.historyIndex = next;
    this.chars = next === this.history.length ? [...this.draft] : Array.from(this.history[next] ?? '');
    this.position = this.chars.length;
    this.options.write(`\r${this.promptText}${this.chars.join('')}${ERASE_TO_END}`);
  }

  /** Completes the word that ends at the cursor; the text after the cursor stays. */
  private complete(): void {
    if (this.options.complete === undefined || !this.echo || this.overflowing) return;
    const before = this.chars.slice(0, this.position).join('');
    let completion: Completion;
    try {
      completion = this.options.complete(before);
    } catch {
      this.options.write(BELL);
      return;
    }
    const start = Math.max(0, Math.min(completion.start, before.length));
    const typed = before.slice(start);
    const matches = [...new Set(completion.candidates.filter((candidate) => candidate.startsWith(typed)))];
    if (matches.length === 0) {
      this.options.write(BELL);
      return;
    }
    const prefix = commonPrefix(matches);
    let addition: string;
    if (matches.length === 1) {
      const [only = ''] = matches;
      const next = this.chars[this.position];
      const ending = /[/=]$/.test(only) || (next !== undefined && isSpace(next)) ? '' : ' ';
      addition = only.slice(typed.length) + ending;
    } else if (prefix.length > typed.length) {
      addition = prefix.slice(typed.length);
    } else {
      this.redraw(`\r\n${listInColumns(matches, this.options.columns ?? 80)}`);
      return;
    }
    const added = Array.from(addition);
    if (added.length === 0) return;
    if (this.chars.length + added.length > this.options.maxLineLength) {
      this.options.write(BELL);
      return;
    }
    this.insert(added);
  }

  private show(text: string): void {
    if (this.echo && text !== '') this.options.write(text);
  }
}

function csiKey(params: string, final: string): EditKey | undefined {
  if (final === '~') return TILDE_KEYS[params];
  // xterm adds modifiers as `1;M` (3 Alt, 5 Ctrl); Ctrl or Alt with Left/Right moves by words.
  const modifier = /^(?:1?;)?(\d+)$/.exec(params)?.[1];
  if (params !== '' && params !== '1' && modifier === undefined) return undefined;
  const byWords = modifier === '3' || modifier === '5';
  switch (final) {
    case 'A':
      return 'up';
    case 'B':
      return 'down';
    case 'C':
      return byWords ? 'word-right' : 'right';
    case 'D':
      return byWords ? 'word-left' : 'left';
    case 'H':
      return 'home';
    case 'F':
      return 'end';
    default:
      return undefined;
  }
}

function cursorLeft(columns: number): string {
  return columns === 0 ? '' : `\x1b[${columns}D`;
}

function cursorRight(columns: number): string {
  return columns === 0 ? '' : `\x1b[${columns}C`;
}

function isSpace(char: string | undefined): boolean {
  return char === ' ' || char === '\t';
}

/** Terminal columns of the characters: two for East Asian wide and fullwidth ones, one for the rest. */
function width(chars: readonly string[]): number {
  let columns = 0;
  for (const char of chars) columns += isWide(char.codePointAt(0) ?? 0) ? 2 : 1;
  return columns;
}

function isWide(codePoint: number): boolean {
  return (
    (codePoint >= 0x1100 && codePoint <= 0x115f) ||
    (codePoint >= 0x2e80 && codePoint <= 0xa4cf && codePoint !== 0x303f) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0xfe30 && codePoint <= 0xfe4f) ||
    (codePoint >= 0xff00 && codePoint <= 0xff60) ||
    (codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
    (codePoint >= 0x1f300 && codePoint <= 0x1f64f) ||
    (codePoint >= 0x1f900 && codePoint <= 0x1f9ff) ||
    (codePoint >= 0x20000 && codePoint <= 0x3fffd)
  );
}

function commonPrefix(words: readonly string[]): string {
  let prefix = words[0] ?? '';
  for (const word of words) {
    while (!word.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

function listInColumns(words: readonly string[], columns: number): string {
  const width = words.reduce((max, word) => Math.max(max, word.length), 0) + 2;
  const perRow = Math.max(1, Math.floor(columns / width));
  const lines: string[] = [];
  for (let index = 0; index < words.length; index += perRow) {
    lines.push(
      words
        .slice(index, index + perRow)
        .map((word) => word.padEnd(width))
        .join('')
        .trimEnd(),
    );
  }
  return lines.map((line) => `${line}\r\n`).join('');
}
