import type { ClientEvent, ServerEvent, ServerMessage, ServerMessageOf } from '@sscontrol/protocol';
import { ClientError, ClientErrorCode } from './client.errors.js';

/**
 * The frame that answers each request on success: the requests that return data are answered by
 * that data's event with `replyTo`, the others by `ack`. A failure is always `error` with `id`.
 */
export const REPLY_EVENT = {
  'session.open': 'session.opened',
  'session.join': 'session.joined',
  'session.resume': 'session.resumed',
  'session.leave': 'ack',
  'session.end': 'ack',
  'join.accept': 'ack',
  'join.deny': 'ack',
  'signal.offer': 'ack',
  'signal.answer': 'ack',
  'signal.candidate': 'ack',
  control: 'ack',
  'token.refresh': 'ack',
  'turn.refresh': 'turn.credentials',
  ping: 'pong',
} as const satisfies Record<ClientEvent, ServerEvent>;

/** The `data` of the frame that answers request `E` on success. */
export type ReplyOf<E extends ClientEvent> = ServerMessageOf<(typeof REPLY_EVENT)[E]>['data'];

interface Pending {
  readonly event: ClientEvent;
  readonly resolve: (data: unknown) => void;
  readonly reject: (error: ClientError) => void;
  readonly timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The requests awaiting their answer: ids, timeouts, and matching of `ack` / `error` / replies
 * (`replyTo`) to the request they name. Exactly one answer settles a request; anything else that
 * names it afterwards is not matched.
 */
export class PendingRequests {
  private readonly pending = new Map<string, Pending>();
  private counter = 0;

  /** Requests still waiting. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * A new request id and the promise of its answer: resolved with the reply's `data`, rejected
   * with a {@link ClientError} carrying the `error` frame's code, or `timeout` after `timeoutMs`
   * (0: no timeout).
   */
  create<E extends ClientEvent>(
    event: E,
    timeoutMs: number,
  ): { id: string; promise: Promise<ReplyOf<E>> } {
    const id = String(++this.counter);
    const promise = new Promise<ReplyOf<E>>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              if (this.pending.delete(id)) {
                reject(
                  new ClientError(
                    ClientErrorCode.Timeout,
                    `${event} (request ${id}) not answered within ${timeoutMs} ms`,
                    { requestId: id },
                  ),
                );
              }
            }, timeoutMs)
          : undefined;
      this.pending.set(id, {
        event,
        resolve: resolve as (data: unknown) => void,
        reject,
        timer,
      });
    });
    return { id, promise };
  }

  /** The event of the pending request `id`, if one is pending. */
  eventOf(id: string): ClientEvent | undefined {
    return this.pending.get(id)?.event;
  }

  /** The request id a server frame answers (`ack.id`, `error.id`, `replyTo`), if it names one. */
  static answeredId(message: ServerMessage): string | undefined {
    switch (message.event) {
      case 'ack':
        return message.data.id;
      case 'error':
        return message.data.id;
      case 'session.opened':
      case 'session.joined':
      case 'session.resumed':
      case 'pong':
        return message.data.replyTo;
      case 'turn.credentials':
        return message.data.replyTo;
      default:
        return undefined;
    }
  }

  /**
   * Settles the request `message` answers. Returns false when it names no pending request (a late
   * answer after a timeout, or no request at all). A reply of the wrong kind rejects the request
   * with `unexpected_reply`.
   */
  settle(message: ServerMessage): boolean {
    const id = PendingRequests.answeredId(message);
    if (id === undefined) return false;
    const request = this.pending.get(id);
    if (!request) return false;
    this.pending.delete(id);
    if (request.timer !== undefined) clearTimeout(request.timer);
    if (message.event === 'error') {
      request.reject(new ClientError(message.data.code, message.data.message, { requestId: id }));
    } else if (message.event === REPLY_EVENT[request.event]) {
      request.resolve(message.data);
    } else {
      request.reject(
        new ClientError(
          ClientErrorCode.UnexpectedReply,
          `${request.event} (request ${id}) answered by ${message.event}, expected ${REPLY_EVENT[request.event]}`,
          { requestId: id },
        ),
      );
    }
    return true;
  }

  /** Rejects the request `id` with `error` (an answer that could not be read). */
  fail(id: string, error: ClientError): boolean {
    const request = this.pending.get(id);
    if (!request) return false;
    this.pending.delete(id);
    if (request.timer !== undefined) clearTimeout(request.timer);
    request.reject(error);
    return true;
  }

  /** Rejects every pending request (the connection dropped or the client closed). */
  rejectAll(error: (id: string, event: ClientEvent) => ClientError): void {
    const all = [...this.pending];
    this.pending.clear();
    for (const [id, request] of all) {
      if (request.timer !== undefined) clearTimeout(request.timer);
      request.reject(error(id, request.event));
    }
  }
}
