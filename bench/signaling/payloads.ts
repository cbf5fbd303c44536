// The relayed payloads, the same for every server: a trickled ICE candidate (~200 bytes on the
// wire) and an SDP offer/answer of a screen share with a data channel (~3 KB). Each carries a
// stamp — 16 decimal digits, the sender's clock in µs — at a fixed marker, so that a receiver
// finds it without parsing the frame (the servers relay the payload untouched).

/** Digits of a stamp (µs since the load process started: 16 digits last 300 years). */
export const STAMP_DIGITS = 16;

const CANDIDATE_MARK = 'candidate:';
const SDP_MARK = 'o=- ';

export const stampText = (stampUs: number) =>
  String(Math.round(stampUs)).padStart(STAMP_DIGITS, '0');

/**
 * An `RTCIceCandidate.toJSON()` of a host candidate; the stamp is its foundation (which no
 * signaling server interprets).
 */
export function candidateJson(stampUs: number): string {
  return JSON.stringify({
    candidate:
      `${CANDIDATE_MARK}${stampText(stampUs)} 1 udp 2122260223 192.168.1.23 54321 typ host ` +
      'generation 0 ufrag Ab3D network-id 1 network-cost 10',
    sdpMid: '0',
    sdpMLineIndex: 0,
    usernameFragment: 'Ab3D',
  });
}

const FINGERPRINT =
  'sha-256 4F:2C:9E:61:0B:7A:3D:88:15:C2:6E:F0:A9:57:1B:D4:3E:82:C7:90:5A:16:EB:2F:08:73:CD:41:9B:E6:20:5F';

function sdpLines(kind: 'offer' | 'answer', stamp: string): string[] {
  const setup = kind === 'offer' ? 'actpass' : 'active';
  const lines = [
    'v=0',
    `${SDP_MARK}${stamp} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS 9d6c1f3a-2b7e-4e1c-a5f0-3c8d2e9b7a41',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 45 46',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:Ab3D',
    'a=ice-pwd:9kT2vQx7LmN4pR8sW1yZ3bC6',
    'a=ice-options:trickle',
    `a=fingerprint:${FINGERPRINT}`,
    `a=setup:${setup}`,
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:toffset',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 urn:3gpp:video-orientation',
    'a=extmap:4 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
    'a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type',
    'a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing',
    'a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space',
    'a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
    'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
    kind === 'offer' ? 'a=sendonly' : 'a=recvonly',
    'a=msid:9d6c1f3a-2b7e-4e1c-a5f0-3c8d2e9b7a41 6b1e0c2d-7f3a-4d8e-9c5b-1a2f3e4d5c6b',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 goog-remb',
    'a=rtcp-fb:96 transport-cc',
    'a=rtcp-fb:96 ccm fir',
    'a=rtcp-fb:96 nack',
    'a=rtcp-fb:96 nack pli',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    'a=rtpmap:98 VP9/90000',
    'a=rtcp-fb:98 goog-remb',
    'a=rtcp-fb:98 transport-cc',
    'a=rtcp-fb:98 ccm fir',
    'a=rtcp-fb:98 nack',
    'a=rtcp-fb:98 nack pli',
    'a=fmtp:98 profile-id=0',
    'a=rtpmap:99 rtx/90000',
    'a=fmtp:99 apt=98',
    'a=rtpmap:100 H264/90000',
    'a=rtcp-fb:100 goog-remb',
    'a=rtcp-fb:100 transport-cc',
    'a=rtcp-fb:100 ccm fir',
    'a=rtcp-fb:100 nack',
    'a=rtcp-fb:100 nack pli',
    'a=fmtp:100 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'a=rtpmap:101 rtx/90000',
    'a=fmtp:101 apt=100',
    'a=rtpmap:45 AV1/90000',
    'a=rtcp-fb:45 goog-remb',
    'a=rtcp-fb:45 transport-cc',
    'a=rtcp-fb:45 ccm fir',
    'a=rtcp-fb:45 nack',
    'a=rtcp-fb:45 nack pli',
    'a=fmtp:45 level-idx=5;profile=0;tier=0',
    'a=rtpmap:46 rtx/90000',
    'a=fmtp:46 apt=45',
    'a=ssrc-group:FID 2845121906 3570431720',
    'a=ssrc:2845121906 cname:Qm7vX2pL9sK4tR1w',
    'a=ssrc:2845121906 msid:9d6c1f3a-2b7e-4e1c-a5f0-3c8d2e9b7a41 6b1e0c2d-7f3a-4d8e-9c5b-1a2f3e4d5c6b',
    'a=ssrc:3570431720 cname:Qm7vX2pL9sK4tR1w',
    'a=ssrc:3570431720 msid:9d6c1f3a-2b7e-4e1c-a5f0-3c8d2e9b7a41 6b1e0c2d-7f3a-4d8e-9c5b-1a2f3e4d5c6b',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    'a=ice-ufrag:Ab3D',
    'a=ice-pwd:9kT2vQx7LmN4pR8sW1yZ3bC6',
    'a=ice-options:trickle',
    `a=fingerprint:${FINGERPRINT}`,
    `a=setup:${setup}`,
    'a=mid:1',
    'a=sctp-port:5000',
    'a=max-message-size:262144',
  ];
  return lines;
}

/** An SDP offer or answer (CRLF line ends, as browsers produce) whose session id is the stamp. */
export function sdpText(kind: 'offer' | 'answer', stampUs: number): string {
  return `${sdpLines(kind, stampText(stampUs)).join('\r\n')}\r\n`;
}

/**
 * Splits a template built with a placeholder stamp into the text before and after it, so that a
 * sender builds each frame with two concatenations.
 */
export function splitAtStamp(template: string): readonly [string, string] {
  const placeholder = stampText(0);
  const at = template.indexOf(placeholder);
  if (at < 0 || template.indexOf(placeholder, at + 1) >= 0) {
    throw new Error('a frame template must hold exactly one stamp');
  }
  return [template.slice(0, at), template.slice(at + placeholder.length)];
}

/** The stamp (µs) in a received frame, or NaN when it has none. */
export function readStamp(frame: string): number {
  let at = frame.indexOf(CANDIDATE_MARK);
  if (at >= 0) at += CANDIDATE_MARK.length;
  else {
    at = frame.indexOf(SDP_MARK);
    if (at < 0) return Number.NaN;
    at += SDP_MARK.length;
  }
  return Number(frame.slice(at, at + STAMP_DIGITS));
}
