import { type ProtocolErrorCode } from '@sscontrol/protocol';

/**
 * Codes of {@link ClientError} that the client library raises itself. A request the server
 * refused carries the server's {@link ProtocolErrorCode} instead (the `error` frame's `code`).
 */
export enum ClientErrorCode {
  /** The request was not sent: the client is not connected (connecting, reconnecting, closed). */
  NotConnected = 'not_connected',
  /** The connection dropped before the request was answered; it may or may not have been applied. */
  ConnectionLost = 'connection_lost',
  /** No answer within the request timeout. */
  Timeout = 'timeout',
  /** The client was closed by its owner (`close()`). */
  Closed = 'closed',
  /** The server closed the connection for good (token refused or revoked, replaced, banned …). */
  ConnectionRefused = 'connection_refused',
  /** A server frame was not valid protocol v1 JSON (it was ignored). */
  InvalidFrame = 'invalid_frame',
  /** The server answered a request with a reply of the wrong kind. */
  UnexpectedReply = 'unexpected_reply',
  /** The session could not be taken back after a reconnect (`resume_failed` or no resume token). */
  SessionLost = 'session_lost',
  /** A sequenced event skipped numbers (events were lost; the session state may be stale). */
  SequenceGap = 'sequence_gap',
  /** A handler registered with `on()` threw. */
  HandlerFailed = 'handler_failed',
  /** Getting or sending a refreshed token failed. */
  TokenRefreshFailed = 'token_refresh_failed',
  /** WebRTC negotiation failed (a description or candidate was refused by the peer connection). */
  NegotiationFailed = 'negotiation_failed',
  /** A data channel message was not a valid control payload (JSON object, size and depth bounds). */
  InvalidControlMessage = 'invalid_control_message',
}

/** Every code a {@link ClientError} can carry. */
export type ClientErrorCodeOrProtocol = ClientErrorCode | ProtocolErrorCode;

/** Options of {@link ClientError}. */
export interface ClientErrorOptions {
  /** The request id the error answers, when it answers one. */
  readonly requestId?: string;
  /** The WebSocket close code, when the error comes from a closed connection. */
  readonly closeCode?: number;
  /** The WebSocket close reason. */
  readonly closeReason?: string;
  readonly cause?: unknown;
}

/**
 * The one error type of `@sscontrol/client`: a refused request (with the server's code from the
 * `error` frame), a dropped connection, a timeout, an invalid frame.
 */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  readonly requestId: string | undefined;
  readonly closeCode: number | undefined;
  readonly closeReason: string | undefined;

  constructor(
    readonly code: ClientErrorCodeOrProtocol,
    message: string,
    options: ClientErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.requestId = options.requestId;
    this.closeCode = options.closeCode;
    this.closeReason = options.closeReason;
  }
}

/** Whether `e` is a {@link ClientError}, optionally with the given code. */
export function isClientError(e: unknown, code?: ClientErrorCodeOrProtocol): e is ClientError {
  return e instanceof ClientError && (code === undefined || e.code === code);
}
