import { ProtocolErrorCode } from './error-codes.js';
import { MAX_FRAME_BYTES, MAX_REQUEST_ID_LENGTH } from './limits.js';
import { CLIENT_EVENTS, clientMessage, type ClientEvent, type ClientMessage } from './messages.js';

/** Outcome of {@link parseClientFrame}: a message, or what to put in the `error` frame. */
export type ParsedClientFrame =
  | { readonly ok: true; readonly message: ClientMessage }
  | {
      readonly ok: false;
      /** The request id, when the frame was JSON with a valid `data.id`. */
      readonly id?: string;
      readonly code: ProtocolErrorCode;
      readonly message: string;
    };

const clientEvents = new Set<string>(CLIENT_EVENTS);
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 length of a string, stopping as soon as it passes `limit`. */
function utf8LengthOver(s: string, limit: number): boolean {
  if (s.length > limit) return true; // at least one byte per UTF-16 unit
  if (s.length * 3 <= limit) return false; // at most three bytes per UTF-16 unit
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
    if (bytes > limit) return true;
  }
  return false;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const clip = (s: string, n = 64) => (s.length > n ? `${s.slice(0, n)}…` : s);

function fail(code: ProtocolErrorCode, message: string, id?: string): ParsedClientFrame {
  return id === undefined ? { ok: false, code, message } : { ok: false, id, code, message };
}

/**
 * Parses one client frame (a `ws` text or binary message). Never throws. A frame over
 * {@link MAX_FRAME_BYTES} is refused before it is decoded or parsed; the request id is recovered
 * from any JSON frame whose `data.id` is a valid request id, so the `error` can name it.
 */
export function parseClientFrame(raw: string | Uint8Array | ArrayBuffer): ParsedClientFrame {
  let id: string | undefined;
  try {
    let text: string;
    if (typeof raw === 'string') {
      if (utf8LengthOver(raw, MAX_FRAME_BYTES)) {
        return fail(ProtocolErrorCode.FrameTooLarge, `a frame is at most ${MAX_FRAME_BYTES} bytes`);
      }
      text = raw;
    } else {
      if (raw.byteLength > MAX_FRAME_BYTES) {
        return fail(ProtocolErrorCode.FrameTooLarge, `a frame is at most ${MAX_FRAME_BYTES} bytes`);
      }
      try {
        text = decoder.decode(raw);
      } catch {
        return fail(ProtocolErrorCode.BadFrame, 'the frame is not valid UTF-8');
      }
    }
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return fail(ProtocolErrorCode.BadFrame, 'the frame is not JSON');
    }
    if (!isRecord(frame)) return fail(ProtocolErrorCode.BadFrame, 'the frame is not a JSON object');
    const data = frame.data;
    if (isRecord(data) && Object.hasOwn(data, 'id')) {
      const candidate = data.id;
      if (
        typeof candidate === 'string' &&
        candidate.length >= 1 &&
        candidate.length <= MAX_REQUEST_ID_LENGTH
      ) {
        id = candidate;
      }
    }
    if (typeof frame.event !== 'string') {
      return fail(ProtocolErrorCode.BadFrame, 'the frame has no string `event`', id);
    }
    if (!clientEvents.has(frame.event)) {
      return fail(
        ProtocolErrorCode.UnknownEvent,
        `unknown event ${JSON.stringify(clip(frame.event))}`,
        id,
      );
    }
    if (!isRecord(data)) {
      return fail(ProtocolErrorCode.BadFrame, 'the frame has no object `data`', id);
    }
    const parsed = clientMessage.safeParse(frame);
    if (parsed.success) return { ok: true, message: parsed.data };
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : 'frame';
    return fail(
      ProtocolErrorCode.InvalidMessage,
      clip(`${frame.event as ClientEvent}: ${where}: ${issue?.message ?? 'invalid'}`, 400),
      id,
    );
  } catch {
    // Nothing above should throw; a bug must not take the connection's handler down with it.
    return fail(ProtocolErrorCode.InternalError, 'the frame could not be processed', id);
  }
}
