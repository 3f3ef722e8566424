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
