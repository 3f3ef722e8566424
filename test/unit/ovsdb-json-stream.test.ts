import assert from 'node:assert/strict';
import {
  JsonStreamError,
  JsonStreamFramer,
  type JsonStreamErrorCode,
} from '../../firmware/ovs/ovsdb/json-stream';

interface Collected {
  framer: JsonStreamFramer;
  values: unknown[];
  errors: JsonStreamError[];
}

function collect(maxMessageBytes?: number): Collected {
  const values: unknown[] = [];
  const errors: JsonStreamError[] = [];
  const framer = new JsonStreamFramer({
    onValue: (v) => values.push(v),
    onError: (e) => errors.push(e),
    maxMessageBytes,
  });
  return { framer, values, errors };
}

const enc = new TextEncoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

function codes(errors: JsonStreamError[]): JsonStreamErrorCode[] {
  return errors.map((e) => e.code);
}

// Messages shaped like ovsdb-server's, with the characters that could confuse a naive splitter.
const MESSAGES: unknown[] = [
  { id: 1, result: ['Open_vSwitch', '_Server'], error: null },
  {
    id: null,
    method: 'update',
    params: ['m1', { Interface: { 'a-b': { new: { name: 'br{0}', options: ['map', []] } } } }],
  },
  { id: 'echo', method: 'echo', params: [] },
  {
    id: 2,
    result: [{ rows: [{ external_ids: ['map', [['note', 'quote " brace } bracket ] back \\ slash']]] }] }],
    error: null,
  },
  { id: 3, result: [{ details: 'multi-byte: é ü 中文 🚀 and \u0001 control', error: 'x' }], error: null },
  [1, [2, [3, { deep: [[[]]] }]]],
];

