import { turnRestCredential } from './turn-credentials.js';

describe('turnRestCredential', () => {
  // Expected values computed outside Node, with:
  //   printf '%s' '1700003600:ninefingers' | openssl dgst -sha1 -hmac 'logen' -binary | base64
  //   printf '%s' '1700000061:user-42' | openssl dgst -sha1 -hmac 'bloody9' -binary | base64
  it('puts the expiry (now + ttl) in the username and signs it with HMAC-SHA1', () => {
    const c = turnRestCredential('logen', 'ninefingers', 3600, 1_700_000_000_000);
    expect(c).toEqual({
      username: '1700003600:ninefingers',
      credential: 'WOqPUm5tUcZukMfF9N2zZ0u0cFE=',
      expiresAt: new Date('2023-11-14T23:13:20.000Z'),
      ttlSeconds: 3600,
    });
  });

  it('rounds the clock down to whole seconds and accepts a Buffer secret', () => {
    const c = turnRestCredential(Buffer.from('bloody9'), 'user-42', 61, 1_700_000_000_999);
    expect(c.username).toBe('1700000061:user-42');
    expect(c.credential).toBe('Zkh0iMdxP5F9pdKQxYiO1ghnn9g=');
    expect(c.expiresAt.getTime()).toBe(1_700_000_061_000);
  });

  it('gives a different credential for another secret', () => {
    const a = turnRestCredential('logen', 'ninefingers', 3600, 1_700_000_000_000);
    const b = turnRestCredential('logen2', 'ninefingers', 3600, 1_700_000_000_000);
    expect(b.username).toBe(a.username);
    expect(b.credential).not.toBe(a.credential);
  });

  it.each([
    ['empty', ''],
    ['the separator', 'a:b'],
    ['a space', 'a b'],
    ['a control character', 'a\nb'],
    ['non-ASCII', 'jürgen'],
    ['129 characters', 'x'.repeat(129)],
  ])('rejects a subject with %s', (_label, subject) => {
    expect(() => turnRestCredential('s', subject, 60, 0)).toThrow(RangeError);
    expect(() => turnRestCredential('s', subject, 60, 0)).toThrow(/subject/);
  });

  it('accepts a 128-character subject', () => {
    expect(turnRestCredential('s', 'x'.repeat(128), 60, 0).username).toBe(`60:${'x'.repeat(128)}`);
  });

  it.each([0, -1, 1.5, 86_401, Number.NaN])('rejects ttlSeconds %p', (ttl) => {
    expect(() => turnRestCredential('s', 'u', ttl, 0)).toThrow(RangeError);
    expect(() => turnRestCredential('s', 'u', ttl, 0)).toThrow(/ttlSeconds/);
  });

  it('accepts the bounds of ttlSeconds', () => {
    expect(turnRestCredential('s', 'u', 1, 0).username).toBe('1:u');
    expect(turnRestCredential('s', 'u', 86_400, 0).username).toBe('86400:u');
  });

  it('rejects an empty secret or one with a NUL byte, without echoing it', () => {
    expect(() => turnRestCredential('', 'u', 60, 0)).toThrow(RangeError);
    let message = '';
    try {
      turnRestCredential('top\0secret', 'u', 60, 0);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/NUL/);
    expect(message).not.toContain('top');
  });

  it('rejects a clock that is not a finite number', () => {
    expect(() => turnRestCredential('s', 'u', 60, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
