import { ProtocolErrorCode } from '@sscontrol/protocol';
import { ClientError, ClientErrorCode, isClientError } from './client.errors.js';
import { CONTROL_CHANNEL_LABEL, ControlChannel } from './control-channel.js';
import { Emitter } from './emitter.js';
import type { SignalingClient } from './signaling-client.js';
import type {
  DataChannelLike,
  IceCandidateInit,
  IceServer,
  PeerConnectionLike,
  Sequenced,
} from './types.js';

/** A relayed signal addressed to this peer. */
export type IncomingSignal =
  | ({ readonly event: 'signal.offer' } & Sequenced<'signal.offer'>)
  | ({ readonly event: 'signal.answer' } & Sequenced<'signal.answer'>)
  | ({ readonly event: 'signal.candidate' } & Sequenced<'signal.candidate'>);

/** Options of a {@link PeerLink}. */
export interface PeerLinkOptions {
  readonly client: SignalingClient;
  /** The peer at the other end. */
  readonly remotePeerId: string;
  /**
   * Perfect negotiation's polite peer: on an offer collision it rolls its own offer back and
   * answers. Exactly one side of a link must be polite ({@link PeerLinks} makes the host polite).
   */
  readonly polite: boolean;
  /** The peer connection, created with the session's `iceServers`. */
  readonly pc: PeerConnectionLike;
  /**
   * How long ICE may stay `disconnected` before this side restarts it, in ms; the polite side
   * waits twice as long so that the two rarely restart at once. Default 3 000.
   */
  readonly disconnectedTimeoutMs?: number;
}

/** Events of a {@link PeerLink}. */
export interface PeerLinkEvents {
  /** A remote media track (the host's screen). */
  track: { readonly track: unknown; readonly streams: readonly unknown[] };
  /** A data channel the peer opened (the control channel also comes as `control`). */
  datachannel: DataChannelLike;
  /** The control channel, created here ({@link PeerLink.createControlChannel}) or by the peer. */
  control: ControlChannel;
  /** The peer connection's `connectionState`. */
  state: string;
  /** A negotiation step or a signal failed (the link carries on; ICE restarts when it fails). */
  error: ClientError;
  /** The link is closed (the peer left, the session ended, or `close()`). */
  closed: undefined;
}

interface CandidateLike {
  readonly candidate?: string;
  readonly sdpMid?: string | null;
  readonly sdpMLineIndex?: number | null;
  readonly usernameFragment?: string | null;
}

function candidateInit(c: CandidateLike): IceCandidateInit {
  return {
    candidate: c.candidate ?? '',
    ...(c.sdpMid !== undefined ? { sdpMid: c.sdpMid } : {}),
    ...(c.sdpMLineIndex !== undefined ? { sdpMLineIndex: c.sdpMLineIndex } : {}),
    ...(c.usernameFragment !== undefined ? { usernameFragment: c.usernameFragment } : {}),
  };
}

/**
 * One `RTCPeerConnection` with one peer of the session, negotiated through the gateway in the
 * "perfect negotiation" pattern (either side may offer at any time; on a collision the polite side
 * yields), with trickle ICE and ICE restarts:
 *
 * - offers follow `negotiationneeded` (a track or data channel added), or an ICE restart;
 * - local candidates are held back until the description they belong to has been sent, and remote
 *   ones until a remote description is set, so that neither side sees a candidate first;
 * - ICE `failed`, or `disconnected` for longer than `disconnectedTimeoutMs`, restarts ICE with an
 *   `iceRestart` offer; so does a resumed signaling session whose media path is down;
 * - signals that could not be sent while the gateway connection was down are sent again once the
 *   session is resumed.
 */
export class PeerLink extends Emitter<PeerLinkEvents> {
  readonly client: SignalingClient;
  readonly remotePeerId: string;
  readonly polite: boolean;
  readonly pc: PeerConnectionLike;
  private readonly disconnectedTimeoutMs: number;

  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswerPending = false;
  private negotiationPending = false;
  private restartPending = false;
  private holdCandidates = 0;
  private readonly heldCandidates: (IceCandidateInit | null)[] = [];
  private readonly earlyRemoteCandidates: (IceCandidateInit | null)[] = [];
  private incoming: Promise<void> = Promise.resolve();
  private outbox: (() => Promise<void>)[] = [];
  private disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
  private controlChannel: ControlChannel | undefined;
  private isClosed = false;

