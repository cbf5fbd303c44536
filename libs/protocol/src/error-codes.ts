/** Codes of `error` frames. Every code a client can see is listed, with its meaning, in docs/protocol.md. */
export enum ProtocolErrorCode {
  BadFrame = 'bad_frame',
  FrameTooLarge = 'frame_too_large',
  UnknownEvent = 'unknown_event',
  InvalidMessage = 'invalid_message',
  OutOfOrder = 'out_of_order',
  NotInSession = 'not_in_session',
  AlreadyInSession = 'already_in_session',
  SessionNotFound = 'session_not_found',
  SessionExists = 'session_exists',
  SessionFull = 'session_full',
  PeerNotFound = 'peer_not_found',
  RequestNotFound = 'request_not_found',
  NotGranted = 'not_granted',
  NotHost = 'not_host',
  JoinDenied = 'join_denied',
  TokenInvalid = 'token_invalid',
  ResumeFailed = 'resume_failed',
  RateLimited = 'rate_limited',
  DuplicateIdentity = 'duplicate_identity',
  Lockdown = 'lockdown',
  TurnUnavailable = 'turn_unavailable',
  AuditUnavailable = 'audit_unavailable',
  InternalError = 'internal_error',
}

const meanings: Record<ProtocolErrorCode, string> = {
  [ProtocolErrorCode.BadFrame]:
    'The frame is not UTF-8 JSON, or not an object with a string `event` and an object `data`.',
  [ProtocolErrorCode.FrameTooLarge]: 'The frame is larger than 64 KiB; it was not parsed.',
  [ProtocolErrorCode.UnknownEvent]: 'The `event` is not a client message of protocol v1.',
  [ProtocolErrorCode.InvalidMessage]:
    'The message does not match its schema (missing, unknown or out-of-bounds field).',
  [ProtocolErrorCode.OutOfOrder]:
    'The message is not allowed in the current state (an answer before an offer, a request before `welcome`, a second request with an id still pending).',
  [ProtocolErrorCode.NotInSession]: 'The request needs a session and the connection is in none.',
  [ProtocolErrorCode.AlreadyInSession]: 'The connection is already in a session; leave it first.',
  [ProtocolErrorCode.SessionNotFound]: 'No open session has this id.',
  [ProtocolErrorCode.SessionExists]: 'A session with this id is already open.',
  [ProtocolErrorCode.SessionFull]: 'The session already has `maxPeers` peers.',
  [ProtocolErrorCode.PeerNotFound]:
    "The addressed peer is not in the sender's session (or has left).",
  [ProtocolErrorCode.RequestNotFound]:
    'The join request answered is unknown, already decided or expired.',
  [ProtocolErrorCode.NotGranted]:
    'The token does not grant this session, or its role may not do this.',
  [ProtocolErrorCode.NotHost]: "Only the session's host may do this.",
  [ProtocolErrorCode.JoinDenied]: 'The host refused the join request, or did not answer in time.',
  [ProtocolErrorCode.TokenInvalid]:
    'The refreshed token is invalid, expired, revoked, or for another subject or role.',
  [ProtocolErrorCode.ResumeFailed]:
    'The resume token is unknown, its grace window has passed, or it belongs to another subject; join again.',
  [ProtocolErrorCode.RateLimited]: 'Too many messages; slow down (the request was not processed).',
  [ProtocolErrorCode.DuplicateIdentity]:
    'The same subject is already connected and the policy keeps the existing connection.',
  [ProtocolErrorCode.Lockdown]: 'The service is in lockdown: no new sessions or joins.',
  [ProtocolErrorCode.TurnUnavailable]:
    'TURN credentials cannot be issued now (no TURN secret configured or active).',
  [ProtocolErrorCode.AuditUnavailable]:
    'The audit trail cannot record the action, so it was refused (fail closed); retry later.',
  [ProtocolErrorCode.InternalError]: 'An unexpected server error (a bug; logged); retry later.',
};

/** Every protocol error code with its one-line meaning, in declaration order. */
export function describeErrorCodes(): { code: ProtocolErrorCode; meaning: string }[] {
  return Object.values(ProtocolErrorCode).map((code) => ({ code, meaning: meanings[code] }));
}
