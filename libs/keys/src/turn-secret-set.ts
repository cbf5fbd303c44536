import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const REALM = /^[A-Za-z0-9.-]{1,253}$/;

/** What {@link TurnSecretSet.reconcile} changed; counts only, never secret values. */
export interface TurnSecretReconcileResult {
  readonly added: number;
  readonly removed: number;
}

/**
 * The TURN REST API shared secrets of one coturn realm, kept in coturn's Redis user database
 * (`redis-userdb`): the Redis SET `turn/realm/<realm>/secret` (turndb/schema.userdb.redis).
 * coturn reads the whole set on every authentication and accepts a credential signed with any
 * member, so rotation is: add the new secret, mint with it, remove the old one once every credential
 * minted with it has expired.
 *
 * The client must use the same database number as coturn's `dbname` and no `keyPrefix`.
 * Secret values never appear in what this class returns or throws.
 */
export class TurnSecretSet {
  /** The Redis key coturn reads. */
  readonly key: string;

  /**
   * @param redis - a connection to coturn's user database.
   * @param realm - coturn's `realm`; letters, digits, '.' and '-', at most 253 characters.
   * @throws RangeError when the realm is malformed or the client has a `keyPrefix`.
   */
  constructor(
    private readonly redis: Redis,
    readonly realm: string,
  ) {
    // The realm goes into a key name and, in coturn 4.6.x, into a printf-style Redis command.
    if (!REALM.test(realm)) {
      throw new RangeError(
        `TURN realm must match ${String(REALM)} (letters, digits, '.', '-'; at most 253)`,
      );
    }
    // coturn reads the bare key name: a prefixed key would be invisible to it.
    if (redis.options.keyPrefix) {
      throw new RangeError('TURN secret set needs a Redis client without keyPrefix');
    }
    this.key = `turn/realm/${realm}/secret`;
  }

  /**
   * Makes the set exactly `secrets`, atomically: in one MULTI/EXEC the missing secrets are added
   * first and the others removed after, so coturn never sees a set with neither the old nor the new
   * secret.
   *
   * @param secrets - the secrets to keep; at least one (an empty set would refuse every credential).
   * @throws RangeError when a secret is empty or has a NUL byte (named by position, not value).
   * @throws Error when Redis fails; the message names the key, never a secret.
   */
  async reconcile(secrets: readonly string[]): Promise<TurnSecretReconcileResult> {
    if (secrets.length === 0) {
      throw new RangeError(
        'TURN secret set needs at least one secret: an empty set refuses every credential',
      );
    }
    secrets.forEach((secret, i) => {
      if (typeof secret !== 'string' || secret.length === 0) {
        throw new RangeError(`TURN secret #${i} is empty`);
      }
      // coturn reads each member as a C string: after a NUL its key would differ from ours.
      if (secret.includes('\0')) throw new RangeError(`TURN secret #${i} contains a NUL byte`);
    });
    const wanted = [...new Set(secrets)];
    // Removing "everything not wanted" needs no read-modify-write: the wanted set goes to a scratch
    // key and SINTERSTORE keeps only those members. The scratch key exists only inside EXEC, so
    // nobody (coturn included) can observe it, and there is no WATCH retry loop.
    const scratch = `${this.key}/reconcile/${randomUUID()}`;
    const replies = await this.run(() =>
      this.redis
        .multi()
        .sadd(this.key, ...wanted)
        .scard(this.key)
        .sadd(scratch, ...wanted)
        .sinterstore(this.key, this.key, scratch)
        .del(scratch)
        .exec(),
    );
    if (!replies) throw new Error(`TURN secret set ${this.key}: transaction was aborted`);
    const values = replies.map(([error, value]) => {
      if (error) throw this.safeError(error);
      return Number(value);
    });
    const [added = 0, afterAdd = 0, , remaining = 0] = values;
    return { added, removed: afterAdd - remaining };
  }

  /** How many secrets coturn currently accepts in this realm (static ones not counted). */
  async count(): Promise<number> {
    return this.run(() => this.redis.scard(this.key));
  }

  /** Whether `secret` is in the set. */
  async has(secret: string): Promise<boolean> {
    return (await this.run(() => this.redis.sismember(this.key, secret))) === 1;
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw this.safeError(error);
    }
  }

  // ioredis attaches the failed command with its arguments (`error.command.args`) to a reply
  // error, and a logger serialising the error would print the secrets. Only the message is kept,
  // and not as `cause`, for the same reason.
  private safeError(error: unknown): Error {
    const message = error instanceof Error ? error.message : String(error);
    return new Error(`TURN secret set ${this.key}: ${message}`);
  }
}
