/**
 * Size limits of protocol v1. Every string and array in a message is bounded by one of these;
 * the gateway and the client library refuse anything larger.
 */

/** Subprotocol of protocol v1 (`Sec-WebSocket-Protocol`) and the `welcome.protocol` value. */
export const PROTOCOL_VERSION = 'sscontrol.v1';

/**
 * Largest client frame, in UTF-8 bytes: 64 KiB. Equal to the gateway's `ws` `maxPayload`, which
 * closes the connection (1009) on a larger frame before it is read; {@link parseClientFrame}
 * refuses it too, before `JSON.parse`, for transports that have no such cap.
 */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Largest server frame, in UTF-8 bytes: 66 KiB. A relayed offer is re-encoded with `from` in place
 * of the client's `id` and `to`, so it can be slightly longer than the frame it came in; a client
 * that caps incoming frames (Node `ws` `maxPayload`) must accept this much.
 */
export const MAX_SERVER_FRAME_BYTES = 66 * 1024;

/**
 * Longest SDP, in characters: 60 KiB. Smaller than {@link MAX_FRAME_BYTES} on purpose: JSON
 * escapes every CRLF of an SDP (2 characters become 4 bytes) and the envelope needs room, so an
 * SDP at this limit still fits a frame. A 64 KiB SDP could never arrive whole.
 */
export const MAX_SDP_LENGTH = 60 * 1024;

/** Largest `control` payload, as UTF-8 bytes of its JSON: 4 KiB (pointer and key events). */
export const MAX_CONTROL_PAYLOAD_BYTES = 4 * 1024;

/** Deepest nesting of a `control` payload (the object itself is depth 1). */
export const MAX_CONTROL_PAYLOAD_DEPTH = 8;

/** Longest client request id (`data.id`), in characters. */
export const MAX_REQUEST_ID_LENGTH = 64;

/** Longest peer id and join request id (server-generated), in characters. */
export const MAX_PEER_ID_LENGTH = 64;

/**
 * Longest session id, in characters: 200, as in a client token's `sessions` grants
 * (`libs/keys` client-tokens: `A-Z a-z 0-9 . _ : -`), so every grantable session can be named.
 */
export const MAX_SESSION_ID_LENGTH = 200;

/** Longest subject (a token's `sub`: device or user), in characters, as in client tokens. */
export const MAX_SUBJECT_LENGTH = 200;

/** Longest client token, in characters (as `MAX_TOKEN_LENGTH` in `libs/keys`). */
export const MAX_TOKEN_LENGTH = 4096;

/** Most session grants listed in `welcome.sessions` (as `MAX_SESSION_GRANTS` in `libs/keys`). */
export const MAX_SESSION_GRANTS = 32;

/** Fewest and most peers in a session, host included (as the `session.opened` audit event). */
export const MIN_PEERS = 2;
export const MAX_PEERS = 1000;
/** Peers in a session when `session.open` does not say. */
export const DEFAULT_MAX_PEERS = 2;

/** Longest ICE candidate line, in characters. Real ones are about 100–250. */
export const MAX_CANDIDATE_LENGTH = 1024;
/** Longest `sdpMid` and `usernameFragment`, in characters. */
export const MAX_ICE_TOKEN_LENGTH = 256;
/** Highest `sdpMLineIndex`. */
export const MAX_MLINE_INDEX = 1023;

/** Most ICE servers in one message, and most URLs per server. */
export const MAX_ICE_SERVERS = 8;
export const MAX_ICE_URLS = 8;
/** Longest ICE server URL, TURN username and credential, in characters. */
export const MAX_ICE_URL_LENGTH = 300;
export const MAX_ICE_CREDENTIAL_LENGTH = 300;

/** Longest error message and free-text reason, in characters. */
export const MAX_MESSAGE_LENGTH = 500;

/** Longest opaque resume token, in characters. */
export const MAX_RESUME_TOKEN_LENGTH = 512;

/** Longest instance id and connection id, in characters (as audit ids). */
export const MAX_INSTANCE_ID_LENGTH = 200;

/** Bounds of `welcome.heartbeatMs`: how often a client must show it is alive. */
export const MIN_HEARTBEAT_MS = 1_000;
export const MAX_HEARTBEAT_MS = 300_000;
