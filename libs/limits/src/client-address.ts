import type { IncomingMessage } from 'node:http';
import { BlockList } from 'node:net';
import { formatAddress, normalizeAddress, parseNetwork } from './ip-address.js';
import { LimitsError, LimitsErrorCode } from './limits.errors.js';

/** The parts of a request the resolver reads. */
export type AddressedRequest = Pick<IncomingMessage, 'headers'> & {
  readonly socket: { readonly remoteAddress?: string | undefined };
};

/** Finds the client address of a request; never throws. */
export type ClientAddressResolver = (req: AddressedRequest) => string;

/** What a request whose socket is already gone is attributed to (an address the audit accepts). */
export const UNKNOWN_ADDRESS = '0.0.0.0';

/** A proxy chain longer than this is not followed further (the header is attacker-extendable). */
const MAX_HOPS = 32;

/**
 * Compiles `SIGNALING_TRUST_PROXY` (addresses, CIDRs, or `loopback` for 127.0.0.0/8 and ::1) into
 * a resolver of the client address, in canonical text (IPv4-mapped IPv6 as IPv4, IPv6 per RFC 5952).
 *
 * The socket's peer is the client unless it is a trusted proxy. Then `X-Forwarded-For` (every such
 * header, in order) is read right to left: each trusted hop is skipped and the first untrusted
 * address is the client. If every hop is trusted, the leftmost is. An entry that is not an address
 * (`unknown`, garbage, empty) ends the walk at the trusted hop that reported it: garbage is not
 * believed. Only `X-Forwarded-For` is read; `X-Real-IP` and `Forwarded` are ignored, so a proxy
 * must append to `X-Forwarded-For` (nginx: `proxy_add_x_forwarded_for`).
 *
 * Throws {@link LimitsError} (`invalid_option`) at creation for an entry that is no address or
 * CIDR; the resolver itself never throws.
 */
export function createClientAddressResolver(trustProxy: readonly string[]): ClientAddressResolver {
  const trusted = compileTrusted(trustProxy);
  return (req) => {
    const peer = normalizeAddress(req.socket.remoteAddress ?? '') ?? UNKNOWN_ADDRESS;
    if (!trusted || !isTrusted(trusted, peer)) return peer;
    try {
      const header = req.headers['x-forwarded-for'];
      const text = Array.isArray(header) ? header.join(',') : header;
      if (text === undefined || text.trim() === '') return peer;
      const hops = text.split(',');
      let client = peer;
      for (let i = hops.length - 1, n = 0; i >= 0 && n < MAX_HOPS; i--, n++) {
        const hop = normalizeAddress(stripPort((hops[i] ?? '').trim()));
        if (hop === null) return client;
        client = hop;
        if (!isTrusted(trusted, hop)) return hop;
      }
      return client;
    } catch {
      return peer;
    }
  };
}

function isTrusted(list: BlockList, address: string): boolean {
  return list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

/** `192.0.2.1:1234` and `[2001:db8::1]:1234` (some proxies add the port) as the address alone. */
function stripPort(hop: string): string {
  if (hop.startsWith('[')) {
    const end = hop.indexOf(']');
    const rest = hop.slice(end + 1);
    return end > 0 && (rest === '' || /^:\d{1,5}$/.test(rest)) ? hop.slice(1, end) : hop;
  }
  const colon = hop.indexOf(':');
  if (colon > 0 && colon === hop.lastIndexOf(':') && /^:\d{1,5}$/.test(hop.slice(colon))) {
    return hop.slice(0, colon);
  }
  return hop;
}

function compileTrusted(entries: readonly string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    if (entry === 'loopback') {
      list.addSubnet('127.0.0.0', 8, 'ipv4');
      list.addAddress('::1', 'ipv6');
      continue;
    }
    const parsed = parseNetwork(entry);
    if ('error' in parsed) {
      throw new LimitsError(
        LimitsErrorCode.InvalidOption,
        `trusted proxy ${JSON.stringify(entry)} is not an address, a CIDR or "loopback": ${parsed.error}`,
      );
    }
    // Client addresses are canonical (IPv4-mapped ones are IPv4), and so are parsed networks.
    const { network } = parsed;
    list.addSubnet(formatAddress(network), network.prefix, network.family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}
