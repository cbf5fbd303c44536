import { BlockList } from 'node:net';
import {
  formatAddress,
  formatNetwork,
  normalizeAddress,
  parseAddress,
  parseNetwork,
} from './ip-address.js';

/** Deterministic pseudo-random numbers (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random IPv6 groups with runs of zeros (the cases compression is about). */
function randomGroups(next: () => number): number[] {
  return Array.from({ length: 8 }, () => (next() < 0.45 ? 0 : Math.floor(next() * 0x10000)));
}

describe('normalizeAddress', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1'],
    ['0:0:0:0:0:ffff:c000:0201', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1%eth0', 'fe80::1'],
    // IPv4-compatible (deprecated), not mapped: stays IPv6.
    ['::192.0.2.1', '::c000:201'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ])('%s is %s', (input, expected) => {
    expect(normalizeAddress(input)).toBe(expected);
  });

  it.each([
    '',
    'unknown',
    '192.0.2',
    '192.0.2.256',
    '01.2.3.4',
    ' 192.0.2.1',
    '192.0.2.1%eth0',
    '1:2:3:4:5:6:7:8:9',
    '2001:db8::1::1',
    '[2001:db8::1]',
    'x'.repeat(1000),
  ])('%j is no address', (input) => {
    expect(normalizeAddress(input)).toBeNull();
  });

  it('formats IPv6 as RFC 5952 does (WHATWG URL serialiser as the oracle)', () => {
    const next = random(1);
    for (let i = 0; i < 5000; i++) {
      const groups = randomGroups(next);
      // Mapped addresses are IPv4 to us; the URL serialiser would print them as hex.
      if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) continue;
      const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
      const expected = new URL(`http://[${full}]/`).hostname.slice(1, -1);
      expect(formatAddress({ family: 6, groups })).toBe(expected);
      expect(normalizeAddress(full)).toBe(expected);
      expect(normalizeAddress(expected.toUpperCase())).toBe(expected);
    }
  });

  it('parses IPv4 into the number BlockList agrees with', () => {
    const next = random(2);
    for (let i = 0; i < 2000; i++) {
      const value = Math.floor(next() * 2 ** 32);
      const text = formatAddress({ family: 4, value });
      expect(parseAddress(text)).toEqual({ family: 4, value });
      const list = new BlockList();
      list.addSubnet(text, 32, 'ipv4');
      expect(list.check(`::ffff:${text}`, 'ipv6')).toBe(true);
    }
  });
});

describe('parseNetwork', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['192.0.2.7', '192.0.2.7'],
    ['192.0.2.7/32', '192.0.2.7'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['2001:db8::1/128', '2001:db8::1'],
    ['::/0', '::/0'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.0/120', '192.0.2.0/24'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    // Shorter than /96 it covers more than IPv4: it stays IPv6.
    ['::/80', '::/80'],
  ])('%s is %s', (input, expected) => {
    const parsed = parseNetwork(input);
    expect('network' in parsed && formatNetwork(parsed.network)).toBe(expected);
  });

  it.each([
    ['10.1.2.3/8', /host bits.*10\.0\.0\.0\/8/],
    ['2001:db8::1/64', /host bits.*2001:db8::\/64/],
    ['10.0.0.0/33', /prefix length must be 0 to 32/],
    ['2001:db8::/129', /0 to 128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/08x', /prefix length/],
    ['fe80::/64%eth0', /prefix length/],
    ['fe80::1%eth0/128', /zone/],
    ['nope/8', /not an IPv4 or IPv6 address/],
    ['', /not an IPv4 or IPv6 address/],
  ])('%j is refused (%s)', (input, message) => {
    const parsed = parseNetwork(input);
    expect('error' in parsed && parsed.error).toMatch(message);
  });
});
