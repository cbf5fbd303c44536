// The three servers' client sides: how a load process connects, pairs two clients and relays a
// payload to the partner. The hot path builds frames by concatenation and reads received frames
// without JSON.parse (the load process must not be the bottleneck); setup frames, errors and
// the first delivery of each client are parsed and checked in full.
import WebSocket from 'ws';
import { candidateJson, sdpText, splitAtStamp, stampText } from './payloads.js';

/** The servers compared. */
export const SERVER_KINDS = ['bare', 'peerjs', 'sscontrol'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/** A relayed message type: every server relays all three. */
export type MessageKind = 'candidate' | 'offer' | 'answer';

/** Where a server listens. */
export interface Endpoint {
  readonly kind: ServerKind;
  readonly port: number;
}

/** Who a client is: its id on bare/PeerJS; its token (and session) on sscontrol. */
export interface Identity {
  readonly id: string;
  readonly token?: string;
  readonly sessionId?: string;
}

/** What went wrong on a client, kept for the report (the first few texts, and counts). */
export interface ClientErrors {
  count: number;
  readonly samples: string[];
}

const MAX_SAMPLES = 5;

/** The PeerJS server's key (its default). */
export const PEERJS_KEY = 'peerjs';

/**
 * Client socket options. Frames from a client must be masked; a zero mask is a valid mask that
 * `ws` does not apply, which saves the load process one pass over every frame (the servers still
 * unmask, as with any mask). Received text is not re-validated as UTF-8 by the load process.
 */
function socketOptions(localAddress: string | undefined): WebSocket.ClientOptions {
  return {
    perMessageDeflate: false,
    skipUTF8Validation: true,
    handshakeTimeout: 30_000,
    generateMask: (mask: Buffer) => mask.fill(0),
    ...(localAddress ? { localAddress } : {}),
  };
}

/** Sends `text` with a frame template's stamp replaced. */
interface FrameTemplate {
  readonly head: string;
  readonly tail: string;
}

function template(frame: string): FrameTemplate {
  const [head, tail] = splitAtStamp(frame);
  return { head, tail };
}

/**
 * One client of one server. `ready` resolves once it may relay (welcome/OPEN, and for
 * sscontrol once it is in its session and knows its partner).
 */
export abstract class RelayClient {
  readonly ws: WebSocket;
  /** Called with every frame relayed to this client (hot path: keep it cheap). */
  onDeliver: (frame: string) => void = () => undefined;
  /** Called once when the socket closes (expected or not). */
  onClose: (code: number, reason: string) => void = () => undefined;
  sent = 0;
  delivered = 0;
  readonly errors: ClientErrors = { count: 0, samples: [] };
  /** Bytes of the first frame sent / the first frame delivered (frame payload, UTF-8). */
  sentFrameBytes = 0;
  deliveredFrameBytes = 0;
  closed = false;
  protected partner = '';
  protected checkedFirst = false;
  protected templates: Partial<Record<MessageKind, FrameTemplate>> = {};

  protected constructor(url: string, protocols: string[] | undefined, localAddress?: string) {
    this.ws = new WebSocket(url, protocols, socketOptions(localAddress));
    this.ws.on('error', (error) => this.error(`socket error: ${error.message}`));
    this.ws.on('close', (code, reason) => {
      this.closed = true;
      this.stopTimers();
      this.onClose(code, reason.toString());
    });
  }

  /** This client's address as its partner names it in `to`/`dst`. */
  abstract get address(): string;

  /** Resolves when the connection is usable (authenticated where the server authenticates). */
  abstract opened(): Promise<void>;

  /** Sets the partner (its address) and builds the frame templates. */
  setPartner(address: string): void {
    this.partner = address;
    this.templates = {
      candidate: template(this.frame('candidate', candidateJson(0))),
      offer: template(this.frame('offer', JSON.stringify(sdpText('offer', 0)))),
      answer: template(this.frame('answer', JSON.stringify(sdpText('answer', 0)))),
    };
  }

  /** The frame relaying `payloadJson` (a candidate object, or an SDP string) to the partner. */
  protected abstract frame(kind: MessageKind, payloadJson: string): string;

  /** Relays one message of `kind`, stamped `stampUs`, to the partner. */
  send(kind: MessageKind, stampUs: number): void {
    const t = this.templates[kind]!;
    const text = this.nextFrame(t.head, stampText(stampUs), t.tail);
    if (this.sentFrameBytes === 0) this.sentFrameBytes = Buffer.byteLength(text);
    this.sent++;
    this.ws.send(text);
  }

  /** Builds the frame to send (sscontrol adds a request id). */
  protected nextFrame(head: string, stamp: string, tail: string): string {
    return head + stamp + tail;
  }

  /** Starts the keep-alive a real client of this server sends while connected. */
  startKeepAlive(): void {}

  protected stopTimers(): void {}

  protected error(text: string): void {
    this.errors.count++;
    if (this.errors.samples.length < MAX_SAMPLES) this.errors.samples.push(text.slice(0, 300));
  }

  protected delivery(frame: string): void {
    this.delivered++;
    if (!this.checkedFirst) {
      this.checkedFirst = true;
      this.deliveredFrameBytes = Buffer.byteLength(frame);
      const from = this.senderOf(frame);
      if (from !== this.partnerFromId()) {
        this.error(`delivery from ${String(from)}, expected ${this.partnerFromId()}: ${frame}`);
      }
    }
    this.onDeliver(frame);
  }

  /** The sender a delivered frame names (`from`/`src`), parsed in full. */
  protected abstract senderOf(frame: string): unknown;

  /** What a delivery from the partner names as its sender. */
  protected partnerFromId(): string {
    return this.partner;
  }

  close(): void {
    this.stopTimers();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000);
    }
  }
}

