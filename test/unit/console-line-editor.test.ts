import assert from 'node:assert/strict';
import { LineEditor, type LineEditorOptions } from '../../firmware/core/console/line-editor';
import { encodeUtf8, Utf8Decoder } from '../../firmware/core/console/utf8-decoder';
import { splitWords } from '../../firmware/core/console/shell-words';

interface Recorder {
  editor: LineEditor;
  lines: string[];
  events: string[];
  output(): string;
  feed(text: string | number[]): void;
}

function recorder(options: Partial<LineEditorOptions> = {}): Recorder {
  let output = '';
  const lines: string[] = [];
  const events: string[] = [];
  const editor = new LineEditor({
    write: (text) => {
      output += text;
    },
    maxLineLength: 20,
    onLine: (line) => {
      lines.push(line);
      events.push(`line:${line}`);
    },
    onInterrupt: () => events.push('interrupt'),
    onEndOfInput: () => events.push('eof'),
    ...options,
  });
  return {
    editor,
    lines,
    events,
    output: () => output,
    feed: (text) => editor.feed(typeof text === 'string' ? encodeUtf8(text) : Uint8Array.from(text)),
  };
}

describe('console line editor', () => {
  it('echoes typed characters and ends lines on CR, LF and CRLF alike (CRLF is one line)', () => {
    const r = recorder();
    r.editor.prompt('> ');
    r.feed('ab\r');
    r.editor.prompt('> ');
    r.feed('cd\n');
    r.editor.prompt('> ');
    r.feed('ef\r\n');
    r.editor.prompt('> ');
    r.feed('\r');
    assert.deepEqual(r.lines, ['ab', 'cd', 'ef', '']);
    assert.equal(r.output(), '> ab\r\n> cd\r\n> ef\r\n> \r\n');
  });

  it('holds typeahead until the next prompt and keeps CRLF split across prompts as one line end', () => {
    const r = recorder();
    r.editor.prompt('> ');
    r.feed('one\r\ntwo\rthree');
    assert.deepEqual(r.lines, ['one'], 'the second line waits for the next prompt');
    r.editor.prompt('> ');
    assert.deepEqual(r.lines, ['one', 'two']);
    r.editor.prompt('> ');
    assert.equal(r.editor.line, 'three');
  });

  it('erases the last character on backspace and DEL, whole characters for multi-byte UTF-8', () => {
    const r = recorder();
    r.editor.prompt('');
    r.feed('héé');
    r.feed([0x7f]);
    r.feed([0x08]);
    r.feed('!\r');
    assert.deepEqual(r.lines, ['h!']);
    assert.ok(r.output().includes('\b \b\b \b'));
  });

  it('cancels the line on Ctrl-C and reports Ctrl-D only on an empty line', () => {
    const r = recorder();
    r.editor.prompt('> ');
    r.feed('abc\x03');
    assert.deepEqual(r.events, ['interrupt']);
    assert.ok(r.output().endsWith('^C\r\n'));
    r.editor.prompt('> ');
    r.feed('x\x04');
    assert.deepEqual(r.events, ['interrupt'], 'Ctrl-D on a non-empty line does nothing');
    r.feed([0x7f, 0x04]);
    assert.deepEqual(r.events, ['interrupt', 'eof']);
  });

  it('delivers Ctrl-C at once while no line is requested and drops the typeahead before it', () => {
    const r = recorder();
    r.editor.prompt('> ');
    r.feed('run\r');
    r.feed('typed ahead');
    r.feed([0x03]);
    assert.deepEqual(r.events, ['line:run', 'interrupt']);
    r.editor.prompt('> ');
    assert.equal(r.editor.line, '', 'the typeahead was flushed');
  });

  it('recalls history with ESC [ A/B and ESC O A/B, keeping the draft', () => {
    const r = recorder();
    for (const line of ['first', 'second']) {
      r.editor.prompt('> ');
      r.feed(`${line}\r`);
    }
    r.editor.prompt('> ');
    r.feed('dra');
    r.feed('\x1b[A');
    assert.equal(r.editor.line, 'second');
    r.feed('\x1bOA');
    assert.equal(r.editor.line, 'first');
    r.feed('\x1b[A');
    assert.equal(r.editor.line, 'first', 'no older line');
    assert.ok(r.output().includes('\x07'));
    r.feed('\x1bOB\x1b[B');
    assert.equal(r.editor.line, 'dra');
    assert.ok(r.output().includes('\r> second\x1b[K'));
  });

  it('does not echo or remember lines read without echo', () => {
    const r = recorder();
    r.editor.prompt('Password: ', { echo: false, history: false });
    r.feed('secret\r');
    assert.deepEqual(r.lines, ['secret']);
    assert.equal(r.output(), 'Password: \r\n');
    r.editor.prompt('> ');
    r.feed('\x1b[A');
    assert.equal(r.editor.line, '');
  });

  it('completes a unique word with a space, extends a common prefix, and lists ambiguous choices', () => {
    const r = recorder({
      maxLineLength: 100,
      complete: (line) => ({
        start: line.lastIndexOf(' ') + 1,
        candidates: ['podinterface', 'policy', 'agentinfo'],
      }),
    });
    r.editor.prompt('> ');
    r.feed('get a\t');
    assert.equal(r.editor.line, 'get agentinfo ');
    r.feed([0x15]);
    r.feed('p\t');
    assert.equal(r.editor.line, 'po', 'extended to the common prefix');
    assert.ok(!r.output().includes('podinterface  policy'));
    r.feed('\t');
    assert.equal(r.editor.line, 'po');
    assert.ok(r.output().includes('\r\npodinterface  policy\r\n> po'), 'the choices, then the line again');
    r.feed('d\t');
    assert.equal(r.editor.line, 'podinterface ');
  });

  it('rejects an over-long line with a message and ignores input up to the next line end', () => {
    const r = recorder({ maxLineLength: 5 });
    r.editor.prompt('> ');
    r.feed('abcdefgh\r');
    assert.deepEqual(r.lines, []);
    assert.match(r.output(), /Line too long: at most 5 characters/);
    r.feed('ok\r');
    assert.deepEqual(r.lines, ['ok']);
  });

  it('drops invalid UTF-8, C0/C1 controls and unknown escape sequences', () => {
    const r = recorder({ maxLineLength: 100 });
    r.editor.prompt('');
    r.feed([0x61, 0xff, 0xc3, 0x28, 0x62, 0x01, 0x1b, 0x5b, 0x31, 0x3b, 0x35, 0x43, 0xc2, 0x85, 0x63, 0x0d]);
    assert.deepEqual(r.lines, ['a(bc']);
  });

  it('holds at most maxTypeaheadBytes while no line is requested', () => {
    const r = recorder({ maxTypeaheadBytes: 4 });
    r.editor.prompt('');
    r.feed('x\rabcdefgh\r');
    r.editor.prompt('');
    assert.equal(r.editor.line, 'abcd');
    assert.equal(r.editor.droppedBytes, 5);
  });
});

