import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import dgram from 'node:dgram';
import { crc32 } from 'node:zlib';

// A minimal STUN (RFC 5389) / TURN (RFC 5766) client over UDP: just enough to prove against a real
// coturn that a credential is accepted or refused. IPv4 only, one request in flight at a time.

const MAGIC_COOKIE = 0x2112a442;
const HEADER = 20;

const METHOD = { binding: 0x001, allocate: 0x003, refresh: 0x004 } as const;
// Method and class bits are interleaved in the message type; for methods below 0x10 a request is
// the method itself, a success response adds 0x100 and an error response 0x110.
const SUCCESS = 0x100;
const ERROR = 0x110;

const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  lifetime: 0x000d,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedTransport: 0x0019,
  xorMappedAddress: 0x0020,
  fingerprint: 0x8028,
} as const;

const FINGERPRINT_XOR = 0x5354554e;
const UDP_PROTOCOL = 17;

/** Where a STUN/TURN server listens. */
export interface TurnEndpoint {
  readonly host: string;
  readonly port: number;
  /** Give up (reject) when the server has not answered within this time. Default 3000 ms. */
  readonly timeoutMs?: number;
}

/** Options of {@link turnAllocate}. */
export interface TurnAllocateOptions extends TurnEndpoint {
  /** The TURN username, e.g. a REST API `expiry:subject`. */
  readonly username: string;
  /** The TURN password (for the REST API, the base64 HMAC). */
  readonly credential: string;
}

/** The outcome of {@link turnAllocate}: a relay, or the server's STUN error code. */
export type TurnAllocateResult =
  | { readonly ok: true; readonly relayedAddress: string; readonly relayedPort: number }
  | { readonly ok: false; readonly errorCode: number; readonly reason: string };

interface Attribute {
  readonly type: number;
  readonly value: Buffer;
}

interface Message {
  readonly type: number;
  readonly transactionId: Buffer;
  readonly attributes: readonly Attribute[];
  readonly raw: Buffer;
}

function attribute(type: number, value: Buffer | string): Attribute {
  return { type, value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value };
}

function encodeAttribute({ type, value }: Attribute): Buffer {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

function header(type: number, length: number, transactionId: Buffer): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(length, 2);
  h.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(h, 8);
  return h;
}

/** Long-term credential key (RFC 5389 §15.4): MD5(username ":" realm ":" password). */
function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest();
}

/**
 * Encodes a message. With a key, MESSAGE-INTEGRITY covers everything before it with the header
 * length already counting it (RFC 5389 §15.4); FINGERPRINT comes last, over everything before it.
 */
function encode(
  type: number,
  transactionId: Buffer,
  attributes: readonly Attribute[],
  integrityKey?: Buffer,
): Buffer {
  let body = Buffer.concat(attributes.map(encodeAttribute));
  if (integrityKey) {
    const covered = Buffer.concat([header(type, body.length + 24, transactionId), body]);
    const mac = createHmac('sha1', integrityKey).update(covered).digest();
    body = Buffer.concat([body, encodeAttribute(attribute(ATTR.messageIntegrity, mac))]);
  }
  const beforeFingerprint = Buffer.concat([header(type, body.length + 8, transactionId), body]);
  const fingerprint = Buffer.alloc(4);
  fingerprint.writeUInt32BE((crc32(beforeFingerprint) ^ FINGERPRINT_XOR) >>> 0, 0);
  return Buffer.concat([
    beforeFingerprint,
    encodeAttribute(attribute(ATTR.fingerprint, fingerprint)),
  ]);
}

function decode(raw: Buffer): Message | null {
  if (raw.length < HEADER || raw.readUInt32BE(4) !== MAGIC_COOKIE) return null;
  const length = raw.readUInt16BE(2);
  if (HEADER + length > raw.length) return null;
  const attributes: Attribute[] = [];
  let offset = HEADER;
  while (offset + 4 <= HEADER + length) {
    const type = raw.readUInt16BE(offset);
    const size = raw.readUInt16BE(offset + 2);
    attributes.push({ type, value: raw.subarray(offset + 4, offset + 4 + size) });
    offset += 4 + Math.ceil(size / 4) * 4;
  }
  return { type: raw.readUInt16BE(0), transactionId: raw.subarray(8, HEADER), attributes, raw };
}

