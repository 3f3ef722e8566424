import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RejectResponder, type RejectEvent } from '../../firmware/agent/reject-responder';
import { silentLogger } from '../../firmware/core/logger';
import { OfpPort } from '../../firmware/core/openflow/constants';
import { decodeMessage, type PacketIn2Message } from '../../firmware/core/openflow/messages';
import { readPacketMetadata } from '../../firmware/core/openflow/oxm';
import { parseFrame, transportChecksumValid, type Ipv4Frame } from '../../firmware/core/packets/frame';
import {
  ControllerPurpose,
  encodeControllerUserdata,
} from '../../firmware/core/pipeline/controller-userdata';
import type { PacketIn, PacketOutTarget } from '../../firmware/ovs/openflow-channel';

const fixtures = new Map(
  (
    JSON.parse(
      fs.readFileSync(path.join(__dirname, '../fixtures/openflow/ovs-3.1-messages.json'), 'utf8'),
    ) as {
      fixtures: { name: string; hex: string }[];
    }
  ).fixtures.map((f) => [f.name, Uint8Array.from(Buffer.from(f.hex, 'hex'))]),
);

/** The PacketIn the channel would emit for a captured NXT_PACKET_IN2. */
function capturedPacketIn(name: string, overrides: Partial<PacketIn> = {}): PacketIn {
  const decoded = decodeMessage(fixtures.get(name)!);
  assert.ok(decoded.ok && decoded.message.type === 'nx-packet-in2');
  const m: PacketIn2Message = decoded.message;
  return {
    packet: m.packet,
    fullLength: m.fullLength,
    tableId: m.tableId,
    cookie: m.cookie,
    reason: m.reason,
    userdata: m.userdata,
    metadata: readPacketMetadata(m.metadata),
    metadataFields: m.metadata,
    ...overrides,
  };
}

class FakeChannel extends EventEmitter<{ packetIn: [PacketIn] }> {
  readonly sent: { packet: Uint8Array; target: PacketOutTarget; tunnelDst?: string }[] = [];
  fail = false;
  packetOut(
    packet: Uint8Array,
    target: PacketOutTarget,
    options: { tunnelDst?: string } = {},
  ): Promise<void> {
    if (this.fail) return Promise.reject(new Error('not connected'));
    this.sent.push({
      packet,
      target,
      ...(options.tunnelDst === undefined ? {} : { tunnelDst: options.tunnelDst }),
    });
    return Promise.resolve();
  }
}

function ipv4(bytes: Uint8Array): Ipv4Frame {
  const parsed = parseFrame(bytes);
  assert.ok(parsed.ok && parsed.frame.kind === 'ipv4');
  return parsed.frame;
}

