import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret setting. Printing, logging, JSON-encoding or inspecting it yields `[redacted]`;
 * only {@link Secret.reveal} returns the value, so a secret cannot reach a log line, an event or
 * an error message by accident.
 */
export class Secret {
  readonly #value: string;

  /**
   * @param value the secret material
   * @param scrub the parts of it that must never be printed; default the whole value (a URL
   *   without a password, say, is a setting worth keeping secret but not worth scrubbing)
   */
  constructor(value: string, scrub: readonly string[] = [value]) {
    this.#value = value;
    for (const part of scrub) if (part) Secret.registry.add(part);
  }

  /** Every secret value this process has loaded; the log redactor scrubs them from every line. */
  static readonly registry = new Set<string>();

  /** The secret material. Call it only where the value is used (a signer, a client connection). */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** True for a {@link Secret}. */
export function isSecret(value: unknown): value is Secret {
  return value instanceof Secret;
}