function find(message: Message, type: number): Buffer | undefined {
  return message.attributes.find((a) => a.type === type)?.value;
}

/** Checks a response's MESSAGE-INTEGRITY, i.e. that the server derived the same key. */
function integrityHolds(message: Message, key: Buffer): boolean {
  let offset = HEADER;
  for (const a of message.attributes) {
    if (a.type === ATTR.messageIntegrity) {
      const covered = Buffer.from(message.raw.subarray(0, offset));
      covered.writeUInt16BE(offset + 24 - HEADER, 2);
      const expected = createHmac('sha1', key).update(covered).digest();
      return a.value.length === expected.length && timingSafeEqual(a.value, expected);
    }
    offset += 4 + Math.ceil(a.value.length / 4) * 4;
  }
  return false;
}

function xorAddress(value: Buffer): { address: string; port: number } {
  if (value.length < 8 || value[1] !== 0x01) {
    throw new Error('only IPv4 XOR addresses are supported by this test client');
  }
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const ip = (value.readUInt32BE(4) ^ MAGIC_COOKIE) >>> 0;
  return { address: [24, 16, 8, 0].map((s) => (ip >>> s) & 0xff).join('.'), port };
}

function errorCode(message: Message): { errorCode: number; reason: string } {
  const value = find(message, ATTR.errorCode);
  if (!value || value.length < 4)
    return { errorCode: 0, reason: 'error response without ERROR-CODE' };
  return {
    errorCode: (value[2]! & 0x07) * 100 + value[3]!,
    reason: value.subarray(4).toString('utf8'),
  };
}

/** One UDP socket to one server; requests are retransmitted (RFC 5389 §7.2.1) until answered. */
class StunSocket {
  private readonly socket = dgram.createSocket('udp4');
  private pending: { id: Buffer; resolve: (m: Message) => void } | null = null;
  private failure: Error | null = null;

  constructor(private readonly endpoint: TurnEndpoint) {
    this.socket.on('message', (raw) => {
      const message = decode(raw);
      if (message && this.pending?.id.equals(message.transactionId)) {
        const { resolve } = this.pending;
        this.pending = null;
        resolve(message);
      }
    });
    // An ICMP "port unreachable" surfaces as an error on some platforms: treat it as "no answer".
    this.socket.on('error', (error) => (this.failure = error));
  }