  constructor(options: PeerLinkOptions) {
    super();
    this.client = options.client;
    this.remotePeerId = options.remotePeerId;
    this.polite = options.polite;
    this.pc = options.pc;
    this.disconnectedTimeoutMs = options.disconnectedTimeoutMs ?? 3_000;
    const pc = this.pc;
    pc.onnegotiationneeded = () => void this.negotiate();
    pc.onsignalingstatechange = () => {
      if (pc.signalingState === 'stable' && this.negotiationPending) {
        this.negotiationPending = false;
        void this.negotiate();
      }
    };
    pc.onicecandidate = (event: { candidate?: CandidateLike | null }) => {
      const candidate = event.candidate ? candidateInit(event.candidate) : null;
      if (this.holdCandidates > 0) this.heldCandidates.push(candidate);
      else this.sendSignal('signal.candidate', { candidate });
    };
    pc.ontrack = (event: { track: unknown; streams?: readonly unknown[] }) =>
      this.emit('track', { track: event.track, streams: event.streams ?? [] });
    pc.ondatachannel = (event: { channel: DataChannelLike }) => {
      this.emit('datachannel', event.channel);
      if (event.channel.label === CONTROL_CHANNEL_LABEL) this.adoptControl(event.channel);
    };
    pc.onconnectionstatechange = () => this.emit('state', pc.connectionState);
    pc.oniceconnectionstatechange = () => this.iceStateChanged();
  }

  /** Whether {@link close} ran (or the peer left, or the session ended). */
  get closed(): boolean {
    return this.isClosed;
  }

  /** The control channel, once created here or by the peer. */
  get control(): ControlChannel | undefined {
    return this.controlChannel;
  }

  /**
   * Opens the control data channel (ordered, reliable) to the peer; the peer gets it as its
   * `control` event. Adding the channel starts a negotiation.
   */
  createControlChannel(): ControlChannel {
    if (this.controlChannel) return this.controlChannel;
    return this.adoptControl(this.pc.createDataChannel(CONTROL_CHANNEL_LABEL, { ordered: true }));
  }

  private adoptControl(channel: DataChannelLike): ControlChannel {
    const control = new ControlChannel(channel);
    this.controlChannel = control;
    this.emit('control', control);
    return control;
  }

  /** Restarts ICE: a new offer with fresh ICE credentials (a changed network, a failed path). */
  restartIce(): void {
    if (this.isClosed) return;
    this.restartPending = true;
    void this.negotiate();
  }

  /** Replaces the ICE servers (fresh TURN credentials); used by the next gathering. */
  updateIceServers(iceServers: readonly IceServer[]): void {
    const pc = this.pc;
    if (this.isClosed || !pc.setConfiguration) return;
    try {
      pc.setConfiguration({ ...(pc.getConfiguration?.() ?? {}), iceServers: [...iceServers] });
    } catch (error) {
      this.fail('updating the ICE servers failed', error);
    }
  }

  /** Applies a relayed signal from the peer (in arrival order, one at a time). */
  handleSignal(signal: IncomingSignal): void {
    if (this.isClosed) return;
    this.incoming = this.incoming
      .then(() => this.apply(signal))
      .catch((error: unknown) => this.fail(`applying ${signal.event} failed`, error));
  }

  /** The signaling session was resumed after a drop: resend what was lost; restart a dead path. */
  resumed(): void {
    if (this.isClosed) return;
    const outbox = this.outbox;
    this.outbox = [];
    for (const send of outbox) void send();
    const state = this.pc.iceConnectionState;
    if (state === 'failed' || state === 'disconnected') this.restartIce();
  }