function openPromise(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.OPEN) return resolve();
    ws.once('open', () => resolve());
    ws.once('close', (code, reason) =>
      reject(new Error(`closed before open: ${code} ${reason.toString()}`)),
    );
    ws.once('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Bare relay: ?id=, {"to","data"} in, {"from","data"} out.
// ---------------------------------------------------------------------------------------------

class BareClient extends RelayClient {
  private readonly open: Promise<void>;

  constructor(
    port: number,
    private readonly identity: Identity,
    localAddress?: string,
  ) {
    super(`ws://127.0.0.1:${port}/?id=${encodeURIComponent(identity.id)}`, undefined, localAddress);
    this.open = openPromise(this.ws);
    this.ws.on('message', (data: Buffer) => this.delivery(data.toString()));
  }

  get address(): string {
    return this.identity.id;
  }

  opened(): Promise<void> {
    return this.open;
  }

  protected frame(kind: MessageKind, payloadJson: string): string {
    const data =
      kind === 'candidate'
        ? `{"candidate":${payloadJson}}`
        : `{"sdp":{"type":"${kind}","sdp":${payloadJson}}}`;
    return `{"to":${JSON.stringify(this.partner)},"data":${data}}`;
  }

  protected senderOf(frame: string): unknown {
    return (JSON.parse(frame) as { from?: unknown }).from;
  }
}

// ---------------------------------------------------------------------------------------------
// PeerJS server 1.0.2: ?key&id&token, OPEN first, {"type","dst","payload"} in with `src` stamped.
// ---------------------------------------------------------------------------------------------

const PEERJS_TYPES: Record<MessageKind, string> = {
  candidate: 'CANDIDATE',
  offer: 'OFFER',
  answer: 'ANSWER',
};
/** The official client's heartbeat period. */
const PEERJS_HEARTBEAT_MS = 5000;

class PeerJsClient extends RelayClient {
  private readonly open: Promise<void>;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    port: number,
    private readonly identity: Identity,
    localAddress?: string,
  ) {
    const token = Math.random().toString(36).slice(2);
    super(
      `ws://127.0.0.1:${port}/peerjs?key=${PEERJS_KEY}&id=${encodeURIComponent(identity.id)}` +
        `&token=${token}&version=1.5.4`,
      undefined,
      localAddress,
    );
    this.open = new Promise((resolve, reject) => {
      const first = (data: Buffer) => {
        const text = data.toString();
        this.ws.off('message', first);
        this.ws.on('message', (d: Buffer) => this.received(d.toString()));
        if (text === '{"type":"OPEN"}') resolve();
        else reject(new Error(`expected OPEN, got ${text}`));
      };
      this.ws.on('message', first);
      this.ws.once('close', (code, reason) =>
        reject(new Error(`closed before OPEN: ${code} ${reason.toString()}`)),
      );
      this.ws.once('error', reject);
    });
  }

  get address(): string {
    return this.identity.id;
  }

  opened(): Promise<void> {
    return this.open;
  }

  private received(text: string): void {
    // Relayed frames are the sender's frame with `src` added: {"type":"CANDIDATE",…}. Anything
    // else (ERROR, ID-TAKEN, EXPIRE, LEAVE) is an error for the benchmark.
    if (
      text.startsWith('{"type":"CANDIDATE"') ||
      text.startsWith('{"type":"OFFER"') ||
      text.startsWith('{"type":"ANSWER"')
    ) {
      this.delivery(text);
    } else this.error(`unexpected frame: ${text}`);
  }

  protected frame(kind: MessageKind, payloadJson: string): string {
    // As the official client (peerjs 1.5.4) sends them for a data connection.
    const connection = '"type":"data","connectionId":"dc_bench0123456"';
    const payload =
      kind === 'candidate'
        ? `{"candidate":${payloadJson},${connection}}`
        : kind === 'offer'
          ? `{"sdp":{"type":"offer","sdp":${payloadJson}},${connection},"label":"dc_bench0123456","reliable":false,"serialization":"default","metadata":null}`
          : `{"sdp":{"type":"answer","sdp":${payloadJson}},${connection}}`;
    return `{"type":"${PEERJS_TYPES[kind]}","dst":${JSON.stringify(this.partner)},"payload":${payload}}`;
  }

  protected senderOf(frame: string): unknown {
    return (JSON.parse(frame) as { src?: unknown }).src;
  }

  override startKeepAlive(): void {
    // Spread over the period, as clients connecting at different times would be.
    const first = setTimeout(() => {
      this.beat();
      this.heartbeat = setInterval(() => this.beat(), PEERJS_HEARTBEAT_MS);
    }, Math.random() * PEERJS_HEARTBEAT_MS);
    this.heartbeat = first;
  }

  private beat(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send('{"type":"HEARTBEAT"}');
  }

  protected override stopTimers(): void {
    if (this.heartbeat) clearTimeout(this.heartbeat);
    this.heartbeat = null;
  }
}

