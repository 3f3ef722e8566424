import assert from 'node:assert/strict';
import type { OpenFlowCodecError } from '../../firmware/core/openflow/errors';
import { OpenFlowFramer } from '../../firmware/core/openflow/framer';
import { decodeMessage, encodeMessage } from '../../firmware/core/openflow/messages';

const echo = (xid: number, size: number): Uint8Array =>
  encodeMessage({
    type: 'echo-request',
    xid,
    data: Uint8Array.from({ length: size }, (_, i) => (i * 7 + xid) & 0xff),
  });

function collect(): { framer: OpenFlowFramer; messages: Uint8Array[]; errors: OpenFlowCodecError[] } {
  const messages: Uint8Array[] = [];
  const errors: OpenFlowCodecError[] = [];
  const framer = new OpenFlowFramer({ onMessage: (m) => messages.push(m), onError: (e) => errors.push(e) });
  return { framer, messages, errors };
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

describe('openflow framer', () => {
  it('splits back-to-back messages at every possible chunk boundary', () => {
    const stream = concat(
      echo(1, 0),
      echo(2, 100),
      echo(3, 5),
      encodeMessage({ type: 'barrier-reply', xid: 4 }),
    );
    for (let cut = 0; cut <= stream.length; cut++) {
      const { framer, messages, errors } = collect();
      framer.push(stream.subarray(0, cut));
      framer.push(stream.subarray(cut));
      assert.deepEqual(
        messages.map((m) => new DataView(m.buffer, m.byteOffset).getUint32(4)),
        [1, 2, 3, 4],
        `cut at ${cut}`,
      );
      assert.equal(errors.length, 0);
      assert.equal(framer.bufferedBytes, 0);
    }
  });

  it('delivers a message fed one byte at a time, as a copy independent of the input buffer', () => {
    const { framer, messages } = collect();
    const message = echo(9, 40);
    const scratch = new Uint8Array(1);
    for (const byte of message) {
      scratch[0] = byte;
      framer.push(scratch);
    }
    assert.equal(messages.length, 1);
    assert.deepEqual(messages[0], message);
    const decoded = decodeMessage(messages[0]);
    assert.ok(decoded.ok && decoded.message.xid === 9);
  });

  it('copies out of a Node Buffer: later changes to the socket chunk do not reach a delivered message', () => {
    const { framer, messages } = collect();
    const chunk = Buffer.from(concat(echo(1, 4), echo(2, 4)));
    framer.push(chunk);
    chunk.fill(0);
    assert.equal(messages.length, 2);
    assert.equal(Buffer.isBuffer(messages[0]), false);
    assert.deepEqual(messages[1], echo(2, 4));
  });

  it('drops garbage between messages, reports it once with the byte count, and resynchronises', () => {
    const { framer, messages, errors } = collect();
    const garbage = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x07, 0x99]);
    framer.push(concat(echo(1, 3), garbage, echo(2, 3)));
    assert.deepEqual(
      messages.map((m) => m[7]),
      [1, 2],
    );
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, 'OPENFLOW_GARBAGE');
    assert.equal(errors[0]?.droppedBytes, garbage.length);
  });

  it('skips headers with another version than the stream, an undefined type or an impossible length', () => {
    const { framer, messages, errors } = collect();
    framer.push(echo(1, 0)); // the stream is OpenFlow 1.5 from here on
    framer.push(Uint8Array.from([0x07, 0x00, 0x00, 0x08, 0, 0, 0, 0])); // version 7
    framer.push(Uint8Array.from([0x06, 0x63, 0x00, 0x08, 0, 0, 0, 0])); // type 99
    framer.push(Uint8Array.from([0x06, 0x02, 0x00, 0x04, 0, 0, 0, 0])); // length 4
    framer.push(Uint8Array.from([0x06, 0x15, 0x00, 0x10, 0, 0, 0, 0])); // a 16-byte BARRIER_REPLY
    framer.push(Uint8Array.from([0x04, 0x02, 0x00, 0x08, 0, 0, 0, 0])); // OpenFlow 1.3 inside a 1.5 stream
    framer.push(echo(5, 0));
    assert.deepEqual(
      messages.map((m) => m[7]),
      [1, 5],
    );
    assert.equal(
      errors.reduce((n, e) => n + e.droppedBytes, 0),
      40,
    );
  });

  it('keeps going when the message handler throws, and reports it', () => {
    const errors: OpenFlowCodecError[] = [];
    const seen: number[] = [];
    const framer = new OpenFlowFramer({
      onMessage: (m) => {
        seen.push(m[7]!);
        if (m[7] === 1) throw new Error('handler bug');
      },
      onError: (e) => errors.push(e),
    });
    framer.push(concat(echo(1, 0), echo(2, 0)));
    assert.deepEqual(seen, [1, 2]);
    assert.equal(errors[0]?.code, 'OPENFLOW_HANDLER');
  });

  it('survives an error reporter that throws', () => {
    const framer = new OpenFlowFramer({
      onMessage: () => undefined,
      onError: () => {
        throw new Error('reporter bug');
      },
    });
    assert.doesNotThrow(() =>
      framer.push(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
    );
  });

  it('forgets a partial message on reset()', () => {
    const { framer, messages } = collect();
    const message = echo(3, 20);
    framer.push(message.subarray(0, 10));
    assert.equal(framer.bufferedBytes, 10);
    framer.reset();
    assert.equal(framer.bufferedBytes, 0);
    framer.push(echo(4, 0));
    assert.deepEqual(
      messages.map((m) => m[7]),
      [4],
    );
  });

  it('accepts only the configured versions', () => {
    const messages: Uint8Array[] = [];
    const framer = new OpenFlowFramer({
      onMessage: (m) => messages.push(m),
      onError: () => undefined,
      versions: [6],
    });
    const v4 = echo(1, 0);
    v4[0] = 4;
    framer.push(concat(v4, echo(2, 0)));
    assert.deepEqual(
      messages.map((m) => m[7]),
      [2],
    );
  });
});
