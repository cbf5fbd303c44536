import { BlockList } from 'node:net';
import { BanMatcher, LocalBans, compileBan, storedBan, type BanRecord } from './ban-matcher.js';
import type { BanChange } from './ban-list.js';
import { formatAddress, formatNetwork, maskV4, maskV6, type Network } from './ip-address.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

function ban(target: string, options: { expiresAt?: number; reason?: string } = {}): BanRecord {
  const record = compileBan(
    target,
    storedBan({
      addedAt: new Date(T0).toISOString(),
      expiresAt: options.expiresAt === undefined ? null : new Date(options.expiresAt).toISOString(),
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
    }),
    T0,
  );
  if (!record) throw new Error(`not a target: ${target}`);
  return record;
}

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

describe('BanMatcher', () => {
  it('finds nothing when empty, and nothing for what is no address', () => {
    expect(new BanMatcher([]).match('192.0.2.1', T0)).toBeNull();
    expect(new BanMatcher([ban('0.0.0.0/0')]).match('garbage', T0)).toBeNull();
  });

  it('matches addresses and CIDRs of both families, and IPv4-mapped clients', () => {
    const matcher = new BanMatcher([
      ban('192.0.2.7'),
      ban('198.51.100.0/24'),
      ban('2001:db8::/32'),
      ban('2001:db9::1'),
    ]);
    const hit = (ip: string) => matcher.match(ip, T0)?.entry.target ?? null;
    expect(hit('192.0.2.7')).toBe('192.0.2.7');
    expect(hit('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(hit('192.0.2.8')).toBeNull();
    expect(hit('198.51.100.0')).toBe('198.51.100.0/24');
    expect(hit('198.51.100.255')).toBe('198.51.100.0/24');
    expect(hit('198.51.101.0')).toBeNull();
    expect(hit('2001:db8:ffff::1')).toBe('2001:db8::/32');
    expect(hit('2001:DB8::')).toBe('2001:db8::/32');
    expect(hit('2001:db9::1')).toBe('2001:db9::1');
    expect(hit('2001:db9::2')).toBeNull();
  });

  it('lets an IPv6 ban of /96 or shorter cover the IPv4 addresses inside it', () => {
    expect(new BanMatcher([ban('::/0')]).match('192.0.2.1', T0)).not.toBeNull();
    expect(new BanMatcher([ban('::ffff:0:0/96')]).match('192.0.2.1', T0)).not.toBeNull();
    expect(new BanMatcher([ban('2001:db8::/32')]).match('192.0.2.1', T0)).toBeNull();
  });

  it('returns the most specific ban in force, skipping expired ones', () => {
    const matcher = new BanMatcher([
      ban('10.0.0.0/8', { reason: 'wide' }),
      ban('10.1.0.0/16', { reason: 'narrow', expiresAt: T0 + 1000 }),
      ban('10.1.2.3', { reason: 'one', expiresAt: T0 + 500 }),
    ]);
    const reason = (now: number) => matcher.match('10.1.2.3', now)?.entry.reason;
    expect(reason(T0)).toBe('one');
    expect(reason(T0 + 499)).toBe('one');
    expect(reason(T0 + 500)).toBe('narrow');
    expect(reason(T0 + 1000)).toBe('wide');
    expect(new BanMatcher([ban('10.1.2.3', { expiresAt: T0 })]).match('10.1.2.3', T0)).toBeNull();
  });

  it('agrees with net.BlockList on random bans and addresses', () => {
    const next = random(7);
    const int = (n: number) => Math.floor(next() * n);
    const networks: Network[] = [];
    for (let i = 0; i < 300; i++) {
      if (next() < 0.5) {
        const prefix = [8, 16, 20, 24, 28, 31, 32][int(7)]!;
        const value = (int(2 ** 32) & maskV4(prefix)) >>> 0;
        networks.push({ family: 4, value, prefix });
      } else {
        const prefix = [16, 32, 48, 64, 80, 96, 112, 127, 128][int(9)]!;
        // Few distinct leading groups, so that queries land inside bans often.
        const groups = [0x2001, 0xdb8, int(4), int(4), int(3), int(3), int(0x10000), int(0x10000)];
        networks.push({ family: 6, groups: maskV6(groups, prefix), prefix });
      }
    }
    const records = networks.map((n) => ban(formatNetwork(n)));
    const matcher = new BanMatcher(records);
    const oracle = new BlockList();
    for (const { network } of records) {
      oracle.addSubnet(
        formatAddress(network),
        network.prefix,
        network.family === 4 ? 'ipv4' : 'ipv6',
      );
    }
    let hits = 0;
    const disagreements: { ip: string; expected: boolean }[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Half the queries are inside a ban's network, with random host bits.
      const base = networks[int(networks.length)]!;
      let ip: string;
      if (base.family === 4) {
        const host =
          next() < 0.5 ? base.value | (int(2 ** 32) & ~maskV4(base.prefix)) : int(2 ** 32);
        ip = formatAddress({ family: 4, value: host >>> 0 });
        if (next() < 0.2) ip = `::ffff:${ip}`;
      } else {
        const random6 = [0x2001, 0xdb8, int(4), int(4), int(3), int(3), int(0x10000), int(0x10000)];
        const groups =
          next() < 0.5
            ? base.groups.map(
                (g, j) =>
                  g |
                  (random6[j]! &
                    ~maskV6(
                      [0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff],
                      base.prefix,
                    )[j]!),
              )
            : random6;
        ip = formatAddress({ family: 6, groups });
      }
      const expected = oracle.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
      const got = matcher.match(ip, T0);
      if ((got !== null) !== expected) disagreements.push({ ip, expected });
      if (got) hits++;
    }
    expect(disagreements).toEqual([]);
    // The test means something only if both outcomes occur often.
    expect(hits).toBeGreaterThan(5000);
    expect(hits).toBeLessThan(18_000);
  });
});

describe('compileBan', () => {
  it('refuses a field that is no target', () => {
    expect(compileBan('not-an-ip', '{}', T0)).toBeNull();
  });

  it('enforces a target whose value is unreadable, until removed', () => {
    const record = compileBan('2001:DB8::1', '{oops', T0)!;
    expect(record.unreadable).toBe(true);
    expect(record.entry).toEqual({
      target: '2001:db8::1',
      addedAt: new Date(T0).toISOString(),
      expiresAt: null,
    });
    expect(new BanMatcher([record]).match('2001:db8::1', T0 + 1e12)).not.toBeNull();
  });
});

describe('LocalBans', () => {
  it('tells listeners what a reload added and removed, and nothing for an unchanged value', () => {
    const local = new LocalBans();
    const changes: BanChange[] = [];
    local.onChange((c) => changes.push(c));
    const a = ban('192.0.2.1');
    const b = ban('192.0.2.2');
    local.replace(new Map([[a.entry.target, a]]), T0);
    local.replace(
      new Map([
        [a.entry.target, ban('192.0.2.1')],
        [b.entry.target, b],
      ]),
      T0,
    );
    local.replace(new Map([[b.entry.target, ban('192.0.2.2', { reason: 'changed' })]]), T0);
    expect(changes).toEqual([
      { added: [a.entry], removed: [] },
      { added: [b.entry], removed: [] },
      { added: [{ ...b.entry, reason: 'changed' }], removed: [a.entry] },
    ]);
  });

  it('drops bans found expired, reporting them removed', () => {
    const local = new LocalBans();
    const record = ban('192.0.2.1', { expiresAt: T0 + 10 });
    local.put(record, T0);
    const changes: BanChange[] = [];
    local.onChange((c) => changes.push(c));
    local.replace(new Map([[record.entry.target, record]]), T0 + 10);
    expect(changes).toEqual([{ added: [], removed: [record.entry] }]);
    expect(local.match('192.0.2.1', T0)).toBeNull();
  });

  it('keeps telling the other listeners when one throws', () => {
    const local = new LocalBans();
    const heard: string[] = [];
    local.onChange(() => {
      throw new Error('boom');
    });
    const stop = local.onChange((c) => heard.push(c.added[0]!.target));
    local.put(ban('192.0.2.1'), T0);
    stop();
    local.put(ban('192.0.2.2'), T0);
    expect(heard).toEqual(['192.0.2.1']);
  });
});
