// A line editor for a dumb serial terminal, fed raw bytes: echo, backspace, CR/LF/CRLF, Ctrl-C, Ctrl-D, history
// on the arrow keys, tab completion and a maximum line length. Like the repository's other stream parsers it never
// throws on input: unknown control characters, unknown escape sequences and invalid UTF-8 are dropped.
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
  complete?(line: string): Completion;
  onLine(line: string): void;
  /** Ctrl-C: the line being typed was cancelled, or (while no line is requested) the owner should interrupt. */
  onInterrupt(): void;
  /** Ctrl-D on an empty line. */
  onEndOfInput(): void;
}

export interface PromptOptions {
  /** false for passwords: nothing typed is shown. */
  echo?: boolean;
  /** false: the line is not remembered for the arrow keys (passwords, pasted manifests). */
  history?: boolean;
}

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = 0x08;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const CTRL_U = 0x15;
const ESC = 0x1b;
const DEL = 0x7f;
const BELL = '\x07';
const ERASE_TO_END = '\x1b[K';
const MAX_ESCAPE_LENGTH = 16;

type EscapeState = { kind: 'none' } | { kind: 'esc' } | { kind: 'csi'; length: number } | { kind: 'ss3' };

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
  /** The line as code points, so that backspace removes whole characters. */
  private chars: string[] = [];
  private historyIndex = 0;
  private draft: string[] = [];
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

  /** Shows the prompt and reads a line; input held since the last line is processed now. */
  prompt(text: string, options: PromptOptions = {}): void {
    this.promptText = text;
    this.echo = options.echo ?? true;
    this.remember = options.history ?? true;
    this.chars = [];
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
        }
        return;
      case TAB:
        this.complete();
        return;
      case CTRL_U:
        this.replaceLine([]);
        return;
      case ESC:
        this.escape = { kind: 'esc' };
        return;
    }
    // C0 and C1 control characters have no meaning here: dropped.
    if (codePoint < 0x20 || (codePoint >= 0x80 && codePoint < 0xa0)) return;
    this.insert(String.fromCodePoint(codePoint));
  }

  /** True when the code point was part of an escape sequence (consumed). */
  private continueEscape(codePoint: number): boolean {
    const state = this.escape;
    if (state.kind === 'esc') {
      if (codePoint === 0x5b /* [ */) this.escape = { kind: 'csi', length: 0 };
      else if (codePoint === 0x4f /* O */) this.escape = { kind: 'ss3' };
      else {
        this.escape = { kind: 'none' };
        // ESC followed by a control character: the ESC was noise; the character still counts.
        return codePoint >= 0x20;
      }
      return true;
    }
    if (state.kind === 'ss3') {
      this.escape = { kind: 'none' };
      if (codePoint < 0x20) return false;
      this.key(codePoint);
      return true;
    }
    if (state.kind === 'csi') {
      if (codePoint >= 0x20 && codePoint <= 0x3f && state.length < MAX_ESCAPE_LENGTH) {
        this.escape = { kind: 'csi', length: state.length + 1 };
        return true;
      }
      this.escape = { kind: 'none' };
      if (codePoint >= 0x40 && codePoint <= 0x7e) {
        this.key(codePoint);
        return true;
      }
      // Not a valid sequence: resynchronise on this character.
      return codePoint >= 0x20 && codePoint < 0x7f;
    }
    return false;
  }

  private key(final: number): void {
    if (final === 0x41 /* A */) this.recall(-1);
    else if (final === 0x42 /* B */) this.recall(1);
  }

  private submit(): void {
    const line = this.chars.join('');
    this.options.write('\r\n');
    if (this.overflowing) {
      this.overflowing = false;
      this.chars = [];
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
    this.options.onLine(line);
  }

  private interrupt(): void {
    this.options.write('^C\r\n');
    this.chars = [];
    this.overflowing = false;
    this.active = false;
    this.options.onInterrupt();
  }

  private insert(char: string): void {
    if (this.overflowing) return;
    if (this.chars.length >= this.options.maxLineLength) {
      this.overflowing = true;
      this.options.write(
        `\r\n% Line too long: at most ${this.options.maxLineLength} characters. Ignoring input up to the next Enter.\r\n`,
      );
      return;
    }
    this.chars.push(char);
    if (this.echo) this.options.write(char);
  }

  private backspace(): void {
    if (this.overflowing || this.chars.length === 0) return;
    this.chars.pop();
    if (this.echo) this.options.write('\b \b');
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
    this.replaceLine(next === this.history.length ? this.draft : Array.from(this.history[next] ?? ''));
  }

  private replaceLine(chars: string[]): void {
    if (this.overflowing) return;
    this.chars = [...chars];
    if (this.echo) this.options.write(`\r${this.promptText}${this.chars.join('')}${ERASE_TO_END}`);
  }

  private complete(): void {
    if (this.options.complete === undefined || !this.echo || this.overflowing) return;
    const line = this.chars.join('');
    let completion: Completion;
    try {
      completion = this.options.complete(line);
    } catch {
      this.options.write(BELL);
      return;
    }
    const start = Math.max(0, Math.min(completion.start, line.length));
    const typed = line.slice(start);
    const matches = [...new Set(completion.candidates.filter((candidate) => candidate.startsWith(typed)))];
    if (matches.length === 0) {
      this.options.write(BELL);
      return;
    }
    const prefix = commonPrefix(matches);
    if (matches.length === 1) {
      const [only = ''] = matches;
      const ending = /[/=]$/.test(only) ? '' : ' ';
      this.extend(line, start, only + ending);
      return;
    }
    if (prefix.length > typed.length) {
      this.extend(line, start, prefix);
      return;
    }
    this.options.write(`\r\n${listInColumns(matches, this.options.columns ?? 80)}`);
    this.options.write(`${this.promptText}${line}`);
  }

  private extend(line: string, start: number, word: string): void {
    const next = Array.from(line.slice(0, start) + word);
    if (next.length > this.options.maxLineLength) {
      this.options.write(BELL);
      return;
    }
    const added = next.slice(this.chars.length);
    this.chars = next;
    this.options.write(added.join(''));
  }
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
