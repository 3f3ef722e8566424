import assert from 'node:assert/strict';
import { allocateIpv4, IpamError } from '../../firmware/core/ipam/ip-allocator';
import {
  cidrContains,
  formatCidr,
  formatIpv4,
  isIpv4,
  parseCidr,
  parseIpv4,
} from '../../firmware/core/ipam/ipv4';

describe('IPv4 helpers', () => {
  it('round-trips addresses and clears host bits of a CIDR', () => {
    assert.equal(formatIpv4(parseIpv4('10.10.0.255')), '10.10.0.255');
    assert.equal(formatCidr(parseCidr('10.10.0.77/24')), '10.10.0.0/24');
    assert.equal(formatCidr(parseCidr('255.255.255.255/32')), '255.255.255.255/32');
    assert.ok(cidrContains(parseCidr('10.10.0.0/24'), parseIpv4('10.10.0.200')));
    assert.ok(!cidrContains(parseCidr('10.10.0.0/24'), parseIpv4('10.10.1.0')));
  });

  it('accepts exactly the dotted quads with 1-3 digit octets up to 255', () => {
    const valid = ['0.0.0.0', '1.2.3.4', '255.255.255.255', '01.2.3.4', '10.10.0.2'];
    const invalid = [
      '256.1.1.1',
      '1.2.3',
      '1.2.3.4.5',
      '1..2.3',
      'a.b.c.d',
      '1.2.3.4 ',
      '',
      '1.2.3.',
      '.1.2.3',
    ];
    for (const text of valid) assert.ok(isIpv4(text), text);
    for (const text of [...invalid, '1234.1.1.1', '1.2.3.-4', '1.2.3.4/32']) {
      assert.ok(!isIpv4(text), text);
      assert.throws(() => parseIpv4(text), /invalid IPv4 address/, text);
    }
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
    assert.equal(parseIpv4('10.10.0.2'), 0x0a0a0002);
  });

  it('rejects malformed input', () => {
    for (const bad of ['10.10.0', '10.10.0.256', '1.2.3.4.5', 'a.b.c.d', '10.0.0.1 ']) {
      assert.throws(() => parseIpv4(bad), /invalid IPv4/);
    }
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/x', '10.0.0.0/8/8']) {
      assert.throws(() => parseCidr(bad), /invalid CIDR/);
    }
  });
});

describe('allocateIpv4', () => {
  const subnet = parseCidr('10.10.0.0/29'); // .0 network, .1 gateway, .2-.6 pods, .7 broadcast

  it('skips the network, gateway and broadcast addresses', () => {
    assert.equal(allocateIpv4({ subnet, inUse: new Set() }), '10.10.0.2');
    const all = new Set<string>();
    for (let i = 0; i < 5; i++) all.add(allocateIpv4({ subnet, inUse: all }));
    assert.deepEqual([...all], ['10.10.0.2', '10.10.0.3', '10.10.0.4', '10.10.0.5', '10.10.0.6']);
    assert.throws(
      () => allocateIpv4({ subnet, inUse: all }),
      (e: unknown) => e instanceof IpamError && e.code === 'IPUnavailable',
    );
  });

  it('continues after the last allocation so a freed address is not reused at once', () => {
    assert.equal(allocateIpv4({ subnet, inUse: new Set(), after: '10.10.0.3' }), '10.10.0.4');
    assert.equal(allocateIpv4({ subnet, inUse: new Set(['10.10.0.2']), after: '10.10.0.6' }), '10.10.0.3');
  });

  it('honours a requested address when it is free, with a typed error otherwise', () => {
    assert.equal(allocateIpv4({ subnet, inUse: new Set(), requested: '10.10.0.5' }), '10.10.0.5');
    const code = (requested: string, inUse: string[] = []): string => {
      try {
        allocateIpv4({ subnet, inUse: new Set(inUse), requested });
        return 'ok';
      } catch (e) {
        return (e as IpamError).code;
      }
    };
    assert.equal(code('10.10.0.5', ['10.10.0.5']), 'IPInUse');
    assert.equal(code('10.10.1.5'), 'IPOutOfRange');
    assert.equal(code('10.10.0.1'), 'IPReserved');
    assert.equal(code('10.10.0.7'), 'IPReserved');
  });
});
