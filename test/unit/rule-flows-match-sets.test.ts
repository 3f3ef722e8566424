// ipBlock `except` subtraction and port-range masks: exact (brute-force checked) and minimal.
import assert from 'node:assert/strict';
import { formatCidr, parseCidr, type Ipv4Cidr } from '../../firmware/core/ipam/ipv4';
import {
  MatchSetError,
  cidrTextsExcept,
  cidrsExcept,
  portRangeMasks,
  type PortMask,
} from '../../firmware/core/pipeline/match-sets';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const inCidr = (c: Ipv4Cidr, ip: number): boolean => ip >= c.network && ip < c.network + 2 ** (32 - c.prefix);
const portIn = (m: PortMask, port: number): boolean => (port & m.mask) === (m.value & m.mask);

/** Fewest aligned blocks covering [lo, hi]: the classic count, computed independently by dynamic programming. */
function minimalBlockCount(lo: number, hi: number): number {
  const best = new Array<number>(hi - lo + 2).fill(Infinity);
  best[0] = 0;
  for (let start = lo; start <= hi; start++) {
    const here = best[start - lo] as number;
    for (let size = 1; size <= 0x10000 && start % size === 0 && start + size - 1 <= hi; size *= 2) {
      const next = start + size - lo;
      best[next] = Math.min(best[next] as number, here + 1);
    }
  }
  return best[hi - lo + 1] as number;
}

describe('ipBlock except → CIDRs', () => {
  it('subtracts a single address from a /24 as 8 prefixes', () => {
    assert.deepEqual(cidrTextsExcept('10.10.0.0/24', ['10.10.0.13/32']), [
      '10.10.0.0/29',
      '10.10.0.8/30',
      '10.10.0.12/32',
      '10.10.0.14/31',
      '10.10.0.16/28',
      '10.10.0.32/27',
      '10.10.0.64/26',
      '10.10.0.128/25',
    ]);
  });

  it('keeps the block when no exception touches it and drops it when one covers it', () => {
    assert.deepEqual(cidrTextsExcept('10.0.0.0/8', []), ['10.0.0.0/8']);
    assert.deepEqual(cidrTextsExcept('10.0.0.0/8', ['192.168.0.0/16']), ['10.0.0.0/8']);
    assert.deepEqual(cidrTextsExcept('10.1.0.0/16', ['10.0.0.0/8']), []);
    assert.deepEqual(cidrTextsExcept('10.1.2.3/32', ['10.1.2.3/32']), []);
    assert.deepEqual(cidrTextsExcept('0.0.0.0/0', ['128.0.0.0/1']), ['0.0.0.0/1']);
  });

  it('handles nested and overlapping exceptions', () => {
    assert.deepEqual(cidrTextsExcept('10.0.0.0/30', ['10.0.0.0/31', '10.0.0.1/32']), ['10.0.0.2/31']);
    assert.deepEqual(cidrTextsExcept('192.168.0.0/22', ['192.168.1.0/24', '192.168.2.0/24']), [
      '192.168.0.0/24',
      '192.168.3.0/24',
    ]);
  });

  it('is exact and non-overlapping on random blocks (brute force over every address)', () => {
    const random = prng(7);
    for (let trial = 0; trial < 200; trial++) {
      const prefix = 20 + Math.floor(random() * 10);
      const base = parseCidr(`10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.0/${prefix}`);
      const size = 2 ** (32 - prefix);
      const excepts: Ipv4Cidr[] = [];
      for (let e = Math.floor(random() * 4); e > 0; e--) {
        const ePrefix = prefix + Math.floor(random() * (33 - prefix));
        const addr = base.network + Math.floor(random() * size);
        excepts.push(parseCidr(`${formatIpv4Text(addr)}/${ePrefix}`));
      }
      const result = cidrsExcept(base, excepts);
      for (let ip = base.network; ip < base.network + size; ip++) {
        const wanted = !excepts.some((e) => inCidr(e, ip));
        const covering = result.filter((c) => inCidr(c, ip)).length;
        assert.equal(
          covering,
          wanted ? 1 : 0,
          `${formatIpv4Text(ip)} in ${formatCidr(base)} minus ${excepts.map(formatCidr).join(',')}`,
        );
      }
      for (const c of result) assert.ok(inCidr(base, c.network), 'results stay inside the block');
    }
  });
});

function formatIpv4Text(value: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(value / 2 ** s) % 256).join('.');
}

describe('port ranges → masked tp_dst', () => {
  it('a single port is one exact match', () => {
    assert.deepEqual(portRangeMasks(80), [{ value: 80, mask: 0xffff }]);
    assert.deepEqual(portRangeMasks(443, 443), [{ value: 443, mask: 0xffff }]);
  });

  it('9000–9100 is the six blocks Antrea would install', () => {
    assert.deepEqual(
      portRangeMasks(9000, 9100).map((m) => `0x${m.value.toString(16)}/0x${m.mask.toString(16)}`),
      ['0x2328/0xfff8', '0x2330/0xfff0', '0x2340/0xffc0', '0x2380/0xfff8', '0x2388/0xfffc', '0x238c/0xffff'],
    );
  });

  it('aligned ranges are one block; the whole space is mask 0', () => {
    assert.deepEqual(portRangeMasks(1024, 2047), [{ value: 1024, mask: 0xfc00 }]);
    assert.deepEqual(portRangeMasks(0, 65535), [{ value: 0, mask: 0 }]);
    assert.equal(portRangeMasks(1, 65535).length, 16);
  });

  it('is exact and minimal on random ranges', () => {
    const random = prng(11);
    for (let trial = 0; trial < 300; trial++) {
      const lo = Math.floor(random() * 65000) + 1;
      const hi = Math.min(65535, lo + Math.floor(random() * (trial % 3 === 0 ? 5000 : 300)));
      const masks = portRangeMasks(lo, hi);
      for (let port = Math.max(0, lo - 40); port <= Math.min(65535, hi + 40); port++) {
        const hits = masks.filter((m) => portIn(m, port)).length;
        assert.equal(hits, port >= lo && port <= hi ? 1 : 0, `port ${port} for ${lo}-${hi}`);
      }
      assert.equal(masks.length, minimalBlockCount(lo, hi), `${lo}-${hi} uses the fewest blocks`);
    }
  });

  it('rejects ranges that are not ranges', () => {
    assert.throws(
      () => portRangeMasks(100, 99),
      (e: unknown) => e instanceof MatchSetError && e.code === 'INVALID_PORT_RANGE',
    );
    assert.throws(() => portRangeMasks(70000), MatchSetError);
  });

  it('parses as OVS would expect (value within mask)', () => {
    for (const m of portRangeMasks(1000, 5000)) assert.equal(m.value & ~m.mask & 0xffff, 0);
  });
});
