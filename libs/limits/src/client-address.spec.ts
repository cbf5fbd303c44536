import { UNKNOWN_ADDRESS, createClientAddressResolver } from './client-address.js';
import { LimitsErrorCode } from './limits.errors.js';

function request(remoteAddress: string | undefined, xff?: string | string[]) {
  return {
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
    socket: { remoteAddress },
  } as Parameters<ReturnType<typeof createClientAddressResolver>>[0];
}

describe('createClientAddressResolver', () => {
  describe('without trusted proxies', () => {
    const resolve = createClientAddressResolver([]);

    it('takes the socket address and ignores X-Forwarded-For', () => {
      expect(resolve(request('198.51.100.4', '203.0.113.7'))).toBe('198.51.100.4');
    });

    it('gives IPv4 clients of a dual-stack socket as IPv4, IPv6 in canonical form', () => {
      expect(resolve(request('::ffff:198.51.100.4'))).toBe('198.51.100.4');
      expect(resolve(request('2001:DB8:0:0::7'))).toBe('2001:db8::7');
    });

    it('attributes a request whose socket is gone to the unknown address', () => {
      expect(resolve(request(undefined))).toBe(UNKNOWN_ADDRESS);
    });
  });

  describe('behind proxies on loopback', () => {
    const resolve = createClientAddressResolver(['loopback']);

    it.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])(
      'believes the proxy at %s',
      (proxy) => {
        expect(resolve(request(proxy, '203.0.113.7'))).toBe('203.0.113.7');
      },
    );

    it('ignores X-Forwarded-For from a client that is not a trusted proxy', () => {
      expect(resolve(request('198.51.100.4', '127.0.0.1'))).toBe('198.51.100.4');
    });

    it('takes the proxy itself when it forwards no X-Forwarded-For', () => {
      expect(resolve(request('127.0.0.1'))).toBe('127.0.0.1');
      expect(resolve(request('127.0.0.1', '  '))).toBe('127.0.0.1');
    });
  });

  describe('behind a chain of proxies', () => {
    const resolve = createClientAddressResolver(['10.0.0.0/8', '2001:db8:ffff::/48']);

    it('takes the first untrusted hop from the right, not a spoofed leftmost entry', () => {
      expect(resolve(request('10.0.0.1', '198.51.100.1, 203.0.113.7, 10.0.0.2'))).toBe(
        '203.0.113.7',
      );
    });

    it('takes the leftmost hop when every hop is trusted', () => {
      expect(resolve(request('10.0.0.1', '10.0.0.5, 10.0.0.2'))).toBe('10.0.0.5');
    });

    it('joins several X-Forwarded-For headers in order', () => {
      expect(resolve(request('10.0.0.1', ['198.51.100.1', '203.0.113.7, 10.0.0.2']))).toBe(
        '203.0.113.7',
      );
    });

    it('does not believe garbage: the trusted hop that reported it is the client', () => {
      expect(resolve(request('10.0.0.1', '203.0.113.7, garbage'))).toBe('10.0.0.1');
      expect(resolve(request('10.0.0.1', 'garbage, 10.0.0.3'))).toBe('10.0.0.3');
      expect(resolve(request('10.0.0.1', '203.0.113.7,,10.0.0.2'))).toBe('10.0.0.2');
      expect(resolve(request('10.0.0.1', 'unknown'))).toBe('10.0.0.1');
    });

    it('ignores garbage left of the client (the client wrote it)', () => {
      expect(resolve(request('10.0.0.1', 'garbage, 203.0.113.7'))).toBe('203.0.113.7');
    });

    it('reads hops with ports, brackets, IPv6 and IPv4-mapped forms', () => {
      expect(resolve(request('10.0.0.1', '203.0.113.7:5555'))).toBe('203.0.113.7');
      expect(resolve(request('10.0.0.1', '[2001:DB8::7]:443'))).toBe('2001:db8::7');
      expect(resolve(request('10.0.0.1', '[2001:db8::7]'))).toBe('2001:db8::7');
      expect(resolve(request('10.0.0.1', '::ffff:203.0.113.7'))).toBe('203.0.113.7');
      expect(resolve(request('2001:db8:ffff::1', '2001:0DB8:0:0::1234'))).toBe('2001:db8::1234');
      expect(resolve(request('::ffff:10.0.0.1', '203.0.113.7'))).toBe('203.0.113.7');
    });

    it('follows at most 32 trusted hops', () => {
      const hops = ['203.0.113.7', ...Array.from({ length: 40 }, (_, i) => `10.0.1.${i}`)];
      expect(resolve(request('10.0.0.1', hops.join(', ')))).toBe('10.0.1.8');
    });

    it('never throws, whatever the headers hold', () => {
      const odd = { headers: { 'x-forwarded-for': 42 }, socket: { remoteAddress: '10.0.0.1' } };
      expect(resolve(odd as never)).toBe('10.0.0.1');
      expect(resolve(request('10.0.0.1', 'x'.repeat(100_000)))).toBe('10.0.0.1');
    });
  });

  it.each(['999.1.1.1', '10.1.2.3/8', 'localhost', '::1/129'])(
    'refuses the trusted proxy %j at creation',
    (entry) => {
      expect(() => createClientAddressResolver([entry])).toThrow(
        expect.objectContaining({ code: LimitsErrorCode.InvalidOption }),
      );
    },
  );
});
