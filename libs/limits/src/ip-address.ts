import { isIP } from 'node:net';

/**
 * IP addresses and networks as numbers, for the limits module: one canonical text per address (so
 * that `2001:DB8:0::1`, `2001:db8::1` and, for IPv4, `::ffff:192.0.2.1` are one client, one
 * limiter entry and one ban), and masks for CIDR matching. Internal to the module.
 */

/** IPv4 as an unsigned 32-bit number; IPv6 as eight 16-bit groups. */
export type Address =
  | { readonly family: 4; readonly value: number }
  | { readonly family: 6; readonly groups: readonly number[] };

/** An address with a prefix length whose host bits are zero. */
export type Network = Address & { readonly prefix: number };

/** Longer input is no address (the longest IPv6 text form is 45 characters). */
const MAX_TEXT = 64;

function parseV4(text: string): number {
  const [a = 0, b = 0, c = 0, d = 0] = text.split('.').map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function parseV6(text: string): number[] | null {
  let body = text;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    // An embedded IPv4 address (`::ffff:192.0.2.1`) is the last two groups.
    const v4 = parseV4(text.slice(lastColon + 1));
    tail = [v4 >>> 16, v4 & 0xffff];
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const hex = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  let groups: number[];
  const gap = body.indexOf('::');
  if (gap >= 0) {
    const head = hex(body.slice(0, gap));
    const rest = [...hex(body.slice(gap + 2)), ...tail];
    const zeros = 8 - head.length - rest.length;
    if (zeros < 1) return null;
    groups = [...head, ...(new Array(zeros).fill(0) as number[]), ...rest];
  } else {
    groups = [...hex(body), ...tail];
  }
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  return groups;
}

/**
 * Parses an IPv4 or IPv6 address (an IPv6 zone, `%eth0`, is dropped: it names an interface of
 * this host, not a different client). Null if it is not one.
 */
export function parseAddress(text: string): Address | null {
  if (text.length > MAX_TEXT) return null;
  const zone = text.indexOf('%');
  const bare = zone >= 0 ? text.slice(0, zone) : text;
  switch (isIP(bare)) {
    case 4:
      return zone >= 0 ? null : { family: 4, value: parseV4(bare) };
    case 6: {
      const groups = parseV6(bare);
      return groups ? { family: 6, groups } : null;
    }
    default:
      return null;
  }
}

/** `::ffff:a.b.c.d` (an IPv4 client on a dual-stack socket) as the IPv4 address it is. */
export function unmapped(address: Address): Address {
  if (address.family === 4 || !isMapped(address.groups)) return address;
  const [, , , , , , hi = 0, lo = 0] = address.groups;
  return { family: 4, value: ((hi << 16) | lo) >>> 0 };
}

function isMapped(groups: readonly number[]): boolean {
  for (let i = 0; i < 5; i++) if (groups[i] !== 0) return false;
  return groups[5] === 0xffff;
}

/** Dotted quad, or RFC 5952 text: lower-case, no leading zeros, the longest zero run as `::`. */
export function formatAddress(address: Address): string {
  if (address.family === 4) {
    const v = address.value;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const g = address.groups;
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    g
      .slice(from, to)
      .map((n) => n.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** The canonical text of an address (IPv4-mapped IPv6 as IPv4), or null if it is not one. */
export function normalizeAddress(text: string): string | null {
  const address = parseAddress(text);
  return address ? formatAddress(unmapped(address)) : null;
}

/** The network mask of an IPv4 prefix length, as an unsigned number. */
export function maskV4(prefix: number): number {
  return prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
}

/** The groups of an IPv6 address with the bits after `prefix` cleared. */
export function maskV6(groups: readonly number[], prefix: number): number[] {
  return groups.map((g, i) => {
    const bits = Math.min(16, Math.max(0, prefix - 16 * i));
    return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
  });
}

/** A map key for the network of `groups` at `prefix` (its first groups, masked). */
export function keyV6(groups: readonly number[], prefix: number): string {
  const used = Math.ceil(prefix / 16);
  let key = '';
  for (let i = 0; i < used; i++) {
    const bits = Math.min(16, prefix - 16 * i);
    key += `${((groups[i] ?? 0) & ((0xffff << (16 - bits)) & 0xffff)).toString(16)},`;
  }
  return key;
}

/**
 * Parses `address` or `address/prefix` into its canonical network. IPv4-mapped IPv6 networks of
 * `/96` or longer become the IPv4 network they are. Refuses zones, and host bits set after the
 * prefix (`10.1.2.3/8` is more likely a typo than a wish to cover 16 million addresses).
 */
export function parseNetwork(text: string): { network: Network } | { error: string } {
  const slash = text.indexOf('/');
  const addressText = slash >= 0 ? text.slice(0, slash) : text;
  if (addressText.includes('%')) return { error: 'a zone (%…) is not allowed' };
  const address = parseAddress(addressText);
  if (!address) return { error: 'not an IPv4 or IPv6 address' };
  const max = address.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits) || Number(digits) > max) {
      return { error: `the prefix length must be 0 to ${max}` };
    }
    prefix = Number(digits);
  }
  const network = asNetwork(address, prefix);
  const masked = withHostBitsCleared(network);
  if (!sameNetwork(network, masked)) {
    return {
      error: `host bits are set after /${prefix}: did you mean ${formatNetwork(masked)}?`,
    };
  }
  if (network.family === 6 && network.prefix >= 96 && isMapped(network.groups)) {
    const v4 = unmapped(network);
    if (v4.family === 4) return { network: { ...v4, prefix: network.prefix - 96 } };
  }
  return { network };
}

function asNetwork(address: Address, prefix: number): Network {
  return address.family === 4
    ? { family: 4, value: address.value, prefix }
    : { family: 6, groups: address.groups, prefix };
}

function withHostBitsCleared(network: Network): Network {
  return network.family === 4
    ? { ...network, value: (network.value & maskV4(network.prefix)) >>> 0 }
    : { ...network, groups: maskV6(network.groups, network.prefix) };
}

function sameNetwork(a: Network, b: Network): boolean {
  if (a.family === 4 && b.family === 4) return a.value === b.value && a.prefix === b.prefix;
  if (a.family === 6 && b.family === 6) {
    return a.prefix === b.prefix && a.groups.every((g, i) => g === b.groups[i]);
  }
  return false;
}

/** `address` for a single address (`/32`, `/128`), else `address/prefix`. */
export function formatNetwork(network: Network): string {
  const text = formatAddress(network);
  return network.prefix === (network.family === 4 ? 32 : 128) ? text : `${text}/${network.prefix}`;
}
