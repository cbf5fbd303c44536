import { createHmac } from 'node:crypto';

/** A time-limited TURN credential in the coturn REST API form (`use-auth-secret`). */
export interface TurnRestCredential {
  /** `<expiry unix seconds>:<subject>`, the STUN USERNAME. */
  readonly username: string;
  /** base64(HMAC-SHA1(secret, username)), the TURN password. */
  readonly credential: string;
  /** When coturn stops accepting it (second precision). */
  readonly expiresAt: Date;
  readonly ttlSeconds: number;
}

/** Longest credential lifetime accepted: one day, so a leaked credential is not useful for long. */
export const TURN_CREDENTIAL_MAX_TTL_SECONDS = 86_400;

// Visible ASCII except ':' (coturn's default `rest-api-separator`). Space is left out too: the
// username is printed unquoted in coturn's log lines and is awkward in every tool that splits on it.
const SUBJECT = /^[\x21-\x39\x3b-\x7e]{1,128}$/;

/**
 * Mints a coturn TURN REST API credential.
 *
 * The timestamp in the username is the EXPIRY, not the issue time: coturn accepts the credential
 * while `now <= timestamp` (userdb.c, `turn_time_before(ts, now)`), so it is
 * `floor(nowMs / 1000) + ttlSeconds`.
 *
 * @param secret - one of the shared secrets coturn knows (static or in its user database).
 * @param subject - who the credential is for; 1 to 128 visible ASCII characters, no ':'.
 * @param ttlSeconds - lifetime, an integer from 1 to 86400.
 * @param nowMs - the clock, for tests. Default: `Date.now()`.
 * @throws RangeError when an argument is out of range (the message never contains the secret).
 */
export function turnRestCredential(
  secret: Buffer | string,
  subject: string,
  ttlSeconds: number,
  nowMs: number = Date.now(),
): TurnRestCredential {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (key.length === 0) throw new RangeError('TURN secret must not be empty');
  // coturn reads secrets as C strings (strlen): a NUL byte would silently shorten the key there.
  if (key.includes(0)) throw new RangeError('TURN secret must not contain NUL bytes');
  if (!SUBJECT.test(subject)) {
    throw new RangeError(
      'TURN credential subject must be 1 to 128 visible ASCII characters without ":" or space',
    );
  }
  if (
    !Number.isInteger(ttlSeconds) ||
    ttlSeconds < 1 ||
    ttlSeconds > TURN_CREDENTIAL_MAX_TTL_SECONDS
  ) {
    throw new RangeError(
      `TURN credential ttlSeconds must be an integer from 1 to ${TURN_CREDENTIAL_MAX_TTL_SECONDS}, got ${ttlSeconds}`,
    );
  }
  if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a finite number, got ${nowMs}`);
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiry}:${subject}`;
  const credential = createHmac('sha1', key).update(username, 'utf8').digest('base64');
  return { username, credential, expiresAt: new Date(expiry * 1000), ttlSeconds };
}
