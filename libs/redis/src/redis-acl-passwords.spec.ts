import {
  RedisPasswordErrorCode,
  aclPasswordHash,
  parseAclGetUserReply,
  redactSecrets,
} from './redis-acl-passwords.js';

// Replies as redis-server 7.0 sends them (recorded through ioredis 6).
const hashOfOld = 'cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4';
const flatReply = [
  'flags',
  ['on'],
  'passwords',
  [hashOfOld],
  'commands',
  '+@all',
  'keys',
  '~*',
  'channels',
  '&*',
  'selectors',
  [],
];

describe('aclPasswordHash', () => {
  it('is the lowercase hex SHA-256 Redis lists under "passwords"', () => {
    expect(aclPasswordHash('old')).toBe(hashOfOld);
    expect(aclPasswordHash('')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('hashes the UTF-8 bytes, as redis-cli would send them', () => {
    expect(aclPasswordHash('é')).toBe(
      '4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c',
    );
  });
});

describe('parseAclGetUserReply', () => {
  it('reads the flat field/value array of RESP2 (and RESP3 under the legacy mapping)', () => {
    expect(parseAclGetUserReply(flatReply)).toEqual({ flags: ['on'], passwordHashes: [hashOfOld] });
  });

  it('reads the default user without a password', () => {
    const reply = ['flags', ['on', 'nopass'], 'passwords', [], 'commands', '+@all'];
    expect(parseAclGetUserReply(reply)).toEqual({ flags: ['on', 'nopass'], passwordHashes: [] });
  });

  it('reads Buffers and the object a RESP3 map becomes', () => {
    const buffers = [
      Buffer.from('flags'),
      [Buffer.from('on')],
      'passwords',
      [Buffer.from(hashOfOld)],
    ];
    expect(parseAclGetUserReply(buffers)?.passwordHashes).toEqual([hashOfOld]);
    expect(parseAclGetUserReply({ flags: ['on'], passwords: [hashOfOld] })?.flags).toEqual(['on']);
    expect(
      parseAclGetUserReply(
        new Map<string, unknown>([
          ['flags', []],
          ['passwords', []],
        ]),
      ),
    ).toEqual({ flags: [], passwordHashes: [] });
  });

  it('says null for an unknown user', () => {
    expect(parseAclGetUserReply(null)).toBeNull();
  });

  it.each([
    ['an odd-length array', ['flags', ['on'], 'passwords']],
    ['no passwords field', ['flags', ['on']]],
    ['a password that is not a hash', ['flags', ['on'], 'passwords', ['old']]],
    ['a scalar', 'OK'],
  ])('refuses %s rather than guess', (_name, reply) => {
    expect(() => parseAclGetUserReply(reply)).toThrow(
      expect.objectContaining({ code: RedisPasswordErrorCode.UnexpectedReply }),
    );
  });
});

describe('redactSecrets', () => {
  it('scrubs secrets, their CR/LF-as-space form, and any echoed ACL SETUSER modifier', () => {
    const secret = 'pa\r\nss';
    const redacted = redactSecrets(
      `ERR Error in ACL SETUSER modifier '>pa  ss': Syntax error; also pa  ss and ${secret}`,
      [secret],
    );
    expect(redacted).toBe(
      "ERR Error in ACL SETUSER modifier '[redacted]': Syntax error; also [redacted] and [redacted]",
    );
  });

  it('blanks an echoed modifier even when the secret is unknown', () => {
    expect(
      redactSecrets(
        "ERR Error in ACL SETUSER modifier '<elsewhere': The password you are trying to remove from the user does not exist",
        [],
      ),
    ).not.toContain('elsewhere');
  });

  it('leaves other messages alone', () => {
    expect(
      redactSecrets('WRONGPASS invalid username-password pair or user is disabled.', ['x1']),
    ).toBe('WRONGPASS invalid username-password pair or user is disabled.');
  });
});
