import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Codes of {@link RedisPasswordError}. */
export enum RedisPasswordErrorCode {
  /** An empty password list (or an empty password) was refused: it would lock every client out. */
  EmptyPasswordList = 'redis_empty_password_list',
  /** `ACL GETUSER` knows no such user; reconciling never creates one. */
  UnknownUser = 'redis_unknown_acl_user',
  /** `ACL GETUSER` answered in a shape this version does not understand. */
  UnexpectedReply = 'redis_unexpected_acl_reply',
  /** An `ACL` command failed (no permission, connection lost, …). Nothing was changed. */
  AclCommandFailed = 'redis_acl_command_failed',
  /** `AUTH` with the new password failed; the connection still uses the previous one. */
  AuthFailed = 'redis_auth_failed',
}

/**
 * Raised by password rotation. Its message never contains a password or a password hash, and it
 * carries no `cause`: ioredis errors hold the command's arguments, secrets included.
 */
export class RedisPasswordError extends Error {
  override readonly name = 'RedisPasswordError';

  constructor(
    readonly code: RedisPasswordErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isRedisPasswordError(error: unknown): error is RedisPasswordError {
  return error instanceof RedisPasswordError;
}

/**
 * The form in which Redis stores an ACL password and lists it under `passwords` in
 * `ACL GETUSER`: lowercase hex SHA-256. `!<hash>` removes a password by it.
 */
export function aclPasswordHash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}

/** What {@link reconcileAclPasswords} needs of an `ACL GETUSER` reply. */
export interface AclUserPasswords {
  readonly flags: readonly string[];
  /** SHA-256 hex of each password the user accepts. */
  readonly passwordHashes: readonly string[];
}

function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

function asTextList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const texts = value.map(asText);
  return texts.every((t) => t !== undefined) ? texts : undefined;
}

function replyFields(reply: unknown): Map<string, unknown> | undefined {
  // RESP2, and RESP3 under ioredis' default "legacy" mapping: a flat [field, value, …] array.
  if (Array.isArray(reply)) {
    if (reply.length % 2 !== 0) return undefined;
    const fields = new Map<string, unknown>();
    for (let i = 0; i < reply.length; i += 2) {
      const key = asText(reply[i]);
      if (key === undefined) return undefined;
      fields.set(key, reply[i + 1]);
    }
    return fields;
  }
  // RESP3 with replyMapping "resp3" turns the map into an object (or a Map, depending on mapping).
  if (reply instanceof Map) {
    return new Map([...reply].map(([k, v]): [string, unknown] => [String(k), v]));
  }
  if (typeof reply === 'object' && reply !== null) return new Map(Object.entries(reply));
  return undefined;
}

/**
 * Parses an `ACL GETUSER` reply. `null` means no such user (that is what Redis answers); throws
 * {@link RedisPasswordError} on a shape it does not know rather than guess which passwords exist.
 */
export function parseAclGetUserReply(reply: unknown): AclUserPasswords | null {
  if (reply === null || reply === undefined) return null;
  const fields = replyFields(reply);
  const flags = asTextList(fields?.get('flags'));
  const passwordHashes = asTextList(fields?.get('passwords'));
  if (!flags || !passwordHashes || !passwordHashes.every((h) => /^[0-9a-f]{64}$/.test(h))) {
    throw new RedisPasswordError(
      RedisPasswordErrorCode.UnexpectedReply,
      'ACL GETUSER reply has no readable "flags" and "passwords" fields',
    );
  }
  return { flags, passwordHashes };
}

const REDACTED = '[redacted]';

/**
 * Removes secrets from a Redis/ioredis error message. Redis echoes a failing ACL SETUSER modifier
 * (`>password`, `<password`, `!hash`) in its error, with CR and LF turned into spaces, so both
 * forms are scrubbed, and the echoed modifier is blanked whatever it holds.
 */
export function redactSecrets(message: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    forms.add(secret);
    forms.add(secret.replace(/[\r\n]/g, ' '));
  }
  let text = message;
  // Longest first, so that a secret containing a shorter one is not left half-scrubbed.
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    text = text.split(form).join(REDACTED);
  }
  return text.replace(/(modifier|selector) '.*': /s, `$1 '${REDACTED}': `);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function aclCommand(
  client: Redis,
  args: readonly string[],
  secrets: readonly string[],
): Promise<unknown> {
  try {
    return await client.call('ACL', ...args);
  } catch (error) {
    throw new RedisPasswordError(
      RedisPasswordErrorCode.AclCommandFailed,
      `ACL ${args[0] ?? ''} ${args[1] ?? ''} failed: ${redactSecrets(messageOf(error), secrets)}`,
    );
  }
}

/**
 * Makes the ACL user's passwords exactly `passwords` (any order, duplicates ignored) and returns
 * how many were added and removed. Missing ones are added and extra ones removed in one atomic
 * `ACL SETUSER`, adds before removes, so a client holding either the old or the new password can
 * always authenticate. Redis 7.0 does not disconnect clients whose password was removed; they
 * fail only on their next AUTH (e.g. a reconnect), which is why every process should switch to
 * the new one (`RedisConnection.switchPassword`, `applyPassword`) before the old one is removed.
 *
 * Rotation is therefore three steps: reconcile `[old, new]`, switch every process to `new`,
 * reconcile `[new]`.
 *
 * Works for the `default` user (where `requirepass` lives). Never sets `nopass`: an empty list
 * or an empty password throws. Neither a password nor its hash appears in what it returns or
 * throws. The read-then-write is not atomic against a concurrent reconcile of the same user.
 *
 * @param client a connection allowed to run `ACL GETUSER` and `ACL SETUSER`
 * @param username the ACL user, e.g. `default` or `sscontrol`
 * @param passwords the passwords the user should accept from now on
 */
export async function reconcileAclPasswords(
  client: Redis,
  username: string,
  passwords: readonly string[],
): Promise<{ added: number; removed: number }> {
  if (passwords.length === 0 || passwords.some((p) => p.length === 0)) {
    throw new RedisPasswordError(
      RedisPasswordErrorCode.EmptyPasswordList,
      `refusing to leave ACL user ${username} with an empty password list or an empty password`,
    );
  }
  const wanted = new Map(passwords.map((p) => [aclPasswordHash(p), p]));
  const user = parseAclGetUserReply(await aclCommand(client, ['GETUSER', username], []));
  if (!user) {
    throw new RedisPasswordError(
      RedisPasswordErrorCode.UnknownUser,
      `ACL user ${username} does not exist`,
    );
  }
  const current = new Set(user.passwordHashes);
  const add = [...wanted].filter(([hash]) => !current.has(hash)).map(([, p]) => `>${p}`);
  const remove = [...current].filter((hash) => !wanted.has(hash)).map((hash) => `!${hash}`);
  if (add.length + remove.length > 0) {
    const secrets = [...passwords, ...wanted.keys(), ...current];
    await aclCommand(client, ['SETUSER', username, ...add, ...remove], secrets);
  }
  return { added: add.length, removed: remove.length };
}
