import { z } from 'zod';
import { defineEvent } from './define-event.js';
import { id, isoTime, reason, role } from './fields.js';

const stream = (d: { sessionId: string }) => `session-${d.sessionId}`;

/** A host opened a session. v2 added `joinPolicy` (v1 sessions admitted token holders only). */
export const SessionOpened = defineEvent({
  type: 'session.opened',
  version: 2,
  schema: z.strictObject({
    sessionId: id,
    hostSubject: id,
    hostPeerId: id,
    maxPeers: z.int().min(2).max(1000),
    joinPolicy: z.enum(['token', 'ask-host']),
  }),
  upcasters: {
    1: (v1) => ({ ...(v1 as object), joinPolicy: 'token' }),
  },
  stream,
  subjects: (d) => ({ sessionId: d.sessionId, peerId: d.hostPeerId, subject: d.hostSubject }),
});

export const SessionJoinRequested = defineEvent({
  type: 'session.joinRequested',
  version: 1,
  schema: z.strictObject({ sessionId: id, peerId: id, subject: id, role }),
  upcasters: {},
  stream,
  subjects: (d) => ({ sessionId: d.sessionId, peerId: d.peerId, subject: d.subject }),
});

export const SessionJoinAccepted = defineEvent({
  type: 'session.joinAccepted',
  version: 1,
  schema: z.strictObject({ sessionId: id, peerId: id, decidedBy: id }),
  upcasters: {},
  stream,
  subjects: (d) => ({ sessionId: d.sessionId, peerId: d.peerId }),
});

export const SessionJoinDenied = defineEvent({
  type: 'session.joinDenied',
  version: 1,
  schema: z.strictObject({ sessionId: id, peerId: id, decidedBy: id, reason: reason.optional() }),
  upcasters: {},
  stream,
  subjects: (d) => ({ sessionId: d.sessionId, peerId: d.peerId }),
});

export const SessionPeerJoined = defineEvent({
  type: 'session.peerJoined',
  version: 1,
  schema: z.strictObject({
    sessionId: id,
    peerId: id,
    subject: id,
    role,
    connectionId: id,
    via: z.enum(['grant', 'host-accept']),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({
    sessionId: d.sessionId,
    peerId: d.peerId,
    subject: d.subject,
    connectionId: d.connectionId,
  }),
});

export const SessionPeerLeft = defineEvent({
  type: 'session.peerLeft',
  version: 1,
  schema: z.strictObject({
    sessionId: id,
    peerId: id,
    reason: z.enum(['left', 'disconnected', 'replaced', 'kicked', 'resume-expired', 'revoked']),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ sessionId: d.sessionId, peerId: d.peerId }),
});

/** TURN REST credentials were handed to a peer. The credential (an HMAC) is a secret and is not recorded. */
export const SessionTurnCredentialsIssued = defineEvent({
  type: 'session.turnCredentialsIssued',
  version: 1,
  schema: z.strictObject({
    sessionId: id,
    peerId: id,
    /** `expiry:subject`, as coturn sees it. */
    username: z.string().min(1).max(300),
    expiresAt: isoTime,
    uris: z.array(z.string().max(300)).max(10),
    /** Id of the TURN secret that signed the credential. */
    keyId: id,
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ sessionId: d.sessionId, peerId: d.peerId, keyId: d.keyId }),
});

export const SessionEnded = defineEvent({
  type: 'session.ended',
  version: 1,
  schema: z.strictObject({
    sessionId: id,
    reason: z.enum(['host-ended', 'host-gone', 'lockdown', 'operator', 'expired', 'revoked']),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ sessionId: d.sessionId }),
});

export const sessionEvents = [
  SessionOpened,
  SessionJoinRequested,
  SessionJoinAccepted,
  SessionJoinDenied,
  SessionPeerJoined,
  SessionPeerLeft,
  SessionTurnCredentialsIssued,
  SessionEnded,
] as const;
