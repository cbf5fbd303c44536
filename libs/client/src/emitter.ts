import { ClientError, ClientErrorCode } from './client.errors.js';

/** A handler of one event. */
export type Handler<P> = (payload: P) => void;

/**
 * A small typed event emitter that runs in browsers and Node alike (no `node:events`). A handler
 * that throws does not stop the others: the error goes to {@link Emitter.handlerFailed}.
 */
export class Emitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, Set<Handler<never>>>();

  /** Calls `handler` on every `event` until the returned function is called. */
  on<K extends keyof Events>(event: K, handler: Handler<Events[K]>): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => this.off(event, handler);
  }

  /** Calls `handler` on the next `event` only. */
  once<K extends keyof Events>(event: K, handler: Handler<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      handler(payload);
    });
    return off;
  }

  /**
   * Resolves with the next `event` whose payload passes `match`; rejects with a `timeout`
   * {@link ClientError} after `timeoutMs` (default: waits as long as it takes).
   */
  next<K extends keyof Events>(
    event: K,
    options: { match?: (payload: Events[K]) => boolean; timeoutMs?: number } = {},
  ): Promise<Events[K]> {
    return new Promise((resolve, reject) => {
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              off();
              reject(
                new ClientError(
                  ClientErrorCode.Timeout,
                  `no '${String(event)}' within ${options.timeoutMs} ms`,
                ),
              );
            }, options.timeoutMs);
      const off = this.on(event, (payload) => {
        if (options.match && !options.match(payload)) return;
        if (timer !== undefined) clearTimeout(timer);
        off();
        resolve(payload);
      });
    });
  }

  /** Removes `handler` from `event`. */
  off<K extends keyof Events>(event: K, handler: Handler<Events[K]>): void {
    this.handlers.get(event)?.delete(handler);
  }

  /** Whether anything listens to `event`. */
  protected listens(event: keyof Events): boolean {
    return (this.handlers.get(event)?.size ?? 0) > 0;
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as Handler<Events[K]>)(payload);
      } catch (error) {
        this.handlerFailed(event, error);
      }
    }
  }

  /** A handler of `event` threw. Default: ignored; subclasses report it. */
  protected handlerFailed(_event: keyof Events, _error: unknown): void {}

  /** Drops every handler. */
  protected removeAllHandlers(): void {
    this.handlers.clear();
  }
}