/** A CSI sequence after its ESC. */
const CSI_AFTER_ESC = /^\[(\d*)([CDKHJ])/;

/**
 * Just enough of a VT100 to check redraws: printable characters, CR, LF, BS, ESC [ n C/D, ESC [ K, ESC [ H,
 * ESC [ 2 J; no wrapping (rows are long enough). Anything else fails the test, so the editor cannot send it.
 */
class Screen {
  rows: string[][] = [[]];
  row = 0;
  column = 0;

  write(text: string): void {
    let index = 0;
    while (index < text.length) {
      const char = text[index] ?? '';
      if (char === '\x1b') {
        const match = CSI_AFTER_ESC.exec(text.slice(index + 1));
        if (!match)
          throw new Error(`unexpected escape sequence ${JSON.stringify(text.slice(index, index + 8))}`);
        const count = Number(match[1] || '1');
        const row = this.current();
        if (match[2] === 'C') this.column += count;
        else if (match[2] === 'D') this.column = Math.max(0, this.column - count);
        else if (match[2] === 'K') row.length = Math.min(row.length, this.column);
        else if (match[2] === 'H') [this.row, this.column] = [0, 0];
        else if (match[1] === '2') this.rows = [[]];
        else throw new Error(`unexpected ${JSON.stringify(match[0])}`);
        index += 1 + match[0].length;
        continue;
      }
      if (char === '\r') this.column = 0;
      else if (char === '\n') {
        this.row++;
        if (this.rows.length <= this.row) this.rows.push([]);
      } else if (char === '\b') this.column = Math.max(0, this.column - 1);
      else if (char === '\x07') {
        // bell
      } else if (char < ' ') throw new Error(`unexpected control character ${char.charCodeAt(0)}`);
      else {
        const row = this.current();
        while (row.length < this.column) row.push(' ');
        row[this.column++] = char;
      }
      index++;
    }
  }

  private current(): string[] {
    const row = this.rows[this.row] ?? [];
    this.rows[this.row] = row;
    return row;
  }

  get cursorRow(): string {
    return (this.rows[this.row] ?? []).join('').trimEnd();
  }
}

function screenEditor(options: Partial<LineEditorOptions> = {}): Recorder & { screen: Screen } {
  const screen = new Screen();
  const r = recorder({ maxLineLength: 100, ...options, write: (text) => screen.write(text) });
  return { ...r, screen };
}

const LEFT = '\x1b[D';
const RIGHT = '\x1b[C';

describe('console line editor: editing in the line', () => {
  it('moves with the arrows (CSI and SS3) and inserts in the middle, re-printing the tail and moving back', () => {
    const r = recorder({ maxLineLength: 100 });
    r.editor.prompt('> ');
    r.feed('get pod');
    r.feed(`${LEFT}${LEFT}\x1bOD`);
    assert.equal(r.editor.cursor, 4);
    assert.ok(r.output().endsWith('\x1b[1D\x1b[1D\x1b[1D'));
    r.feed('X');
    assert.equal(r.editor.line, 'get Xpod');
    assert.ok(r.output().endsWith('Xpod\x1b[3D'), 'the tail is re-printed and the cursor moved back over it');
    r.feed(`${RIGHT}\x1bOC`);
    assert.equal(r.editor.cursor, 7);
    r.feed('\r');
    assert.deepEqual(r.lines, ['get Xpod'], 'the whole line is submitted wherever the cursor is');
  });

  it('goes to the start and the end with Home/End in every encoding and with Ctrl-A/Ctrl-E', () => {
    const r = recorder({ maxLineLength: 100 });
    r.editor.prompt('> ');
    r.feed('abc');
    for (const [home, end] of [
      ['\x1b[H', '\x1b[F'],
      ['\x1b[1~', '\x1b[4~'],
      ['\x1bOH', '\x1bOF'],
      ['\x1b[7~', '\x1b[8~'],
      ['\x01', '\x05'],
    ] as const) {
      r.feed(home);
      assert.equal(r.editor.cursor, 0, JSON.stringify(home));
      r.feed(end);
      assert.equal(r.editor.cursor, 3, JSON.stringify(end));
    }
    r.feed('\x01');
    assert.ok(r.output().endsWith('\x1b[3D'));
    r.feed('\x05');
    assert.ok(r.output().endsWith('\x1b[3C'));
  });

  it('moves one character with Ctrl-B/Ctrl-F and stops at both ends', () => {
    const r = recorder({ maxLineLength: 100 });
    r.editor.prompt('> ');
    r.feed('ab\x02\x02\x02');
    assert.equal(r.editor.cursor, 0);
    r.feed('\x06\x06\x06\x06');
    assert.equal(r.editor.cursor, 2);
  });

  it('deletes at the cursor with Delete (ESC [ 3 ~) and Ctrl-D, and backspaces in the middle', () => {
    const r = screenEditor();
    r.editor.prompt('> ');
    r.feed(`abcdef${LEFT}${LEFT}${LEFT}\x1b[3~`);
    assert.equal(r.editor.line, 'abcef');
    assert.equal(r.editor.cursor, 3);
    r.feed('\x04');
    assert.equal(r.editor.line, 'abcf');
    assert.deepEqual(r.events, [], 'Ctrl-D on a non-empty line deletes, it does not log out');
    r.feed('\x7f');
    assert.equal(r.editor.line, 'abf');
    assert.equal(r.screen.cursorRow, '> abf');
    assert.equal(r.screen.column, 2 + 2);
    r.feed('\x05\x1b[3~');
    assert.equal(r.editor.line, 'abf', 'Delete at the end does nothing');
  });

  it('kills to the end (Ctrl-K), to the start (Ctrl-U) and the word before the cursor (Ctrl-W), and yanks (Ctrl-Y)', () => {
    const r = screenEditor();
    r.editor.prompt('> ');
    r.feed(`get podinterface web -n default${'\x1b[D'.repeat(11)}`);
    r.feed('\x0b');
    assert.equal(r.editor.line, 'get podinterface web');
    assert.equal(r.screen.cursorRow, '> get podinterface web');
    r.feed('\x17');
    assert.equal(r.editor.line, 'get podinterface ');
    r.feed('\x17');
    assert.equal(r.editor.line, 'get ');
    assert.equal(r.screen.cursorRow, '> get');
    r.feed('\x19');
    assert.equal(r.editor.line, 'get podinterface ', 'Ctrl-Y brings back what Ctrl-W removed');
    r.feed(`${LEFT}${LEFT}\x15`);
    assert.equal(r.editor.line, 'e ');
    assert.equal(r.editor.cursor, 0);
    assert.equal(r.screen.cursorRow, '> e');
    assert.equal(r.screen.column, 2);
  });

  it('moves and deletes by words with Ctrl-Left/Right, Alt-B/F, Alt-D and Alt-Backspace', () => {
    const r = screenEditor();
    r.editor.prompt('> ');
    r.feed('one two three');
    r.feed('\x1b[1;5D');
    assert.equal(r.editor.cursor, 8);
    r.feed('\x1bb');
    assert.equal(r.editor.cursor, 4);
    r.feed('\x1b[1;5C');
    assert.equal(r.editor.cursor, 7);
    r.feed('\x1bf');
    assert.equal(r.editor.cursor, 13);
    r.feed('\x1b\x7f');
    assert.equal(r.editor.line, 'one two ');
    r.feed('\x01\x1bd');
    assert.equal(r.editor.line, ' two ');
    assert.equal(r.screen.cursorRow, '>  two');
  });

  it('redraws the prompt and the line on Ctrl-L with the cursor where it was', () => {
    const r = screenEditor();
    r.editor.prompt('admin@edge> ');
    r.feed(`show system${LEFT}${LEFT}`);
    r.screen.write('\r\nsome log noise\r\n');
    r.feed('\x0c');
    assert.deepEqual(r.screen.rows[0]?.join(''), 'admin@edge> show system');
    assert.equal(r.screen.rows.length, 1, 'the screen was cleared first');
    assert.equal(r.screen.column, 'admin@edge> show syst'.length);
  });

  it('puts the cursor at the end of a recalled line', () => {
    const r = screenEditor();
    r.editor.prompt('> ');
    r.feed('get agentinfo\r');
    r.editor.prompt('> ');
    r.feed(`draft${LEFT}${LEFT}\x1b[A`);
    assert.equal(r.editor.line, 'get agentinfo');
    assert.equal(r.editor.cursor, 13);
    assert.equal(r.screen.cursorRow, '> get agentinfo');
    assert.equal(r.screen.column, 15);
    r.feed('\x1b[B');
    assert.equal(r.editor.line, 'draft');
    assert.equal(r.editor.cursor, 5, 'the draft comes back with the cursor at its end');
  });

  it('completes the word before the cursor and keeps the text after it', () => {
    const seen: string[] = [];
    const r = screenEditor({
      complete: (line) => {
        seen.push(line);
        return { start: line.lastIndexOf(' ') + 1, candidates: ['podinterface', 'agentinfo'] };
      },
    });
    r.editor.prompt('> ');
    r.feed(`get p -n default${'\x1b[D'.repeat(11)}\t`);
    assert.deepEqual(seen, ['get p'], 'the completer sees the text before the cursor');
    assert.equal(r.editor.line, 'get podinterface -n default', 'no second space before the existing one');
    assert.equal(r.editor.cursor, 'get podinterface'.length);
    assert.equal(r.screen.cursorRow, '> get podinterface -n default');
    assert.equal(r.screen.column, 2 + 'get podinterface'.length);
  });

  it('keeps the cursor at the end of a password: arrows do nothing, and killed text is not yanked back', () => {
    const r = recorder({ maxLineLength: 100 });
    r.editor.prompt('Password: ', { echo: false, history: false });
    r.feed(`secret${LEFT}${LEFT}!\x15pass\x7fs\r`);
    assert.deepEqual(r.lines, ['pass']);
    assert.equal(r.output(), 'Password: \r\n', 'nothing of the password or the cursor moves is shown');
    r.editor.prompt('> ');
    r.feed('\x19\r');
    assert.deepEqual(r.lines, ['pass', ''], 'Ctrl-Y does not bring back a killed password');
  });

  it('counts East Asian wide characters as two columns', () => {
    const r = recorder({ maxLineLength: 100 });
    r.editor.prompt('> ');
    r.feed(`a漢b${LEFT}${LEFT}`);
    assert.ok(r.output().endsWith('\x1b[1D\x1b[2D'));
    r.feed('\x1b[3~');
    assert.equal(r.editor.line, 'ab');
    assert.ok(r.output().endsWith('b\x1b[K\x1b[1D'));
  });

  it('refuses an insertion in the middle that would make the line too long', () => {
    const r = recorder({ maxLineLength: 4 });
    r.editor.prompt('> ');
    r.feed(`abcd${LEFT}x`);
    assert.match(r.output(), /Line too long/);
    r.feed('\rok\r');
    assert.deepEqual(r.lines, ['ok']);
  });

  it('keeps the screen equal to the prompt and the line after random editing keys', () => {
    let state = 7;
    const random = (): number => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    const keys = [
      'a',
      'b',
      ' ',
      'xy z',
      LEFT,
      RIGHT,
      '\x1b[H',
      '\x1b[F',
      '\x1b[3~',
      '\x7f',
      '\x01',
      '\x05',
      '\x02',
      '\x06',
      '\x0b',
      '\x15',
      '\x17',
      '\x19',
      '\x1bb',
      '\x1bf',
      '\x1bd',
      '\x1b\x7f',
      '\x1b[1;5D',
      '\x1b[1;5C',
      '\x0c',
      '\x04',
      '\x1b[A',
      '\x1b[B',
      '\t',
    ];
    const r = screenEditor({
      maxLineLength: 60,
      complete: (line) => ({ start: line.search(/\S*$/), candidates: ['apply', 'agentinfo', 'bb'] }),
    });
    for (let round = 0; round < 300; round++) {
      r.editor.prompt('$ ');
      for (let step = 0; step < 40; step++) {
        r.feed(keys[Math.floor(random() * keys.length)] ?? '');
        if (!r.editor.reading) break;
        const expected = `$ ${r.editor.line}`;
        assert.equal(r.screen.cursorRow, expected.trimEnd(), `round ${round} step ${step}`);
        assert.equal(r.screen.column, 2 + r.editor.cursor, `round ${round} step ${step}`);
      }
      r.feed('\r');
    }
  });
});

describe('console utf-8 decoder and word splitting', () => {
  it('decodes all valid lengths and rejects overlong forms and surrogates', () => {
    const decoder = new Utf8Decoder();
    const decode = (bytes: number[]): number[] =>
      bytes.map((byte) => decoder.push(byte)).filter((cp): cp is number => cp !== undefined);
    assert.deepEqual(decode([...encodeUtf8('aé€😀')]), [0x61, 0xe9, 0x20ac, 0x1f600]);
    assert.deepEqual(decode([0xe0, 0x80, 0xaf]), [], 'overlong "/"');
    assert.deepEqual(decode([0xed, 0xa0, 0x80]), [], 'surrogate');
    assert.deepEqual(decode([0xe2, 0x82, 0x61]), [0x61], 'resynchronises on the byte that broke a sequence');
  });

  it('splits words with quotes and backslashes, and reports an unterminated quote', () => {
    assert.deepEqual(splitWords(`label pod "default/my pod" 'a=b c' x\\ y`), {
      words: ['label', 'pod', 'default/my pod', 'a=b c', 'x y'],
    });
    assert.deepEqual(splitWords('  '), { words: [] });
    assert.deepEqual(splitWords('a ""'), { words: ['a', ''] });
    assert.deepEqual(splitWords('get "x'), { error: 'unterminated double quote' });
  });
});
