import assert from 'node:assert/strict';
import {
  finishChecksum,
  internetChecksum,
  ipv4TransportChecksum,
  sumWords,
} from '../../firmware/core/packets/checksum';
import {
  describeFrame,
  ipv4ChecksumValid,
  parseFrame,
  transportChecksumValid,
  type Frame,
  type Ipv4Frame,
  type TcpFrame,
} from '../../firmware/core/packets/frame';
import {
  IcmpUnreachableCode,
  icmpUnreachableFor,
  rejectReplyFor,
  tcpResetFor,
} from '../../firmware/core/packets/reject-replies';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// Frames captured from OVS 3.1 packet-ins (test/fixtures/openflow/ovs-3.1-messages.json): a Linux TCP SYN from
// 10.98.0.2:52560 to 10.98.0.3:8080 with options, and a UDP datagram "hello" from :40000 to :5353.
const SYN = hex(
  '020000000002 020000000001 0800' +
    '4500003c01644000400624900a6200020a620003' +
    'cd501f90dbb3fcbf00000000a002faf05fac0000020405b40402080a7a5598ed000000000103030a',
);
const UDP = hex(
  '020000000002 020000000001 0800' +
    '4500002187a1400040119e620a6200020a620003' +
    '9c4014e9000df60f68656c6c6f',
);

function parse(bytes: Uint8Array): Frame {
  const result = parseFrame(bytes);
  if (!result.ok) throw result.error;
  return result.frame;
}

function parseIpv4(bytes: Uint8Array): Ipv4Frame {
  const frame = parse(bytes);
  assert.equal(frame.kind, 'ipv4');
  return frame;
}

/** Rewrites IPv4 header fields and fixes the header checksum. */
function withIpv4(bytes: Uint8Array, edit: (ip: DataView) => void): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer, 14);
  edit(view);
  view.setUint16(10, 0);
  view.setUint16(10, internetChecksum(out, 14, 14 + (out[14]! & 0x0f) * 4));
  return out;
}

describe('packets: checksum', () => {
  it('computes the IPv4 header checksum of the textbook example (0xb861)', () => {
    // 4500 0073 0000 4000 4011 [0000] c0a8 0001 c0a8 00c7: the words sum to 0x2479c, folded 0x479e, ~ = 0xb861.
    const header = hex('450000730000400040110000c0a80001c0a800c7');
    assert.equal(sumWords(header), 0x2479c);
    assert.equal(internetChecksum(header), 0xb861);
    header[10] = 0xb8;
    header[11] = 0x61;
    assert.equal(internetChecksum(header), 0, 'a header with its checksum sums to 0');
  });

  it('pads an odd trailing byte with zero and folds repeatedly', () => {
    assert.equal(sumWords(hex('0102 03')), 0x0102 + 0x0300);
    assert.equal(finishChecksum(0x1fffe), 0x0000); // 0xfffe + 1 = 0xffff → ~ = 0
    assert.equal(finishChecksum(0), 0xffff);
  });

  it('verifies the kernel-computed TCP and UDP checksums of captured packets via the pseudo header', () => {
    const syn = parseIpv4(SYN);
    assert.equal(ipv4TransportChecksum(syn.ipv4.src, syn.ipv4.dst, 6, SYN, 34, SYN.length), 0);
    assert.equal(ipv4ChecksumValid(syn), true);
    assert.equal(transportChecksumValid(syn), true);
    const udp = parseIpv4(UDP);
    assert.equal(ipv4ChecksumValid(udp), true);
    assert.equal(transportChecksumValid(udp), true);
    const corrupted = SYN.slice();
    corrupted[60] = corrupted[60]! ^ 0x01;
    assert.equal(transportChecksumValid(parseIpv4(corrupted)), false);
  });
});