  /** Closes the peer connection. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.disconnectedTimer !== undefined) clearTimeout(this.disconnectedTimer);
    this.outbox = [];
    try {
      void Promise.resolve(this.pc.close()).catch(() => undefined);
    } catch {
      // Already closed.
    }
    this.emit('closed', undefined);
    this.removeAllHandlers();
  }

  // -------------------------------------------------------------------------------------------

  private async negotiate(): Promise<void> {
    const pc = this.pc;
    if (this.isClosed) return;
    if (this.makingOffer || pc.signalingState !== 'stable') {
      this.negotiationPending = true;
      return;
    }
    const iceRestart = this.restartPending;
    this.restartPending = false;
    this.makingOffer = true;
    this.holdCandidates++;
    try {
      if (iceRestart) {
        await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
      } else {
        await pc.setLocalDescription();
      }
      const offer = pc.localDescription;
      if (offer?.type === 'offer') {
        this.sendSignal(
          'signal.offer',
          iceRestart ? { sdp: offer.sdp, iceRestart } : { sdp: offer.sdp },
        );
      }
    } catch (error) {
      this.fail('creating an offer failed', error);
    } finally {
      this.makingOffer = false;
      this.releaseCandidates();
    }
  }

  private async apply(signal: IncomingSignal): Promise<void> {
    const pc = this.pc;
    if (this.isClosed) return;
    if (signal.event === 'signal.candidate') {
      if (!pc.remoteDescription) {
        this.earlyRemoteCandidates.push(signal.candidate);
        return;
      }
      await this.addCandidate(signal.candidate);
      return;
    }
    const type = signal.event === 'signal.offer' ? 'offer' : 'answer';
    if (type === 'answer' && pc.signalingState !== 'have-local-offer') {
      // A stale answer: to an offer rolled back, or a duplicate of one already applied.
      return;
    }
    const readyForOffer =
      !this.makingOffer && (pc.signalingState === 'stable' || this.settingRemoteAnswerPending);
    const collision = type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    this.settingRemoteAnswerPending = type === 'answer';
    try {
      if (collision && pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' });
      }
      await pc.setRemoteDescription({ type, sdp: signal.sdp });
    } finally {
      this.settingRemoteAnswerPending = false;
    }
    for (const candidate of this.earlyRemoteCandidates.splice(0)) {
      await this.addCandidate(candidate);
    }
    if (type === 'offer') {
      this.holdCandidates++;
      try {
        await pc.setLocalDescription();
        const answer = pc.localDescription;
        if (answer?.type === 'answer') this.sendSignal('signal.answer', { sdp: answer.sdp });
      } finally {
        this.releaseCandidates();
      }
    }
  }

  private async addCandidate(candidate: IceCandidateInit | null): Promise<void> {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      // End-of-candidates is optional, and candidates of an ignored offer are expected to fail.
      if (candidate !== null && !this.ignoreOffer) {
        this.fail('adding an ICE candidate failed', error);
      }
    }
  }

  private releaseCandidates(): void {
    this.holdCandidates--;
    if (this.holdCandidates > 0) return;
    for (const candidate of this.heldCandidates.splice(0)) {
      this.sendSignal('signal.candidate', { candidate });
    }
  }

  private iceStateChanged(): void {
    const state = this.pc.iceConnectionState;
    if (this.disconnectedTimer !== undefined) {
      clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = undefined;
    }
    if (this.isClosed) return;
    if (state === 'failed' || state === 'disconnected') {
      const wait =
        (state === 'failed' ? 0 : this.disconnectedTimeoutMs) +
        (this.polite ? this.disconnectedTimeoutMs : 0);
      this.disconnectedTimer = setTimeout(() => {
        this.disconnectedTimer = undefined;
        const now = this.pc.iceConnectionState;
        if (now === 'failed' || now === 'disconnected') this.restartIce();
      }, wait);
    }
  }

  private sendSignal(
    event: 'signal.offer',
    data: { readonly sdp: string; readonly iceRestart?: boolean },
  ): void;
  private sendSignal(event: 'signal.answer', data: { readonly sdp: string }): void;
  private sendSignal(
    event: 'signal.candidate',
    data: { readonly candidate: IceCandidateInit | null },
  ): void;
  private sendSignal(
    event: 'signal.offer' | 'signal.answer' | 'signal.candidate',
    data: Record<string, unknown>,
  ): void {
    const to = this.remotePeerId;
    const send = async (): Promise<void> => {
      if (this.isClosed) return;
      try {
        // The overloads above keep `data` right for each event.
        await this.client.request(event, { to, ...data });
      } catch (error) {
        this.signalFailed(event, error, send);
      }
    };
    void send();
  }

  private signalFailed(event: string, error: unknown, retry: () => Promise<void>): void {
    if (this.isClosed) return;
    if (
      isClientError(error, ClientErrorCode.NotConnected) ||
      isClientError(error, ClientErrorCode.ConnectionLost)
    ) {
      // Sent again once the session is resumed (a duplicate is harmless: stale answers and
      // repeated candidates are ignored).
      this.outbox.push(retry);
      return;
    }
    if (isClientError(error, ProtocolErrorCode.PeerNotFound)) {
      this.close();
      return;
    }
    this.fail(`${event} to ${this.remotePeerId} failed`, error);
  }

  private fail(message: string, error: unknown): void {
    if (this.isClosed) return;
    this.emit(
      'error',
      isClientError(error)
        ? error
        : new ClientError(
            ClientErrorCode.NegotiationFailed,
            `${message}: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          ),
    );
  }
}
