// The OpenFlow codec against bytes captured from OVS 3.1 (test/fixtures/openflow/capture-ovs-messages.ts):
// what ovs-vswitchd sends to a controller, and what ovs-ofctl sends to a switch.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NxPacketIn2Prop, OfpPort, PacketInReason } from '../../firmware/core/openflow/constants';
import { errorCodeName, errorTypeName } from '../../firmware/core/openflow/errors';
import {
  NO_COOKIE,
  decodeMessage,
  encodeMessage,
  packetOutMessage,
  setFieldAction,
  type OpenFlowMessage,
  type PacketIn2Message,
} from '../../firmware/core/openflow/messages';
import {
  decodeOxmFields,
  inPortField,
  readPacketMetadata,
  tunnelIpv4DstField,
} from '../../firmware/core/openflow/oxm';
import { parseFrame } from '../../firmware/core/packets/frame';

interface Fixture {
  name: string;
  description: string;
  hex: string;
}

const fixtures = new Map(
  (
    JSON.parse(
      fs.readFileSync(path.join(__dirname, '../fixtures/openflow/ovs-3.1-messages.json'), 'utf8'),
    ) as { fixtures: Fixture[] }
  ).fixtures.map((f) => [f.name, Uint8Array.from(Buffer.from(f.hex, 'hex'))]),
);

function fixture(name: string): Uint8Array {
  const bytes = fixtures.get(name);
  assert.ok(bytes, `fixture ${name}`);
  return bytes;
}

