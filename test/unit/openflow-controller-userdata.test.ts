import assert from 'node:assert/strict';
import {
  ControllerPurpose,
  NETWORK_POLICY_PACKET_IN_METER_ID,
  controllerAction,
  controllerUserdataText,
  decodeControllerUserdata,
  encodeControllerUserdata,
  meteredControllerActions,
  packetInMeter,
  packetInMeterDefinition,
} from '../../firmware/core/pipeline/controller-userdata';
import { parseDumpMeters } from '../../firmware/ovs/meters';

describe('controller userdata', () => {
  it('encodes purpose and a big-endian 32-bit rule id in 5 bytes, and decodes it back', () => {
    const bytes = encodeControllerUserdata({ purpose: ControllerPurpose.Reject, ruleId: 0xdeadbeef });
    assert.deepEqual([...bytes], [1, 0xde, 0xad, 0xbe, 0xef]);
    assert.deepEqual(decodeControllerUserdata(bytes), {
      ok: true,
      userdata: { purpose: ControllerPurpose.Reject, ruleId: 0xdeadbeef },
    });
    assert.equal(
      controllerUserdataText({ purpose: ControllerPurpose.AuditLog, ruleId: 42 }),
      '02.00.00.00.2a',
    );
  });

  it('decodes garbage to typed errors without throwing', () => {
    const short = decodeControllerUserdata(Uint8Array.of(1, 0, 0));
    assert.equal(!short.ok && short.error.code, 'USERDATA_INVALID');
    const none = decodeControllerUserdata(undefined);
    assert.equal(!none.ok && none.error.code, 'USERDATA_INVALID');
    const purpose = decodeControllerUserdata(Uint8Array.of(7, 0, 0, 0, 1));
    assert.equal(!purpose.ok && purpose.error.code, 'USERDATA_UNKNOWN_PURPOSE');
    assert.throws(() => encodeControllerUserdata({ purpose: ControllerPurpose.Reject, ruleId: 2 ** 32 }), {
      code: 'USERDATA_INVALID',
    });
  });

  it('prints controller() exactly as OVS 3.1 dump-flows does', () => {
    // Measured: `controller(reason=no_match,id=7,userdata=01.00.00.00.2a)` and
    // `controller(max_len=128,id=7,userdata=01.00.00.00.2a)` (reason=action is the default and omitted).
    const userdata = { purpose: ControllerPurpose.Reject, ruleId: 42 } as const;
    assert.equal(
      controllerAction({ controllerId: 7, userdata }),
      'controller(reason=no_match,id=7,userdata=01.00.00.00.2a)',
    );
    assert.equal(
      controllerAction({ controllerId: 7, userdata, reason: 'action', maxLength: 128 }),
      'controller(max_len=128,id=7,userdata=01.00.00.00.2a)',
    );
    assert.equal(
      controllerAction({ controllerId: 7, userdata, maxLength: 0xffff }),
      'controller(reason=no_match,id=7,userdata=01.00.00.00.2a)',
    );
    assert.throws(() => controllerAction({ controllerId: 0, userdata }), { code: 'USERDATA_INVALID' });
  });

  it('gives the packet-in meter definition and the metered action list', () => {
    const meter = packetInMeter();
    assert.deepEqual(meter, { meterId: NETWORK_POLICY_PACKET_IN_METER_ID, rate: 500, burst: 1000 });
    assert.equal(
      packetInMeterDefinition(meter),
      'meter=256,pktps,burst,band=type=drop,rate=500,burst_size=1000',
    );
    assert.equal(
      meteredControllerActions(packetInMeter({ meterId: 3, rate: 10 }), {
        controllerId: 7,
        userdata: { purpose: ControllerPurpose.Reject, ruleId: 1 },
      }),
      'meter:3,controller(reason=no_match,id=7,userdata=01.00.00.00.01)',
    );
    assert.deepEqual(packetInMeter({ rate: 10 }).burst, 20);
    assert.throws(() => packetInMeter({ rate: 0 }), { code: 'USERDATA_INVALID' });
  });
});

describe('dump-meters parsing', () => {
  it('parses OVS 3.1 output with one and several meters', () => {
    const text = [
      'OFPST_METER_CONFIG reply (OF1.5) (xid=0x2):',
      'meter=1 pktps burst bands=',
      'type=drop rate=100 burst_size=50',
      '',
      'meter=256 kbps stats bands=',
      'type=drop rate=2000',
      'type=dscp_remark rate=3000 prec_level=1',
      '',
    ].join('\n');
    assert.deepEqual(parseDumpMeters(text), [
      { meterId: 1, flags: ['pktps', 'burst'], bands: [{ type: 'drop', rate: 100, burstSize: 50 }] },
      {
        meterId: 256,
        flags: ['kbps', 'stats'],
        bands: [
          { type: 'drop', rate: 2000, burstSize: undefined },
          { type: 'dscp_remark', rate: 3000, burstSize: undefined },
        ],
      },
    ]);
    assert.deepEqual(parseDumpMeters('OFPST_METER_CONFIG reply (OF1.5) (xid=0x2):\n'), []);
    assert.throws(() => parseDumpMeters('something else'), { code: 'UNPARSED_METER' });
  });
});
