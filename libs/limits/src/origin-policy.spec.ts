import { LimitsErrorCode } from './limits.errors.js';
import { createOriginPolicy } from './origin-policy.js';

function request(origin: string | undefined, host = 'signal.example.com') {
  return { headers: { ...(origin === undefined ? {} : { origin }), host } };
}

describe('createOriginPolicy', () => {
  describe('with nothing listed', () => {
    const allowed = createOriginPolicy([]);

    it('lets native clients in (no Origin)', () => {
      expect(allowed(request(undefined))).toBe(true);
    });

    it('lets in the page served by the gateway itself (Origin host:port = Host)', () => {
      expect(allowed(request('https://signal.example.com'))).toBe(true);
      expect(allowed(request('https://signal.example.com', 'signal.example.com:443'))).toBe(true);
      expect(allowed(request('http://127.0.0.1:8080', '127.0.0.1:8080'))).toBe(true);
      expect(allowed(request('http://[::1]:8080', '[::1]:8080'))).toBe(true);
      expect(allowed(request('https://SIGNAL.example.com', 'signal.EXAMPLE.com'))).toBe(true);
    });

    it('refuses other sites, and the same host on another port', () => {
      expect(allowed(request('https://evil.example'))).toBe(false);
      expect(allowed(request('https://signal.example.com:8443'))).toBe(false);
      expect(allowed(request('http://127.0.0.1:8081', '127.0.0.1:8080'))).toBe(false);
      expect(allowed(request('https://signal.example.com.evil.example'))).toBe(false);
    });

    it('refuses the null origin and anything that is not a bare http(s) origin', () => {
      expect(allowed(request('null'))).toBe(false);
      expect(allowed(request(''))).toBe(false);
      expect(allowed(request('file:///home/x.html', ''))).toBe(false);
      expect(allowed(request('https://signal.example.com/path'))).toBe(false);
      expect(allowed(request('https://user@signal.example.com'))).toBe(false);
      expect(allowed(request('https://signal.example.com, https://evil.example'))).toBe(false);
    });

    it('refuses when there is no usable Host to compare with', () => {
      expect(allowed({ headers: { origin: 'https://signal.example.com' } })).toBe(false);
      expect(allowed(request('https://a.example', 'a.example/x'))).toBe(false);
      expect(allowed(request('https://a.example', 'evil@a.example'))).toBe(false);
    });
  });

  describe('with origins listed', () => {
    const allowed = createOriginPolicy(['https://app.example.com', 'http://localhost:3000']);

    it('allows exactly the listed scheme, host and port', () => {
      expect(allowed(request('https://app.example.com'))).toBe(true);
      expect(allowed(request('https://APP.example.com:443'))).toBe(true);
      expect(allowed(request('http://localhost:3000'))).toBe(true);
    });

    it('refuses another scheme, port or subdomain', () => {
      expect(allowed(request('http://app.example.com'))).toBe(false);
      expect(allowed(request('https://app.example.com:444'))).toBe(false);
      expect(allowed(request('https://x.app.example.com'))).toBe(false);
      expect(allowed(request('http://localhost:3001'))).toBe(false);
      expect(allowed(request('null'))).toBe(false);
    });

    it('still allows the gateway’s own page and native clients', () => {
      expect(allowed(request('https://signal.example.com'))).toBe(true);
      expect(allowed(request(undefined))).toBe(true);
    });
  });

  it('allows anything, even null, with *', () => {
    const allowed = createOriginPolicy(['*']);
    expect(allowed(request('https://evil.example'))).toBe(true);
    expect(allowed(request('null'))).toBe(true);
  });

  it.each(['app.example.com', 'ftp://app.example.com', 'https://app.example.com/x'])(
    'refuses %j in the list at creation',
    (entry) => {
      expect(() => createOriginPolicy([entry])).toThrow(
        expect.objectContaining({ code: LimitsErrorCode.InvalidOption }),
      );
    },
  );
});
