// OpenFlow 1.3 FLOW_MOD and ONF bundle encoding (firmware/core/openflow/flow-mod.ts). Expected bytes are written
// out by hand from the OpenFlow 1.3.5 layouts and OVS's nicira-ext.h / ofp-actions.c structures; the integration
// test additionally compares every policy flow shape with what ovs-ofctl itself sends.
import assert from 'node:assert/strict';
import {
  ATOMIC_ORDERED,
  BundleControlType,
  FlowModEncodeError,
  FlowModEncoder,
  canEncode,
  checkFlowEncodable,
  decodeBundleControl,
  encodeBundleAdd,
  encodeBundleControl,
  encodeInstructions,
  encodeMatch,
  onfBundleErrorName,
  type FlowMod,
} from '../../firmware/core/openflow/flow-mod';
import type { Flow } from '../../firmware/core/pipeline/flow';

/** Hex with spaces and `|` as separators for readability. */
function hex(text: string): string {
  return text.replace(/[\s|]/g, '');
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function flowOf(table: number, priority: number, match: string, actions: string, cookie = 0n): Flow {
  return { table, priority, match, actions, cookie };
}

/** ofp_flow_mod up to the match: everything but length, xid, cookie, table, command and priority is fixed. */
function flowModHead(
  length: string,
  xid: string,
  cookie: string,
  table: string,
  command: string,
  prio: string,
): string {
  return hex(
    `04 0e ${length} ${xid} | ${cookie} | 0000000000000000 | ${table} ${command} | 0000 0000 | ${prio} | ffffffff | ffffffff | ffffffff | 0000 0000`,
  );
}

describe('flow-mod: OpenFlow 1.3 flow mods', () => {
  const encoder = new FlowModEncoder();

  it('encodes a conjunction action flow: conj_id + ip, NXAST_REG_LOAD, goto_table', () => {
    const f = flowOf(45, 14000, 'conj_id=5,ip', 'load:0x5->NXM_NX_REG5[],goto_table:70', 0x0600000000000005n);
    const expected =
      flowModHead('0070', '00000002', '0600000000000005', '2d', '00', '36b0') +
      // ofp_match: OXM, length 18 = 4 + NXM_NX_CONJ_ID (class 1, field 37) + OXM_OF_ETH_TYPE; padded to 24.
      hex('0001 0012 | 00014a04 00000005 | 80000a02 0800 | 000000000000') +
      // OFPIT_APPLY_ACTIONS (len 32): nx_action_reg_load { ofs_nbits = 0<<6 | 31, dst = NXM_NX_REG5, value 5 }.
      hex('0004 0020 00000000 | ffff 0018 00002320 0007 001f 00010a04 0000000000000005') +
      // OFPIT_GOTO_TABLE 70.
      hex('0001 0008 46 000000');
    assert.equal(toHex(encoder.encodeFlowMod({ command: 'add', flow: f }, 2)), expected);
  });

  it('encodes a clause flow: tcp with a masked tp_dst and two NXAST_CONJUNCTION actions', () => {
    const f = flowOf(
      45,
      14000,
      'tcp,tp_dst=0x1f90/0xfff0',
      'conjunction(5,3/3),conjunction(7,3/3)',
      0x0600000000000005n,
    );
    const expected =
      flowModHead('0070', '00000004', '0600000000000005', '2d', '00', '36b0') +
      // eth_type 0x0800, ip_proto 6, OXM_OF_TCP_DST with mask (has-mask bit, length 4).
      hex('0001 0017 | 80000a02 0800 | 80001401 06 | 80001d04 1f90 fff0 | 00') +
      // conjunction: clause is k-1 on the wire.
      hex(
        '0004 0028 00000000 | ffff 0010 00002320 0022 02 03 00000005 | ffff 0010 00002320 0022 02 03 00000007',
      );
    assert.equal(toHex(encoder.encodeFlowMod({ command: 'add', flow: f }, 4)), expected);
  });

  it('encodes meter:N as OFPIT_METER and controller(...) with userdata as NXAST_CONTROLLER2 properties', () => {
    const f = flowOf(
      45,
      14000,
      'conj_id=6,ip',
      'meter:256,controller(reason=no_match,max_len=128,id=4,userdata=02.00.00.00.06)',
      0x0600000000000005n,
    );
    const expected =
      flowModHead('0090', '00000006', '0600000000000005', '2d', '00', '36b0') +
      hex('0001 0012 | 00014a04 00000006 | 80000a02 0800 | 000000000000') +
      hex('0006 0008 00000100') +
      hex(
        '0004 0040 00000000 | ffff 0038 00002320 0025 000000000000 |' +
          ' 0000 0008 0080 0000 | 0001 0008 0004 0000 | 0002 0005 00 000000 | 0003 0009 0200000006 00000000000000',
      );
    assert.equal(toHex(encoder.encodeFlowMod({ command: 'add', flow: f }, 6)), expected);
  });

  it('encodes delete_strict with cookie 0, out_port/out_group ANY and no instructions', () => {
    const f = flowOf(45, 14000, 'conj_id=7,ip', 'drop', 0x0600000000000005n);
    const expected =
      flowModHead('0048', '00000008', '0000000000000000', '2d', '04', '36b0') +
      hex('0001 0012 | 00014a04 00000007 | 80000a02 0800 | 000000000000');
    assert.equal(toHex(encoder.encodeFlowMod({ command: 'delete_strict', flow: f }, 8)), expected);
  });

  it('encodes drop as no instructions and a catch-all as an empty OXM match', () => {
    const f = flowOf(0, 0, '', 'drop');
    const expected =
      flowModHead('0038', '00000009', '0000000000000000', '00', '00', '0000') + hex('0001 0004 00000000');
    assert.equal(toHex(encoder.encodeFlowMod({ command: 'add', flow: f }, 9)), expected);
  });

  it('encodes every supported match field', () => {
    const cases: [string, string][] = [
      ['ip', '80000a02 0800'],
      ['udp', '80000a02 0800 80001401 11'],
      ['sctp', '80000a02 0800 80001401 84'],
      ['icmp,icmp_type=3,icmp_code=1', '80000a02 0800 80001401 01 80002601 03 80002801 01'],
      ['arp', '80000a02 0806'],
      ['ip,nw_src=10.0.0.5', '80000a02 0800 80001604 0a000005'],
      ['ip,nw_dst=10.20.0.0/28', '80000a02 0800 80001908 0a140000 fffffff0'],
      ['ip,nw_src=10.0.0.1/255.255.0.0', '80000a02 0800 80001708 0a000000 ffff0000'],
      ['udp,tp_src=53', '80000a02 0800 80001401 11 80001e02 0035'],
      ['sctp,tp_dst=0x2000/0xfe00', '80000a02 0800 80001401 84 80002504 2000 fe00'],
      ['tcp,tp_src=1000,tp_dst=80', '80000a02 0800 80001401 06 80001a02 03e8 80001c02 0050'],
      ['ip,reg1=0x3', '80000a02 0800 00010204 00000003'],
      ['reg0=0x10000/0x10000', '00010108 00010000 00010000'],
      ['reg15=0x1', '00011e04 00000001'],
      ['conj_id=4294967295', '00014a04 ffffffff'],
      ['in_port=5', '80000004 00000005'],
      ['in_port=LOCAL', '80000004 fffffffe'],
      ['dl_dst=0a:00:00:00:00:01', '80000606 0a0000000001'],
      ['dl_src=01:00:00:00:00:00/01:00:00:00:00:00', '8000090c 010000000000 010000000000'],
      [
        'arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.2,arp_sha=0a:00:00:00:00:01,arp_tha=0a:00:00:00:00:02',
        '80000a02 0806 80002a02 0001 80002c04 0a000001 80002e04 0a000002 80003006 0a0000000001 80003206 0a0000000002',
      ],
      ['tun_dst=192.168.1.2', '00014004 c0a80102'],
      ['ct_state=-new+trk', '0001d308 00000020 00000021'],
      ['ct_zone=65520', '0001d402 fff0'],
      ['ct_mark=0x20/0x20', '0001d708 00000020 00000020'],
      // nx_put_raw order: conj_id, in_port, eth, eth_type, L3/L4, tunnel, registers, conntrack.
      [
        'ct_state=+est,reg0=0x1,ip,conj_id=9',
        '00014a04 00000009 80000a02 0800 00010004 00000001 0001d308 00000002 00000002',
      ],
    ];
    for (const [match, oxm] of cases) {
      const result = encodeMatch(match);
      assert.ok(result.ok, `${match}: ${result.ok ? '' : result.reason}`);
      assert.equal(toHex(result.oxm), hex(oxm), match);
    }
  });

  it('encodes every supported action', () => {
    const apply = (actions: string): string => {
      const length = (actions.replace(/\s/g, '').length / 2 + 8).toString(16).padStart(4, '0');
      return hex(`0004 ${length} 00000000 ${actions}`);
    };
    const cases: [string, string][] = [
      ['output:5', apply('0000 0010 00000005 0000 000000000000')],
      ['NORMAL', apply('0000 0010 fffffffa 0000 000000000000')],
      ['IN_PORT', apply('0000 0010 fffffff8 0000 000000000000')],
      ['LOCAL', apply('0000 0010 fffffffe 0000 000000000000')],
      ['CONTROLLER:65535', apply('0000 0010 fffffffd ffff 000000000000')],
      ['controller()', apply('0000 0010 fffffffd ffff 000000000000')],
      ['controller(reason=no_match,id=3)', apply('ffff 0010 00002320 0014 ffff 0003 00 00')],
      ['controller(userdata=01.02)', apply('ffff 0018 00002320 0025 000000000000 0003 0006 0102 0000')],
      ['controller(pause)', apply('ffff 0018 00002320 0025 000000000000 0004 0004 00000000')],
      ['resubmit(,40)', apply('ffff 0010 00002320 000e fff8 28 000000')],
      ['dec_ttl', apply('0018 0008 00000000')],
      ['set_field:0a:00:00:00:00:01->eth_dst', apply('0019 0010 80000606 0a0000000001 0000')],
      ['set_field:0x5->reg3', apply('0019 0010 00010604 00000005 00000000')],
      ['load:0x2->NXM_NX_REG0[0..15]', apply('ffff 0018 00002320 0007 000f 00010004 0000000000000002')],
      ['load:0x1->NXM_NX_REG0[16]', apply('ffff 0018 00002320 0007 0400 00010004 0000000000000001')],
      [
        'load:0xa000001->NXM_NX_TUN_IPV4_DST[]',
        apply('ffff 0018 00002320 0007 001f 00014004 000000000a000001'),
      ],
      [
        'load:0xaabbccddeeff->NXM_OF_ETH_DST[]',
        apply('ffff 0018 00002320 0007 002f 00000206 0000aabbccddeeff'),
      ],
      [
        'move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]',
        apply('ffff 0018 00002320 0006 0030 0000 0000 00000406 00000206'),
      ],
      ['output:NXM_NX_REG1[]', apply('ffff 0018 00002320 000f 001f 00010204 ffff 000000000000')],
      ['conjunction(1,1/2)', apply('ffff 0010 00002320 0022 00 02 00000001')],
      ['goto_table:105', hex('0001 0008 69 000000')],
      ['meter:1', hex('0006 0008 00000001')],
      ['drop', ''],
    ];
    for (const [actions, expected] of cases) {
      const result = encodeInstructions(actions);
      assert.ok(result.ok, `${actions}: ${result.ok ? '' : result.reason}`);
      assert.equal(toHex(result.instructions), expected, actions);
    }
  });

  it('reports the token it cannot encode (callers fall back to ovs-ofctl)', () => {
    const cases: [Flow, string][] = [
      [flowOf(31, 190, 'ip', 'ct(table=40,zone=65520)'), 'ct(table=40,zone=65520)'],
      [flowOf(31, 190, 'ip', 'group:1'), 'group:1'],
      [flowOf(0, 1, 'metadata=0x1', 'drop'), 'metadata=0x1'],
      [flowOf(0, 1, 'tun_id=0x5', 'drop'), 'tun_id=0x5'],
      [flowOf(0, 1, 'nw_src=10.0.0.1', 'drop'), 'nw_src/nw_dst'],
      [flowOf(0, 1, 'ip,tp_dst=80', 'drop'), 'tp_src/tp_dst'],
      [flowOf(0, 1, 'reg16=0x1', 'drop'), 'reg16=0x1'],
      [flowOf(0, 1, 'ip,nw_src=10.0.0.300', 'drop'), 'nw_src=10.0.0.300'],
      [flowOf(0, 1, 'ip', 'drop,goto_table:3'), 'drop'],
      [flowOf(0, 1, 'ip', 'NORMAL,meter:1'), 'meter:1'],
      [flowOf(0, 1, 'ip', 'goto_table:3,NORMAL'), 'goto_table:3'],
      [flowOf(0, 1, 'ip', 'conjunction(1,3/2)'), 'conjunction(1,3/2)'],
      [flowOf(0, 1, 'ip', 'load:0x10000->NXM_NX_REG0[0..15]'), 'load:0x10000->NXM_NX_REG0[0..15]'],
      [flowOf(0, 1, 'ip', 'controller(meter_id=3)'), 'controller(meter_id=3)'],
    ];
    for (const [f, token] of cases) {
      const check = checkFlowEncodable(f);
      assert.ok(!check.ok, `${f.match} ${f.actions} should be unsupported`);
      assert.equal(check.token, token);
      assert.equal(canEncode(f), false);
      assert.throws(
        () => encoder.encodeFlowMod({ command: 'add', flow: f }, 1),
        (err: unknown) =>
          err instanceof FlowModEncodeError && err.code === 'UNSUPPORTED_TOKEN' && err.token === token,
      );
    }
    // A flow whose message would exceed 64 KiB (OVS caps a flow at ~4080 conjunctions for the same reason).
    const huge = flowOf(
      45,
      1,
      'ip',
      Array.from({ length: 4500 }, (_, i) => `conjunction(${i + 1},1/2)`).join(','),
    );
    const check = checkFlowEncodable(huge);
    assert.ok(!check.ok && /does not fit|exceeds/.test(check.reason));
  });

  it('caches the instructions of each distinct action text', () => {
    const fresh = new FlowModEncoder();
    const mods: FlowMod[] = Array.from({ length: 100 }, (_, i) => ({
      command: 'add',
      flow: flowOf(45, 100, `ip,nw_src=10.0.0.${i}`, `conjunction(${i % 3},1/2)`),
    }));
    assert.ok(fresh.encodeBundle(mods, { bundleId: 1, firstXid: 1 }).ok);
    assert.equal(fresh.cacheSize, 3);
  });
});

describe('flow-mod: ONF bundle messages (OpenFlow 1.3)', () => {
  it('encodes bundle control requests', () => {
    assert.equal(
      toHex(encodeBundleControl(1, 7, BundleControlType.OpenRequest)),
      hex('04 04 0018 00000001 | 4f4e4600 000008fc | 00000007 0000 0003'),
    );
    assert.equal(
      toHex(encodeBundleControl(0x10, 7, BundleControlType.CommitRequest, ATOMIC_ORDERED)),
      hex('04 04 0018 00000010 | 4f4e4600 000008fc | 00000007 0004 0003'),
    );
    assert.equal(
      toHex(encodeBundleControl(2, 1, BundleControlType.DiscardRequest, 0)),
      hex('04 04 0018 00000002 | 4f4e4600 000008fc | 00000001 0006 0000'),
    );
  });

  it('wraps a flow mod in a bundle add message with the same xid', () => {
    const inner = new FlowModEncoder().encodeFlowMod({ command: 'add', flow: flowOf(0, 0, '', 'drop') }, 5);
    const add = encodeBundleAdd(5, 9, inner);
    assert.equal(
      toHex(add.subarray(0, 24)),
      hex('04 04 0050 00000005 | 4f4e4600 000008fd | 00000009 0000 0003'),
    );
    assert.equal(toHex(add.subarray(24)), toHex(inner));
    assert.throws(() => encodeBundleAdd(1, 1, new Uint8Array(65_520)), /exceeds 65535/);
  });

  it('writes open, one add per flow mod (xids in order) and a barrier into one buffer', () => {
    const mods: FlowMod[] = [
      { command: 'delete_strict', flow: flowOf(45, 100, 'ip,nw_src=10.0.0.1', 'conjunction(1,1/2)') },
      { command: 'add', flow: flowOf(45, 100, 'ip,nw_src=10.0.0.2', 'conjunction(1,1/2)', 5n) },
      { command: 'add', flow: flowOf(45, 101, 'conj_id=1,ip', 'drop', 5n) },
    ];
    const encoder = new FlowModEncoder();
    const result = encoder.encodeBundle(mods, { bundleId: 3, firstXid: 0xffff_fff0 });
    assert.ok(result.ok);
    assert.equal(result.openXid, 0xffff_fff0);
    assert.equal(result.firstAddXid, 0xffff_fff1);
    assert.equal(result.barrierXid, 0xffff_fff4);
    const bytes = result.bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.deepEqual(decodeBundleControl(bytes.subarray(0, 24)), {
      xid: 0xffff_fff0,
      bundleId: 3,
      type: BundleControlType.OpenRequest,
      flags: ATOMIC_ORDERED,
    });
    let at = 24;
    for (let i = 0; i < mods.length; i++) {
      const length = view.getUint16(at + 2);
      const xid = view.getUint32(at + 4);
      assert.equal(xid, 0xffff_fff1 + i);
      assert.equal(view.getUint32(at + 12), 2301);
      assert.equal(view.getUint32(at + 16), 3);
      assert.equal(view.getUint32(at + 24 + 4), xid, 'inner xid = outer xid');
      const alone = encoder.encodeFlowMod(mods[i] as FlowMod, xid);
      assert.equal(toHex(bytes.subarray(at + 24, at + length)), toHex(alone));
      at += length;
    }
    assert.equal(toHex(bytes.subarray(at)), hex('04 14 0008 fffffff4'));
    // The first mod that cannot be encoded is named with its index.
    const bad = encoder.encodeBundle([...mods, { command: 'add', flow: flowOf(0, 1, 'ip', 'ct(commit)') }], {
      bundleId: 1,
      firstXid: 1,
    });
    assert.ok(!bad.ok);
    assert.equal(bad.index, 3);
    assert.equal(bad.token, 'ct(commit)');
  });

  it('decodes bundle control replies and names ONF bundle errors', () => {
    const reply = encodeBundleControl(42, 7, BundleControlType.CommitReply, 0);
    assert.deepEqual(decodeBundleControl(reply), {
      xid: 42,
      bundleId: 7,
      type: BundleControlType.CommitReply,
      flags: 0,
    });
    assert.equal(decodeBundleControl(Uint8Array.from([4, 0x14, 0, 8, 0, 0, 0, 1])), undefined);
    assert.equal(decodeBundleControl(new Uint8Array(24)), undefined);
    assert.equal(onfBundleErrorName(2313), 'OFPBFC_MSG_FAILED');
    assert.equal(onfBundleErrorName(2302), 'OFPBFC_BAD_ID');
    assert.equal(onfBundleErrorName(17), undefined);
  });
});