describe('packets: parseFrame', () => {
  it('parses a TCP SYN with options', () => {
    const frame = parseIpv4(SYN);
    assert.equal(toHex(frame.ethernet.dst), '020000000002');
    assert.equal(toHex(frame.ethernet.src), '020000000001');
    assert.equal(frame.ipv4.headerLength, 20);
    assert.equal(frame.ipv4.totalLength, 60);
    assert.equal(frame.ipv4.ttl, 64);
    assert.equal(frame.ipv4.dontFragment, true);
    assert.deepEqual([...frame.ipv4.src], [10, 98, 0, 2]);
    assert.deepEqual([...frame.ipv4.dst], [10, 98, 0, 3]);
    assert.equal(frame.payload.kind, 'tcp');
    const tcp = (frame as TcpFrame).payload;
    assert.equal(tcp.srcPort, 52560);
    assert.equal(tcp.dstPort, 8080);
    assert.equal(tcp.seq, 0xdbb3fcbf);
    assert.equal(tcp.ack, 0);
    assert.equal(tcp.flags, 0x02);
    assert.equal(tcp.headerLength, 40);
    assert.equal(tcp.payloadLength, 0);
    assert.equal(describeFrame(frame), 'tcp 10.98.0.2:52560 > 10.98.0.3:8080 [S] seq 3686005951 ack 0 len 0');
  });

  it('parses UDP, ICMP, other protocols, fragments and non-IPv4 frames', () => {
    const udp = parseIpv4(UDP);
    assert.deepEqual(
      udp.payload.kind === 'udp' && [udp.payload.srcPort, udp.payload.dstPort, udp.payload.length],
      [40000, 5353, 13],
    );
    assert.equal(describeFrame(udp), 'udp 10.98.0.2:40000 > 10.98.0.3:5353 len 5');

    const icmpEcho = withIpv4(
      hex(
        '020000000002 020000000001 0800' +
          '45000024000000004001000' +
          '00a6200020a620003' +
          '0800f7fe0001000000000000',
      ),
      (ip) => ip.setUint16(2, 32),
    );
    const icmp = parseIpv4(icmpEcho);
    assert.equal(icmp.payload.kind, 'icmp');
    assert.equal(icmp.payload.kind === 'icmp' && icmp.payload.type, 8);

    const gre = withIpv4(UDP, (ip) => ip.setUint8(9, 47));
    assert.equal(parseIpv4(gre).payload.kind, 'other');

    const laterFragment = withIpv4(UDP, (ip) => ip.setUint16(6, 0x0001)); // offset 8 bytes
    const fragment = parseIpv4(laterFragment);
    assert.equal(fragment.payload.kind, 'fragment');
    assert.equal(fragment.ipv4.fragmentOffset, 8);

    const arp = hex(
      'ffffffffffff 020000000001 0806' + '0001 0800 06 04 0001 020000000001 0a620002 000000000000 0a620003',
    );
    const parsedArp = parse(arp);
    assert.equal(parsedArp.kind, 'non-ipv4');
    assert.equal(parsedArp.ethernet.etherType, 0x0806);
  });

  it('ignores Ethernet padding after the IP total length', () => {
    const padded = new Uint8Array(60);
    padded.set(UDP);
    const frame = parseIpv4(padded);
    assert.equal(frame.ipv4.totalLength, 33);
    assert.equal(transportChecksumValid(frame), true);
  });

  it('parses IPv4 options and places the transport header after them', () => {
    // The SYN with a 4-byte IP option (NOP NOP NOP EOL): IHL 6.
    const withOption = new Uint8Array(SYN.length + 4);
    withOption.set(SYN.subarray(0, 34));
    withOption.set([1, 1, 1, 0], 34);
    withOption.set(SYN.subarray(34), 38);
    const fixed = withIpv4(withOption, (ip) => {
      ip.setUint8(0, 0x46);
      ip.setUint16(2, 64);
    });
    const frame = parseIpv4(fixed);
    assert.equal(frame.ipv4.headerLength, 24);
    assert.equal(frame.payload.kind === 'tcp' && frame.payload.dstPort, 8080);
  });

  it('returns a typed error, never throws, for every truncation of valid frames', () => {
    for (const original of [SYN, UDP]) {
      for (let length = 0; length < original.length; length++) {
        const result = parseFrame(original.subarray(0, length));
        assert.equal(result.ok, false, `length ${length}`);
        if (!result.ok)
          assert.equal(result.error.code, 'PACKET_TRUNCATED', `length ${length}: ${result.error.message}`);
      }
    }
  });

  it('reports malformed headers with PACKET_MALFORMED', () => {
    const cases: [string, Uint8Array][] = [
      ['IP version 6 with EtherType IPv4', withIpv4(SYN, (ip) => ip.setUint8(0, 0x65))],
      ['IHL 4', withIpv4(SYN, (ip) => ip.setUint8(0, 0x44))],
      ['total length below header', withIpv4(SYN, (ip) => ip.setUint16(2, 12))],
      [
        'TCP data offset 4',
        (() => {
          const b = SYN.slice();
          b[46] = 0x40;
          return b;
        })(),
      ],
      [
        'UDP length 4',
        (() => {
          const b = UDP.slice();
          b[38] = 0;
          b[39] = 4;
          return b;
        })(),
      ],
    ];
    for (const [name, bytes] of cases) {
      const result = parseFrame(bytes);
      assert.equal(result.ok, false, name);
      if (!result.ok) assert.equal(result.error.code, 'PACKET_MALFORMED', name);
    }
  });

  it('never throws on random bytes', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let i = 0; i < 3000; i++) {
      const bytes = new Uint8Array(random() % 90);
      for (let j = 0; j < bytes.length; j++) bytes[j] = random();
      if (bytes.length > 13 && i % 2 === 0) {
        bytes[12] = 0x08;
        bytes[13] = 0x00;
        if (bytes.length > 14) bytes[14] = 0x45;
      }
      const result = parseFrame(bytes);
      if (result.ok && result.frame.kind === 'ipv4') {
        rejectReplyFor(result.frame);
      }
    }
  });
});