// ---------------------------------------------------------------------------------------------
// sscontrol protocol v1: token in a subprotocol, `welcome`, sessions, acked relays, ping acks.
// ---------------------------------------------------------------------------------------------

const SSCONTROL_EVENTS: Record<MessageKind, string> = {
  candidate: 'signal.candidate',
  offer: 'signal.offer',
  answer: 'signal.answer',
};
const EVENT_PREFIX = '{"event":"';
/** Where a frame template takes its request id (a character no JSON text here contains). */
const ID_SLOT = '\u0000';
/** Deliveries received before the client tells the server, in a `ping`, what it has. */
export const SSCONTROL_ACK_EVERY = 128;
/** Keep-alive period when `welcome` names none. */
const DEFAULT_HEARTBEAT_MS = 15_000;

interface Envelope {
  event: string;
  seq?: number;
  data: Record<string, unknown>;
}

class SscontrolClient extends RelayClient {
  private readonly open: Promise<void>;
  private waiters: { match: (m: Envelope) => boolean; resolve: (m: Envelope) => void }[] = [];
  private requestSeq = 0;
  private lastSeq = 0;
  private ackedSeq = 0;
  private heartbeatMs = DEFAULT_HEARTBEAT_MS;
  private keepAlive: NodeJS.Timeout | null = null;
  private partnerPeerId = '';
  /** A frame head split at its request id slot. */
  private readonly idSlots = new Map<string, readonly [string, string]>();
  /** Acks received for relayed messages; pongs received. */
  acks = 0;
  pongs = 0;
  /** This client's peer id in its session (after `join`). */
  peerId = '';
  welcome: Record<string, unknown> | null = null;