describe('RejectResponder', () => {
  it('answers a rejected TCP SYN with a RST|ACK out of its ingress port, in_port CONTROLLER', async () => {
    const channel = new FakeChannel();
    const events: RejectEvent[] = [];
    const responder = new RejectResponder({
      channel,
      logger: silentLogger,
      onRejected: (e) => events.push(e),
    });
    responder.start();
    channel.emit('packetIn', capturedPacketIn('packet-in2-tcp-syn'));
    await new Promise((r) => setImmediate(r));
    assert.equal(channel.sent.length, 1);
    const [out] = channel.sent;
    assert.deepEqual(out?.target, { inPort: OfpPort.Controller, outPort: 1 });
    const rst = ipv4(out.packet);
    assert.ok(rst.payload.kind === 'tcp');
    assert.equal(rst.payload.flags, 0x14);
    assert.equal(rst.payload.srcPort, 8080);
    assert.equal(transportChecksumValid(rst), true);
    assert.deepEqual(events, [
      {
        ruleId: 0x1234,
        reply: 'tcp-reset',
        inPort: 1,
        packet: 'tcp 10.98.0.2:52560 > 10.98.0.3:8080 [S] seq 3686005951 ack 0 len 0',
      },
    ]);
    assert.equal(responder.stats.tcpResets, 1);
    responder.stop();
    channel.emit('packetIn', capturedPacketIn('packet-in2-tcp-syn'));
    await new Promise((r) => setImmediate(r));
    assert.equal(channel.sent.length, 1, 'stopped responders do not answer');
  });

  it('answers UDP with ICMP type 3 code 10 by default, or the configured code', async () => {
    for (const [icmpCode, expected] of [
      [undefined, 10],
      [3, 3],
    ] as const) {
      const channel = new FakeChannel();
      const responder = new RejectResponder({ channel, logger: silentLogger, icmpCode });
      await responder.handle(capturedPacketIn('packet-in2-udp'));
      const reply = ipv4(channel.sent[0]!.packet);
      assert.ok(reply.payload.kind === 'icmp');
      assert.equal(reply.payload.type, 3);
      assert.equal(reply.payload.code, expected);
      assert.equal(responder.stats.icmpUnreachables, 1);
    }
  });

  it('ignores packet-ins for other purposes or without valid userdata', async () => {
    const channel = new FakeChannel();
    const responder = new RejectResponder({ channel, logger: silentLogger });
    await responder.handle(
      capturedPacketIn('packet-in2-tcp-syn', {
        userdata: encodeControllerUserdata({ purpose: ControllerPurpose.AuditLog, ruleId: 5 }),
      }),
    );
    await responder.handle(capturedPacketIn('packet-in2-tcp-syn', { userdata: undefined }));
    await responder.handle(
      capturedPacketIn('packet-in2-tcp-syn', { userdata: Uint8Array.of(9, 0, 0, 0, 1) }),
    );
    assert.equal(channel.sent.length, 0);
    assert.equal(responder.stats.rejectPacketIns, 0);
  });

  it('answers a client on another node back through the tunnel, to the node the packet came from', async () => {
    const channel = new FakeChannel();
    const responder = new RejectResponder({ channel, logger: silentLogger, tunnelPort: 1 });
    const syn = capturedPacketIn('packet-in2-tcp-syn');
    await responder.handle({
      ...syn,
      metadata: { ...syn.metadata, inPort: 1, tunnelIpv4Src: '192.168.77.12' },
    });
    assert.equal(channel.sent.length, 1);
    assert.deepEqual(channel.sent[0]?.target, { inPort: OfpPort.Controller, outPort: 1 });
    assert.equal(channel.sent[0]?.tunnelDst, '192.168.77.12');
    const request = ipv4(syn.packet);
    const reply = ipv4(channel.sent[0]?.packet ?? new Uint8Array());
    assert.deepEqual([...reply.ipv4.dst], [...request.ipv4.src]);
    assert.deepEqual([...reply.ipv4.src], [...request.ipv4.dst]);
    assert.equal(responder.stats.tunnelled, 1);
    assert.equal(responder.stats.tcpResets, 1);
    // Without the tunnel source there is no node to send it to.
    await responder.handle({ ...syn, metadata: { ...syn.metadata, inPort: 1, tunnelIpv4Src: undefined } });
    assert.equal(channel.sent.length, 1);
    assert.equal(responder.stats.unroutable, 1);
  });

  it('counts malformed, unanswerable and unroutable packets without sending', async () => {
    const channel = new FakeChannel();
    const responder = new RejectResponder({ channel, logger: silentLogger, unroutablePorts: [9] });
    const syn = capturedPacketIn('packet-in2-tcp-syn');
    await responder.handle({ ...syn, packet: syn.packet.subarray(0, 40) });
    const rstFlags = syn.packet.slice();
    rstFlags[47] = 0x04;
    await responder.handle({ ...syn, packet: rstFlags });
    await responder.handle({ ...syn, metadata: { ...syn.metadata, inPort: 9 } });
    await responder.handle({ ...syn, metadata: { ...syn.metadata, inPort: undefined } });
    await responder.handle({ ...syn, metadata: { ...syn.metadata, inPort: OfpPort.Local } });
    assert.equal(channel.sent.length, 0);
    assert.deepEqual(responder.stats, {
      rejectPacketIns: 5,
      tcpResets: 0,
      icmpUnreachables: 0,
      unanswerable: 1,
      malformed: 1,
      unroutable: 3,
      tunnelled: 0,
      sendFailures: 0,
    });
  });

  it('counts send failures and never rejects', async () => {
    const channel = new FakeChannel();
    channel.fail = true;
    const responder = new RejectResponder({ channel, logger: silentLogger });
    await responder.handle(capturedPacketIn('packet-in2-tcp-syn'));
    assert.equal(responder.stats.sendFailures, 1);
    assert.equal(responder.stats.tcpResets, 0);
  });
});
