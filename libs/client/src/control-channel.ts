import { controlPayload } from '@sscontrol/protocol';
import { ClientError, ClientErrorCode } from './client.errors.js';
import { Emitter } from './emitter.js';
import type { ControlPayload, DataChannelLike } from './types.js';

/** Label of the data channel that carries control events (pointer, keys) between two peers. */
export const CONTROL_CHANNEL_LABEL = 'sscontrol.control';

/** Events of a {@link ControlChannel}. */
export interface ControlChannelEvents {
  open: undefined;
  /** A control event from the peer: a JSON object within the protocol's `control` bounds. */
  message: ControlPayload;
  close: undefined;
  /** A message that was not a valid control payload (dropped). */
  error: ClientError;
}

/**
 * JSON control events over an `RTCDataChannel`: the same payloads as the gateway's `control`
 * message (a JSON object of at most 4 KiB, 8 levels), but peer to peer — ordered, low latency,
 * without a round trip through the gateway. Messages that break those bounds are refused on both
 * ends.
 */
export class ControlChannel extends Emitter<ControlChannelEvents> {
  constructor(readonly channel: DataChannelLike) {
    super();
    channel.onopen = () => this.emit('open', undefined);
    channel.onclose = () => this.emit('close', undefined);
    channel.onmessage = (event: { data: unknown }) => this.receive(event.data);
  }

  /** Whether messages can be sent now. */
  get isOpen(): boolean {
    return this.channel.readyState === 'open';
  }

  /**
   * Sends one control event.
   * @throws ClientError `not_connected` when the channel is not open, `invalid_control_message`
   *   when the payload is not a JSON object within the bounds.
   */
  send(payload: ControlPayload): void {
    if (!this.isOpen) {
      throw new ClientError(
        ClientErrorCode.NotConnected,
        `control channel is ${this.channel.readyState}`,
      );
    }
    const valid = controlPayload.safeParse(payload);
    if (!valid.success) {
      throw new ClientError(
        ClientErrorCode.InvalidControlMessage,
        valid.error.issues[0]?.message ?? 'invalid control payload',
      );
    }
    this.channel.send(JSON.stringify(payload));
  }

  close(): void {
    this.channel.close();
  }

  private receive(data: unknown): void {
    // werift hands text messages over as Buffers; browsers as strings.
    const text =
      typeof data === 'string'
        ? data
        : data instanceof Uint8Array
          ? new TextDecoder().decode(data)
          : undefined;
    let json: unknown;
    try {
      json = text === undefined ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const valid = controlPayload.safeParse(json);
    if (!valid.success) {
      this.emit(
        'error',
        new ClientError(
          ClientErrorCode.InvalidControlMessage,
          'control message dropped: not a valid payload',
        ),
      );
      return;
    }
    this.emit('message', valid.data);
  }
}