describe('JsonStreamFramer', () => {
  it('splits values written back to back with no delimiter', () => {
    const { framer, values, errors } = collect();
    framer.push(bytes(MESSAGES.map((m) => JSON.stringify(m)).join('')));
    assert.deepEqual(values, MESSAGES);
    assert.deepEqual(errors, []);
    assert.equal(framer.bufferedBytes, 0);
  });

  it('accepts whitespace and newlines between values', () => {
    const { framer, values, errors } = collect();
    framer.push(bytes(' \n{"a":1}\r\n\t  {"b":2}\n'));
    assert.deepEqual(values, [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(errors, []);
  });

  it('reassembles a stream split at every byte offset, including inside multi-byte characters', () => {
    const stream = bytes(MESSAGES.map((m) => JSON.stringify(m)).join(''));
    for (let cut = 1; cut < stream.length; cut++) {
      const { framer, values, errors } = collect();
      framer.push(stream.subarray(0, cut));
      framer.push(stream.subarray(cut));
      assert.deepEqual(values, MESSAGES, `split at ${cut}`);
      assert.deepEqual(errors, [], `split at ${cut}`);
    }
  });

  it('reassembles a stream fed one byte at a time', () => {
    const stream = bytes(MESSAGES.map((m) => JSON.stringify(m)).join(''));
    const { framer, values, errors } = collect();
    for (let i = 0; i < stream.length; i++) framer.push(stream.subarray(i, i + 1));
    assert.deepEqual(values, MESSAGES);
    assert.deepEqual(errors, []);
  });

  it('decodes a 4-byte UTF-8 character split across three chunks', () => {
    const stream = bytes('{"s":"🚀"}');
    const rocketStart = stream.indexOf(0xf0);
    const { framer, values, errors } = collect();
    framer.push(stream.subarray(0, rocketStart + 1));
    framer.push(stream.subarray(rocketStart + 1, rocketStart + 3));
    framer.push(stream.subarray(rocketStart + 3));
    assert.deepEqual(values, [{ s: '🚀' }]);
    assert.deepEqual(errors, []);
  });

  it('does not end a value at braces or brackets inside strings, nor at escaped quotes', () => {
    const { framer, values, errors } = collect();
    const tricky = { a: '}}}]]]', b: '\\', c: '\\"}', d: '{"nested": "json"}', e: '"' };
    const text = JSON.stringify(tricky);
    framer.push(bytes(text.slice(0, text.length - 1)));
    assert.deepEqual(values, []);
    framer.push(bytes(text.slice(text.length - 1)));
    assert.deepEqual(values, [tricky]);
    assert.deepEqual(errors, []);
  });

  it('keeps the caller buffer reusable: bytes of a partial value are copied', () => {
    const { framer, values } = collect();
    const chunk = bytes('{"abc":');
    framer.push(chunk);
    chunk.fill(0x20);
    framer.push(bytes('"xyz"}'));
    assert.deepEqual(values, [{ abc: 'xyz' }]);
  });

  it('drops garbage before a value and reports how many bytes it dropped', () => {
    const { framer, values, errors } = collect();
    framer.push(bytes('HTTP/1.1 400{"id":1}'));
    assert.deepEqual(values, [{ id: 1 }]);
    assert.deepEqual(codes(errors), ['JSON_STREAM_GARBAGE']);
    assert.equal(errors[0]?.droppedBytes, 'HTTP/1.1 400'.length);
  });

  it('reports garbage at the end of a push even when no value follows yet, then recovers', () => {
    const { framer, values, errors } = collect();
    framer.push(bytes('xyz'));
    assert.deepEqual(codes(errors), ['JSON_STREAM_GARBAGE']);
    framer.push(bytes('  {"ok":true}'));
    assert.deepEqual(values, [{ ok: true }]);
  });

  it('drops a value that JSON.parse rejects and continues with the next one', () => {
    const { framer, values, errors } = collect();
    framer.push(bytes('{"a":tru}{"b":2}[1,,2]{"c":3}'));
    assert.deepEqual(values, [{ b: 2 }, { c: 3 }]);
    assert.deepEqual(codes(errors), ['JSON_STREAM_SYNTAX', 'JSON_STREAM_SYNTAX']);
    assert.equal(errors[0]?.droppedBytes, '{"a":tru}'.length);
  });

  it('resynchronises after a mismatched closing bracket', () => {
    const { framer, values, errors } = collect();
    framer.push(bytes('{"a":[1}]}{"b":2}'));
    assert.deepEqual(values, [{ b: 2 }]);
    assert.equal(errors[0]?.code, 'JSON_STREAM_SYNTAX');
    assert.match(errors[0]?.message ?? '', /mismatched/);
  });

  it('resynchronises after a stray quote opens a string that never closes on this line', () => {
    const { framer, values, errors } = collect();
    // The raw newline cannot be inside a valid string: the framer gives up on the value at once.
    framer.push(bytes('{"a": "unterminated\n{"b":2}'));
    assert.deepEqual(values, [{ b: 2 }]);
    assert.equal(errors[0]?.code, 'JSON_STREAM_SYNTAX');
  });

  it('reports invalid UTF-8 inside a value', () => {
    const { framer, values, errors } = collect();
    framer.push(Uint8Array.of(...bytes('{"a":"'), 0xc3, 0x28, ...bytes('"}{"b":1}')));
    assert.deepEqual(values, [{ b: 1 }]);
    assert.deepEqual(codes(errors), ['JSON_STREAM_ENCODING']);
  });

  it('skips a value longer than maxMessageBytes without buffering it, then parses the next one', () => {
    const { framer, values, errors } = collect(64);
    const big = JSON.stringify({ pad: 'x'.repeat(500), nested: { id: 5, a: [1, 2, { b: '{' }] } });
    for (let i = 0; i < big.length; i += 7) {
      framer.push(bytes(big.slice(i, i + 7)));
      assert.ok(framer.bufferedBytes <= 64, `buffer grew to ${framer.bufferedBytes}`);
    }
    framer.push(bytes('{"small":true}'));
    assert.deepEqual(values, [{ small: true }]);
    assert.deepEqual(codes(errors), ['JSON_STREAM_OVERSIZE']);
  });

  it('bounds memory when a corrupt stream never closes its value; reset() recovers', () => {
    const { framer, values, errors } = collect(100);
    framer.push(bytes('{"a":['));
    for (let i = 0; i < 100; i++) {
      framer.push(bytes('1,'.repeat(10)));
      assert.ok(framer.bufferedBytes <= 100, `buffer grew to ${framer.bufferedBytes}`);
    }
    assert.deepEqual(values, []);
    assert.deepEqual(codes(errors), ['JSON_STREAM_OVERSIZE']);
    framer.reset();
    framer.push(bytes('{"next":1}'));
    assert.deepEqual(values, [{ next: 1 }]);
  });

  it('never throws out of push(), even when the value and error callbacks throw', () => {
    let delivered = 0;
    const framer = new JsonStreamFramer({
      onValue: () => {
        delivered++;
        throw new Error('consumer bug');
      },
      onError: () => {
        throw new Error('reporter bug');
      },
    });
    assert.doesNotThrow(() => framer.push(bytes('{"a":1}garbage{"b":2}{bad}')));
    assert.equal(delivered, 2);
  });

  it('reports a throwing value callback as JSON_STREAM_HANDLER and keeps going', () => {
    const errors: JsonStreamError[] = [];
    const seen: unknown[] = [];
    const framer = new JsonStreamFramer({
      onValue: (v) => {
        seen.push(v);
        if ((v as { a?: number }).a === 1) throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    framer.push(bytes('{"a":1}{"a":2}'));
    assert.deepEqual(seen, [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(codes(errors), ['JSON_STREAM_HANDLER']);
    assert.ok(errors[0] instanceof JsonStreamError);
  });

  it('reset() forgets a partial value', () => {
    const { framer, values, errors } = collect();
    framer.push(bytes('{"half":'));
    assert.ok(framer.bufferedBytes > 0);
    framer.reset();
    assert.equal(framer.bufferedBytes, 0);
    framer.push(bytes('{"whole":1}'));
    assert.deepEqual(values, [{ whole: 1 }]);
    assert.deepEqual(errors, []);
  });
});