  constructor(
    port: number,
    private readonly identity: Identity,
    localAddress?: string,
  ) {
    super(
      `ws://127.0.0.1:${port}/ws`,
      ['sscontrol.v1', `sscontrol.token.${identity.token ?? ''}`],
      localAddress,
    );
    this.ws.on('message', (data: Buffer) => this.received(data.toString()));
    this.open = this.next((m) => m.event === 'welcome', 'welcome').then((m) => {
      this.welcome = m.data;
      if (typeof m.data.heartbeatMs === 'number') this.heartbeatMs = m.data.heartbeatMs;
    });
  }

  get address(): string {
    return this.peerId;
  }

  opened(): Promise<void> {
    return this.open;
  }

  /** Resolves with the next message matching, rejects on close or after 30 s. */
  private next(match: (m: Envelope) => boolean, what: string): Promise<Envelope> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within 30 s`)), 30_000);
      const onClose = (code: number, reason: Buffer) =>
        reject(new Error(`closed before ${what}: ${code} ${reason.toString()}`));
      this.ws.once('close', onClose);
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          this.ws.off('close', onClose);
          resolve(m);
        },
      });
    });
  }

  /** Sends a request and waits for its answer (`replyTo`/`id`), failing on an `error`. */
  async request(event: string, data: Record<string, unknown>, reply: string): Promise<Envelope> {
    const id = `r${++this.requestSeq}`;
    const answer = this.next(
      (m) =>
        (m.event === reply && (m.data.replyTo === id || m.data.id === id)) ||
        (m.event === 'error' && m.data.id === id),
      `${reply} to ${event}`,
    );
    this.ws.send(JSON.stringify({ event, data: { id, ...data } }));
    const m = await answer;
    if (m.event === 'error') throw new Error(`${event} refused: ${JSON.stringify(m.data)}`);
    return m;
  }

  /** Host: opens its session; resolves with its peer id. */
  async openSession(): Promise<void> {
    const m = await this.request(
      'session.open',
      { sessionId: this.identity.sessionId },
      'session.opened',
    );
    this.peerId = String(m.data.peerId);
  }

  /** Waits for the peer that joins the host's session; resolves with its peer id. */
  joined(): Promise<string> {
    return this.next((m) => m.event === 'peer.joined', 'peer.joined').then((m) =>
      String(m.data.peerId),
    );
  }

  /** Controller: joins the session; resolves with the host's peer id. */
  async joinSession(): Promise<string> {
    const m = await this.request(
      'session.join',
      { sessionId: this.identity.sessionId },
      'session.joined',
    );
    this.peerId = String(m.data.peerId);
    const peers = m.data.peers as { peerId: string }[];
    if (peers.length !== 1) throw new Error(`session.joined lists ${peers.length} peers`);
    return peers[0]!.peerId;
  }

  override setPartner(address: string): void {
    this.partnerPeerId = address;
    super.setPartner(address);
  }

  protected override partnerFromId(): string {
    return this.partnerPeerId;
  }

  protected frame(kind: MessageKind, payloadJson: string): string {
    // The request id goes between the two halves (see nextFrame): `"id":"<n>"` is first in data.
    const to = JSON.stringify(this.partner);
    const body = kind === 'candidate' ? `"candidate":${payloadJson}` : `"sdp":${payloadJson}`;
    return `{"event":"${SSCONTROL_EVENTS[kind]}","data":{"id":"${ID_SLOT}","to":${to},${body}}}`;
  }

  protected override nextFrame(head: string, stamp: string, tail: string): string {
    let parts = this.idSlots.get(head);
    if (!parts) {
      const at = head.indexOf(ID_SLOT);
      parts = [head.slice(0, at), head.slice(at + 1)];
      this.idSlots.set(head, parts);
    }
    return parts[0] + ++this.requestSeq + parts[1] + stamp + tail;
  }

  private received(text: string): void {
    let event: string | null = null;
    if (text.startsWith(EVENT_PREFIX)) {
      event = text.slice(EVENT_PREFIX.length, text.indexOf('"', EVENT_PREFIX.length));
    }
    switch (event) {
      case 'ack':
        this.acks++;
        return;
      case 'signal.candidate':
      case 'signal.offer':
      case 'signal.answer':
      case 'control': {
        const at = text.indexOf('"seq":');
        const seq = at >= 0 ? parseInt(text.slice(at + 6, at + 6 + 20), 10) : Number.NaN;
        if (!(seq > this.lastSeq)) this.error(`delivery without a new seq: ${text}`);
        else this.lastSeq = seq;
        this.delivery(text);
        if (this.lastSeq - this.ackedSeq >= SSCONTROL_ACK_EVERY) this.ping();
        return;
      }
      case 'pong':
        this.pongs++;
        return;
      default:
        this.slow(text);
    }
  }

  /** Frames off the hot path: setup replies, session events, errors. */
  private slow(text: string): void {
    let m: Envelope;
    try {
      m = JSON.parse(text) as Envelope;
    } catch {
      this.error(`not JSON: ${text}`);
      return;
    }
    if (typeof m.seq === 'number') {
      if (m.seq > this.lastSeq) this.lastSeq = m.seq;
    }
    const waiter = this.waiters.findIndex((w) => w.match(m));
    if (waiter >= 0) {
      const [w] = this.waiters.splice(waiter, 1);
      w!.resolve(m);
      return;
    }
    if (m.event === 'error') this.error(`error: ${JSON.stringify(m.data)}`);
  }

  /** Tells the server the highest seq received (it may drop those messages) and that we live. */
  private ping(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ackedSeq = this.lastSeq;
    const ack = this.lastSeq > 0 ? `,"ack":${this.lastSeq}` : '';
    this.ws.send(`{"event":"ping","data":{"id":"${++this.requestSeq}"${ack}}}`);
  }

  override startKeepAlive(): void {
    // About twice per heartbeat interval, as the protocol asks; spread over the period.
    const period = this.heartbeatMs / 2;
    this.keepAlive = setTimeout(() => {
      this.ping();
      this.keepAlive = setInterval(() => this.ping(), period);
    }, Math.random() * period);
  }

  protected override stopTimers(): void {
    if (this.keepAlive) clearTimeout(this.keepAlive);
    this.keepAlive = null;
  }

  protected senderOf(frame: string): unknown {
    return (JSON.parse(frame) as Envelope).data.from;
  }
}

/** Opens one client of `endpoint` as `identity` (not yet paired). */
export function connectClient(
  endpoint: Endpoint,
  identity: Identity,
  localAddress?: string,
): RelayClient {
  switch (endpoint.kind) {
    case 'bare':
      return new BareClient(endpoint.port, identity, localAddress);
    case 'peerjs':
      return new PeerJsClient(endpoint.port, identity, localAddress);
    case 'sscontrol':
      return new SscontrolClient(endpoint.port, identity, localAddress);
  }
}

/**
 * Connects two clients and makes each the other's partner: on sscontrol the first opens the
 * session (as host) and the second joins it (as controller).
 */
export async function connectPair(
  endpoint: Endpoint,
  a: Identity,
  b: Identity,
  localAddress?: string,
): Promise<[RelayClient, RelayClient]> {
  const host = connectClient(endpoint, a, localAddress);
  const guest = connectClient(endpoint, b, localAddress);
  try {
    await Promise.all([host.opened(), guest.opened()]);
    if (host instanceof SscontrolClient && guest instanceof SscontrolClient) {
      await host.openSession();
      const joined = host.joined();
      const hostPeer = await guest.joinSession();
      const guestPeer = await joined;
      if (hostPeer !== host.peerId) throw new Error(`joined ${hostPeer}, host is ${host.peerId}`);
      host.setPartner(guestPeer);
      guest.setPartner(hostPeer);
    } else {
      host.setPartner(guest.address);
      guest.setPartner(host.address);
    }
  } catch (error) {
    host.close();
    guest.close();
    throw error;
  }
  host.startKeepAlive();
  guest.startKeepAlive();
  return [host, guest];
}

/** The acks and pongs an sscontrol client received (0 for the others). */
export function sscontrolCounters(c: RelayClient): { acks: number; pongs: number } {
  return c instanceof SscontrolClient ? { acks: c.acks, pongs: c.pongs } : { acks: 0, pongs: 0 };
}