function decode(bytes: Uint8Array): OpenFlowMessage {
  const result = decodeMessage(bytes);
  if (!result.ok) throw result.error;
  return result.message;
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('openflow codec: messages captured from OVS 3.1', () => {
  it('decodes the switch HELLO (no version bitmap) and FEATURES_REPLY', () => {
    assert.deepEqual(decode(fixture('switch-hello')), { type: 'hello', xid: 13, version: 6, versions: [] });
    const features = decode(fixture('features-reply'));
    assert.equal(features.type, 'features-reply');
    if (features.type !== 'features-reply') return;
    assert.equal(features.datapathId, 0x0000c2711fdbb043n);
    assert.equal(features.nTables, 254);
    assert.equal(features.nBuffers, 0);
    assert.equal(features.capabilities, 0x24f);
  });

  it('decodes ECHO, GET_CONFIG and BARRIER replies', () => {
    const echo = decode(fixture('echo-reply'));
    assert.equal(echo.type, 'echo-reply');
    assert.equal(echo.type === 'echo-reply' && Buffer.from(echo.data).toString(), 'ping');
    assert.deepEqual(decode(fixture('get-config-reply')), {
      type: 'get-config-reply',
      xid: 7,
      flags: 0,
      missSendLength: 0xffff,
    });
    assert.deepEqual(decode(fixture('barrier-reply')), { type: 'barrier-reply', xid: 11 });
  });

  it('decodes ERRORs and names their type and code', () => {
    const cases: [string, number, string, string][] = [
      ['error-bad-packet-in-format', 8, 'OFPET_BAD_REQUEST', 'OFPBRC_EPERM'],
      ['error-bad-type', 9, 'OFPET_BAD_REQUEST', 'OFPBRC_BAD_TYPE'],
      ['error-bad-packet-out-port', 10, 'OFPET_BAD_REQUEST', 'OFPBRC_BAD_PORT'],
    ];
    for (const [name, xid, typeName, codeName] of cases) {
      const error = decode(fixture(name));
      assert.equal(error.type, 'error', name);
      if (error.type !== 'error') continue;
      assert.equal(error.xid, xid);
      assert.equal(errorTypeName(error.errorType), typeName, name);
      assert.equal(errorCodeName(error.errorType, error.errorCode), codeName, name);
      // OVS quotes the start of the failed request: its header carries the same xid.
      assert.equal(new DataView(error.data.buffer, error.data.byteOffset).getUint32(4), xid);
    }
    assert.equal(errorCodeName(2, 4), 'OFPBAC_BAD_OUT_PORT');
    assert.equal(errorCodeName(2, 99), 'OFPBAC_99');
    assert.equal(errorTypeName(0xffff), 'OFPET_EXPERIMENTER');
  });

  it('decodes NXT_PACKET_IN2 of a TCP SYN: frame, table, cookie, reason, in_port, registers, userdata', () => {
    const message = decode(fixture('packet-in2-tcp-syn'));
    assert.equal(message.type, 'nx-packet-in2');
    const pin = message;
    assert.equal(pin.tableId, 45);
    assert.equal(pin.cookie, 0x0600000000001234n);
    assert.equal(pin.reason, PacketInReason.NoMatch);
    assert.equal(pin.packet.length, 74);
    assert.equal(pin.fullLength, 74);
    assert.equal(toHex(pin.userdata ?? new Uint8Array()), '0100001234');
    const meta = readPacketMetadata(pin.metadata);
    assert.equal(meta.inPort, 1);
    // xreg0 = reg0 << 32 | reg1; xreg1 arrives masked (reg2 is zero): only reg3 is set.
    assert.deepEqual(meta.registers.slice(0, 5), [2, 0xabcd, 0, 0x55, 0]);
    assert.equal(pin.metadata.length, 3);
    assert.deepEqual(pin.metadata[2]?.mask && toHex(pin.metadata[2].mask), '00000000ffffffff');
    const frame = parseFrame(pin.packet);
    assert.ok(frame.ok && frame.frame.kind === 'ipv4' && frame.frame.payload.kind === 'tcp');
    assert.equal(frame.frame.payload.dstPort, 8080);
  });

  it('decodes NXT_PACKET_IN2 of a UDP datagram from table 0 (cookie 0, no registers)', () => {
    const pin = decode(fixture('packet-in2-udp')) as PacketIn2Message;
    assert.equal(pin.type, 'nx-packet-in2');
    assert.equal(pin.tableId, 0);
    assert.equal(pin.cookie, 0n);
    assert.equal(toHex(pin.userdata ?? new Uint8Array()), '010000002b');
    assert.deepEqual(readPacketMetadata(pin.metadata).registers, new Array(16).fill(0));
    assert.equal(readPacketMetadata(pin.metadata).inPort, 1);
    assert.equal(pin.packet.length, 47);
  });

  it('re-encodes both packet-ins byte for byte', () => {
    for (const name of ['packet-in2-tcp-syn', 'packet-in2-udp']) {
      assert.equal(toHex(encodeMessage(decode(fixture(name)))), toHex(fixture(name)), name);
    }
  });

  it('encodes PACKET_OUT exactly as ovs-ofctl does (in_port=CONTROLLER + output:1, in_port=2 + IN_PORT)', () => {
    for (const [name, target] of [
      ['ofctl-packet-out-controller', { outPort: 1 }],
      ['ofctl-packet-out-in-port', { inPort: 2, outPort: 'IN_PORT' }],
    ] as const) {
      const captured = fixture(name);
      const ofctl = decode(captured);
      assert.equal(ofctl.type, 'packet-out');
      if (ofctl.type !== 'packet-out') continue;
      const ours = encodeMessage(packetOutMessage(ofctl.xid, ofctl.packet, target));
      assert.equal(toHex(ours), toHex(captured), name);
    }
    const decoded = decode(fixture('ofctl-packet-out-controller'));
    assert.ok(decoded.type === 'packet-out');
    assert.deepEqual(decoded.actions, [{ type: 'output', port: 1, maxLength: 0 }]);
    assert.equal(readPacketMetadata(decoded.match).inPort, OfpPort.Controller);
  });

  it('encodes SET_CONFIG and NXT_SET_PACKET_IN_FORMAT exactly as ovs-ofctl monitor does', () => {
    const setConfig = fixture('ofctl-set-config');
    assert.equal(
      toHex(encodeMessage({ type: 'set-config', xid: 3, flags: 0, missSendLength: 0xffff })),
      toHex(setConfig),
    );
    const format = fixture('ofctl-set-packet-in-format');
    assert.equal(toHex(encodeMessage({ type: 'nx-set-packet-in-format', xid: 5, format: 2 })), toHex(format));
  });
});

describe('openflow codec: round trips and layouts', () => {
  const messages: OpenFlowMessage[] = [
    { type: 'hello', xid: 1, version: 6, versions: [6] },
    { type: 'hello', xid: 2, version: 6, versions: [1, 4, 5, 6] },
    { type: 'hello', xid: 3, version: 6, versions: [] },
    { type: 'error', xid: 4, version: 6, errorType: 2, errorCode: 4, data: Uint8Array.of(6, 13, 0, 8) },
    {
      type: 'error',
      xid: 5,
      version: 6,
      errorType: 0xffff,
      errorCode: 7,
      experimenter: 0x2320,
      data: new Uint8Array(),
    },
    { type: 'echo-request', xid: 6, data: Uint8Array.of(1, 2, 3) },
    { type: 'echo-reply', xid: 7, data: new Uint8Array() },
    { type: 'features-request', xid: 8 },
    {
      type: 'features-reply',
      xid: 9,
      datapathId: 0xfedcba9876543210n,
      nBuffers: 0,
      nTables: 254,
      auxiliaryId: 0,
      capabilities: 0x4f,
    },
    { type: 'get-config-request', xid: 10 },
    { type: 'set-config', xid: 11, flags: 0, missSendLength: 0xffff },
    { type: 'barrier-request', xid: 12 },
    { type: 'barrier-reply', xid: 13 },
    { type: 'nx-set-packet-in-format', xid: 14, format: 2 },
    { type: 'nx-set-controller-id', xid: 15, controllerId: 0xabcd },
    {
      type: 'nx-packet-in2',
      xid: 0,
      packet: Uint8Array.from({ length: 61 }, (_, i) => i),
      fullLength: 1500,
      bufferId: 77,
      tableId: 89,
      cookie: NO_COOKIE,
      reason: 1,
      metadata: [
        inPortField(3),
        ...decodeOxmFields(Uint8Array.of(0x80, 0x01, 0x02, 0x08, 0, 0, 0, 1, 0, 0, 0, 2), 't'),
      ],
      userdata: Uint8Array.of(2, 0, 0, 0, 9),
      continuation: Uint8Array.of(0x80, 0x00, 0x00, 0x04),
    },
    {
      type: 'packet-in',
      xid: 0,
      packet: Uint8Array.of(1, 2, 3),
      fullLength: 3,
      bufferId: 0xffffffff,
      tableId: 0,
      cookie: 5n,
      reason: 0,
      metadata: [inPortField(1)],
    },
    {
      type: 'packet-out',
      xid: 16,
      bufferId: 0xffffffff,
      match: [inPortField(OfpPort.Controller)],
      actions: [
        { type: 'output', port: 7, maxLength: 0 },
        {
          type: 'unknown',
          actionType: 0xffff,
          body: Uint8Array.of(0, 0, 0x23, 0x20, 0, 1, 0, 0, 0, 0, 0, 0),
        },
      ],
      packet: Uint8Array.of(9, 9, 9),
    },
    { type: 'unknown', xid: 17, version: 6, ofpType: 12, body: Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0) },
    {
      type: 'unknown',
      xid: 18,
      version: 6,
      ofpType: 4,
      experimenter: 0x2320,
      experimenterType: 99,
      body: Uint8Array.of(1),
    },
  ];

  it('decodes every encoded message to the same value', () => {
    for (const message of messages) {
      const bytes = encodeMessage(message);
      assert.equal(new DataView(bytes.buffer).getUint16(2), bytes.length, `${message.type} length field`);
      assert.deepEqual(decode(bytes), message, message.type);
    }
  });

  it('writes the HELLO version bitmap element (type 1, length 8, bit 6 = OpenFlow 1.5)', () => {
    assert.equal(
      toHex(encodeMessage({ type: 'hello', xid: 1, version: 6, versions: [6] })),
      '0600001000000001' + '0001000800000040',
    );
  });

  it('lays NXT_PACKET_IN2 properties out on 8-byte boundaries with the cookie 8-byte aligned', () => {
    const bytes = encodeMessage({
      type: 'nx-packet-in2',
      xid: 0,
      packet: Uint8Array.of(0xaa),
      fullLength: 1,
      bufferId: 0xffffffff,
      tableId: 45,
      cookie: 0x1234n,
      reason: 0,
      metadata: [],
    });
    assert.equal(bytes.length % 8, 0);
    // After the 16-byte NX header: packet (len 5 + 3 pad), table_id (len 5 + 3 pad), cookie (4 pad + be64).
    assert.equal(
      toHex(bytes.subarray(16, 24)),
      `${NxPacketIn2Prop.Packet.toString(16).padStart(4, '0')}0005aa000000`,
    );
    assert.equal(toHex(bytes.subarray(24, 32)), '000300052d000000');
    assert.equal(toHex(bytes.subarray(32, 48)), '00040010000000000000000000001234');
  });

  it('never throws on any truncation or corruption of real messages, and reports typed errors', () => {
    let errors = 0;
    for (const [name, bytes] of fixtures) {
      for (let length = 0; length < bytes.length; length++) {
        const cut = bytes.slice(0, length);
        if (length >= 4) new DataView(cut.buffer).setUint16(2, length); // keep the header consistent
        const result = decodeMessage(cut);
        if (!result.ok) {
          errors++;
          assert.match(result.error.code, /^OPENFLOW_/, `${name} cut at ${length}`);
        }
      }
      for (let i = 8; i < bytes.length; i++) {
        const corrupted = bytes.slice();
        corrupted[i] = corrupted[i]! ^ 0xff;
        decodeMessage(corrupted);
      }
    }
    assert.ok(errors > 100, `only ${errors} truncations were reported`);
  });

  it('rejects a length field that disagrees with the bytes given, and non-1.5 messages other than HELLO/ERROR', () => {
    const barrier = encodeMessage({ type: 'barrier-reply', xid: 1 });
    const long = new Uint8Array(12);
    long.set(barrier);
    const mismatch = decodeMessage(long);
    assert.equal(!mismatch.ok && mismatch.error.code, 'OPENFLOW_BAD_LENGTH');
    const v13 = barrier.slice();
    v13[0] = 4;
    const old = decodeMessage(v13);
    assert.equal(!old.ok && old.error.code, 'OPENFLOW_BAD_VERSION');
    const hello13 = encodeMessage({ type: 'hello', xid: 1, version: 4, versions: [1, 4] });
    assert.deepEqual(decode(hello13), { type: 'hello', xid: 1, version: 4, versions: [1, 4] });
  });

  it('rejects a packet-in without a packet and a full_len below the packet length', () => {
    const base: PacketIn2Message = {
      type: 'nx-packet-in2',
      xid: 0,
      packet: Uint8Array.of(1, 2, 3, 4),
      fullLength: 4,
      bufferId: 0xffffffff,
      tableId: 0,
      cookie: 0n,
      reason: 0,
      metadata: [],
    };
    const bytes = encodeMessage({ ...base, fullLength: 2 });
    const result = decodeMessage(bytes);
    assert.equal(!result.ok && result.error.code, 'OPENFLOW_BAD_VALUE');
    // Turn the packet property into an unknown property type: the message then lacks a packet.
    const noPacket = encodeMessage(base);
    noPacket[17] = 0x63;
    const missing = decodeMessage(noPacket);
    assert.equal(!missing.ok && missing.error.code, 'OPENFLOW_BAD_VALUE');
  });
});

describe('packet-out to a flow-based tunnel port', () => {
  it('sets tun_dst with a set_field action before the output (OFPAT_SET_FIELD, NXM_NX_TUN_IPV4_DST)', () => {
    const action = setFieldAction(tunnelIpv4DstField('192.168.78.12'));
    assert.ok(action.type === 'unknown');
    assert.equal(action.actionType, 25);
    // OXM class 0x0001, field 32 (<<1 = 0x40), length 4, the address, padding to 8 bytes with the 4-byte header.
    assert.deepEqual([...action.body], [0x00, 0x01, 0x40, 0x04, 192, 168, 78, 12, 0, 0, 0, 0]);
    const message = packetOutMessage(7, new Uint8Array(60), { outPort: 1 }, [], [action]);
    const decoded = decodeMessage(encodeMessage(message));
    assert.ok(decoded.ok && decoded.message.type === 'packet-out');
    assert.deepEqual(
      decoded.message.actions.map((a) => a.type),
      ['unknown', 'output'],
    );
    assert.throws(() => tunnelIpv4DstField('192.168.78'), /not an IPv4 address/);
  });
});