describe('packets: reject replies', () => {
  it('builds the RST|ACK for a SYN byte for byte (checksums computed independently)', () => {
    const rst = tcpResetFor(parseIpv4(SYN) as TcpFrame);
    // MACs, IPs and ports swapped; DF, TTL 64; seq 0, ack = SYN seq + 1, flags RST|ACK (0x14), window 0.
    // IP checksum 0x2608 and TCP checksum 0xd5b2 were computed by a separate Python implementation.
    assert.equal(
      toHex(rst),
      '020000000001' +
        '020000000002' +
        '0800' +
        '4500002800004000400626080a6200030a620002' +
        '1f90cd50' +
        '00000000' +
        'dbb3fcc0' +
        '5014' +
        '0000' +
        'd5b2' +
        '0000',
    );
    const parsed = parseIpv4(rst);
    assert.equal(ipv4ChecksumValid(parsed), true);
    assert.equal(transportChecksumValid(parsed), true);
  });

  it('acknowledges payload and FIN, takes seq from the ACK, and wraps at 2^32', () => {
    // An established-connection segment: ACK|PSH|FIN, 5 bytes of payload, seq 0xfffffffe, ack 0x01020304.
    const data = new Uint8Array(14 + 20 + 20 + 5);
    data.set(SYN.subarray(0, 14));
    data.set(hex('4500002d000040004006000' + '00a6200020a620003'), 14);
    data.set(hex('cd501f90fffffffe0102030450190200000000006869212121'), 34);
    const ip = withIpv4(data, () => undefined);
    const tcpStart = 34;
    const view = new DataView(ip.buffer);
    view.setUint16(
      tcpStart + 16,
      ipv4TransportChecksum(ip.subarray(26, 30), ip.subarray(30, 34), 6, ip, tcpStart, ip.length),
    );
    const frame = parseIpv4(ip) as TcpFrame;
    assert.equal(transportChecksumValid(frame), true);
    const rst = parseIpv4(tcpResetFor(frame)) as TcpFrame;
    assert.equal(rst.payload.seq, 0x01020304);
    assert.equal(rst.payload.ack, (0xfffffffe + 5 + 1) % 2 ** 32);
    assert.equal(rst.payload.ack, 4);
    assert.equal(rst.payload.flags, 0x14);
    assert.equal(transportChecksumValid(rst), true);
  });

  it('builds ICMP host-administratively-prohibited quoting the IP header and 8 payload bytes', () => {
    const reply = icmpUnreachableFor(parseIpv4(UDP));
    assert.equal(
      toHex(reply),
      '020000000001' +
        '020000000002' +
        '0800' +
        '4500003800000000400165fd0a6200030a620002' +
        '030a55af00000000' +
        '4500002187a1400040119e620a6200020a620003' +
        '9c4014e9000df60f',
    );
    const parsed = parseIpv4(reply);
    assert.equal(ipv4ChecksumValid(parsed), true);
    assert.equal(transportChecksumValid(parsed), true);
    const portUnreachable = parseIpv4(icmpUnreachableFor(parseIpv4(UDP), IcmpUnreachableCode.Port));
    assert.equal(portUnreachable.payload.kind === 'icmp' && portUnreachable.payload.code, 3);
    assert.equal(transportChecksumValid(portUnreachable), true);
  });

  it('quotes IP options, and fewer than 8 payload bytes when the datagram is shorter', () => {
    const withOption = new Uint8Array(UDP.length + 4);
    withOption.set(UDP.subarray(0, 34));
    withOption.set([1, 1, 1, 0], 34);
    withOption.set(UDP.subarray(34), 38);
    const optioned = withIpv4(withOption, (ip) => {
      ip.setUint8(0, 0x46);
      ip.setUint16(2, 37);
    });
    const quoted = parseIpv4(icmpUnreachableFor(parseIpv4(optioned)));
    assert.equal(quoted.ipv4.totalLength, 20 + 8 + 24 + 8);
    assert.equal(toHex(quoted.bytes.subarray(42, 42 + 24)), toHex(optioned.subarray(14, 38)));
    assert.equal(transportChecksumValid(quoted), true);

    const tiny = withIpv4(UDP.subarray(0, 14 + 20 + 4), (ip) => {
      ip.setUint16(2, 24);
      ip.setUint8(9, 47);
    });
    const reply = parseIpv4(icmpUnreachableFor(parseIpv4(tiny)));
    assert.equal(reply.ipv4.totalLength, 20 + 8 + 20 + 4);
    assert.equal(transportChecksumValid(reply), true);
  });

  it('chooses RST for TCP, ICMP for UDP/ICMP/other, and nothing where RFCs forbid a reply', () => {
    assert.equal(rejectReplyFor(parse(SYN)).kind, 'tcp-reset');
    assert.equal(rejectReplyFor(parse(UDP)).kind, 'icmp-unreachable');
    const rstIn = SYN.slice();
    rstIn[47] = 0x04;
    assert.deepEqual(rejectReplyFor(parse(rstIn)), { kind: 'none', reason: 'a TCP reset is never answered' });
    const icmpError = parse(icmpUnreachableFor(parseIpv4(UDP)));
    assert.equal(rejectReplyFor(icmpError).kind, 'none');
    const broadcast = UDP.slice();
    broadcast.fill(0xff, 0, 6);
    assert.equal(rejectReplyFor(parse(broadcast)).kind, 'none');
    const multicast = withIpv4(UDP, (ip) => ip.setUint32(16, 0xe00000fb));
    assert.equal(rejectReplyFor(parse(multicast)).kind, 'none');
    const fragment = withIpv4(UDP, (ip) => ip.setUint16(6, 0x0003));
    assert.equal(rejectReplyFor(parse(fragment)).kind, 'none');
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    assert.equal(rejectReplyFor(parse(arp)).kind, 'none');
    const udpHostProhibited = rejectReplyFor(parse(UDP), { icmpCode: 13 });
    assert.equal(udpHostProhibited.kind, 'icmp-unreachable');
    if (udpHostProhibited.kind === 'icmp-unreachable') assert.equal(udpHostProhibited.frame[14 + 20 + 1], 13);
  });
});