  async request(build: (transactionId: Buffer) => Buffer): Promise<Message> {
    const timeoutMs = this.endpoint.timeoutMs ?? 3000;
    const id = randomBytes(12);
    const packet = build(id);
    const answered = new Promise<Message>((resolve) => (this.pending = { id, resolve }));
    const started = Date.now();
    let rto = 100;
    try {
      for (;;) {
        if (this.failure) throw this.failure;
        this.socket.send(packet, this.endpoint.port, this.endpoint.host);
        const remaining = timeoutMs - (Date.now() - started);
        if (remaining <= 0) break;
        let timer: NodeJS.Timeout | undefined;
        const message = await Promise.race([
          answered,
          new Promise<null>((resolve) => {
            timer = setTimeout(() => resolve(null), Math.min(rto, remaining));
          }),
        ]);
        clearTimeout(timer);
        if (message) return message;
        rto = Math.min(rto * 2, 1600);
      }
    } finally {
      this.pending = null;
    }
    throw new Error(
      `no STUN answer from ${this.endpoint.host}:${this.endpoint.port} within ${timeoutMs} ms`,
    );
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * Sends a STUN Binding request and returns the reflexive address the server saw (the readiness
 * probe of a TURN server: it answers only once its UDP listener is up).
 */
export async function stunBinding(
  endpoint: TurnEndpoint,
): Promise<{ address: string; port: number }> {
  const socket = new StunSocket(endpoint);
  try {
    const response = await socket.request((id) => encode(METHOD.binding, id, []));
    if (response.type !== (METHOD.binding | SUCCESS)) {
      const { errorCode: code, reason } = errorCode(response);
      throw new Error(`STUN Binding failed: ${code} ${reason}`);
    }
    const xorMapped = find(response, ATTR.xorMappedAddress);
    if (xorMapped) return xorAddress(xorMapped);
    throw new Error('STUN Binding response without XOR-MAPPED-ADDRESS');
  } finally {
    socket.close();
  }
}

/**
 * Requests a UDP relay (RFC 5766 Allocate) with long-term credentials: an unauthenticated Allocate
 * fetches REALM and NONCE (401), the second one is signed with MESSAGE-INTEGRITY; on 438 (stale
 * nonce) it retries once with the new nonce. A granted allocation is released at once (Refresh with
 * LIFETIME 0), so tests do not exhaust the server's relay ports.
 *
 * Resolves with the server's error code when it refuses (401: credential not accepted); rejects
 * only when the server does not answer or answers something unexpected.
 */
export async function turnAllocate(options: TurnAllocateOptions): Promise<TurnAllocateResult> {
  const socket = new StunSocket(options);
  const transport = Buffer.from([UDP_PROTOCOL, 0, 0, 0]);
  try {
    const challenge = await socket.request((id) =>
      encode(METHOD.allocate, id, [attribute(ATTR.requestedTransport, transport)]),
    );
    if (challenge.type === (METHOD.allocate | SUCCESS)) {
      throw new Error('the TURN server granted an allocation without authentication');
    }
    let realmAndNonce = challengeOf(challenge);
    let key = longTermKey(options.username, realmAndNonce.realm, options.credential);
    const signed = (method: number, attrs: readonly Attribute[]) => (id: Buffer) =>
      encode(
        method,
        id,
        [
          ...attrs,
          attribute(ATTR.username, options.username),
          attribute(ATTR.realm, realmAndNonce.realm),
          attribute(ATTR.nonce, realmAndNonce.nonce),
        ],
        key,
      );

    let response = await socket.request(
      signed(METHOD.allocate, [attribute(ATTR.requestedTransport, transport)]),
    );
    if (response.type === (METHOD.allocate | ERROR) && errorCode(response).errorCode === 438) {
      realmAndNonce = challengeOf(response);
      key = longTermKey(options.username, realmAndNonce.realm, options.credential);
      response = await socket.request(
        signed(METHOD.allocate, [attribute(ATTR.requestedTransport, transport)]),
      );
    }
    if (response.type === (METHOD.allocate | ERROR)) return { ok: false, ...errorCode(response) };
    if (response.type !== (METHOD.allocate | SUCCESS)) {
      throw new Error(`unexpected STUN message type 0x${response.type.toString(16)}`);
    }
    if (!integrityHolds(response, key)) {
      throw new Error('Allocate success response failed its MESSAGE-INTEGRITY check');
    }
    const relayed = find(response, ATTR.xorRelayedAddress);
    if (!relayed) throw new Error('Allocate success response without XOR-RELAYED-ADDRESS');
    const { address, port } = xorAddress(relayed);

    const zero = Buffer.alloc(4);
    let refresh = await socket.request(signed(METHOD.refresh, [attribute(ATTR.lifetime, zero)]));
    if (refresh.type === (METHOD.refresh | ERROR) && errorCode(refresh).errorCode === 438) {
      realmAndNonce = challengeOf(refresh);
      refresh = await socket.request(signed(METHOD.refresh, [attribute(ATTR.lifetime, zero)]));
    }
    if (refresh.type !== (METHOD.refresh | SUCCESS)) {
      const { errorCode: code, reason } = errorCode(refresh);
      throw new Error(`deallocation (Refresh, LIFETIME 0) failed: ${code} ${reason}`);
    }
    return { ok: true, relayedAddress: address, relayedPort: port };
  } finally {
    socket.close();
  }
}

function challengeOf(message: Message): { realm: string; nonce: string } {
  const realm = find(message, ATTR.realm);
  const nonce = find(message, ATTR.nonce);
  if (!realm || !nonce) {
    const { errorCode: code, reason } = errorCode(message);
    throw new Error(`expected a 401/438 challenge with REALM and NONCE, got ${code} ${reason}`);
  }
  return { realm: realm.toString('utf8'), nonce: nonce.toString('utf8') };
}
