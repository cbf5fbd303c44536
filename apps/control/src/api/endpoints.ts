import { z } from 'zod';
import { KEY_KINDS, OPERATOR_ROLES, type OperatorRole } from '@sscontrol/keys';

const durationText = z
  .string()
  .regex(/^\d{1,9}(ms|s|m|h|d)?$/)
  .describe('a duration: 90s, 10m, 2h, 1d (a bare number is seconds)');
const reason = z.string().min(1).max(500);
const keyInfo = z.object({
  id: z.string(),
  kind: z.enum(KEY_KINDS),
  status: z.enum(['active', 'retiring', 'retired', 'revoked']),
  fingerprint: z.string(),
  createdAt: z.string(),
  activatedAt: z.string(),
  retireAt: z.string().nullable(),
  retiredAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  label: z.string().nullable(),
  role: z.enum(OPERATOR_ROLES).nullable(),
  replaces: z.string().nullable(),
});

/** Request bodies: strict (unknown fields are refused with `unknown_field`). */
export const bodies = {
  mintClientToken: z.strictObject({
    subject: z.string().min(1).max(200),
    role: z.enum(['host', 'controller']),
    sessions: z.array(z.string().min(1).max(200)).min(1).max(32),
    ttl: durationText.optional(),
  }),
  revokeClientToken: z.strictObject({
    tokenId: z.string().min(1).max(200),
    expiresAt: z.iso.datetime({ offset: true }),
    subject: z.string().min(1).max(200).optional(),
    reason: reason.optional(),
  }),
  mintTurnCredential: z.strictObject({
    subject: z.string().min(1).max(128),
    ttl: durationText.optional(),
  }),
  rotateKeys: z
    .strictObject({
      kinds: z.array(z.enum(KEY_KINDS)).min(1).optional(),
      all: z.literal(true).optional(),
      grace: durationText.optional(),
      immediate: z.boolean().optional(),
      reason: reason.optional(),
    })
    .refine((b) => (b.kinds ? !b.all : b.all === true), {
      message: 'give either kinds or all: true',
    })
    .refine((b) => !(b.immediate && b.grace), {
      message: 'grace and immediate exclude each other',
    }),
  revokeKey: z.strictObject({ reason: reason.optional() }),
  createApiKey: z.strictObject({
    label: z.string().min(1).max(100),
    role: z.enum(OPERATOR_ROLES),
  }),
} as const;

/** Response bodies (documented in the OpenAPI document). */
export const responses = {
  whoami: z.object({
    keyId: z.string(),
    role: z.enum(OPERATOR_ROLES),
    label: z.string().nullable(),
  }),
  clientToken: z.object({
    token: z.string(),
    tokenId: z.string(),
    keyId: z.string(),
    keyFingerprint: z.string(),
    expiresAt: z.string(),
  }),
  ok: z.object({ ok: z.literal(true) }),
  turnCredential: z.object({
    username: z.string(),
    credential: z.string(),
    ttl: z.number(),
    expiresAt: z.string(),
    uris: z.array(z.string()),
  }),
  keys: z.object({ version: z.number(), keys: z.array(keyInfo) }),
  key: keyInfo,
  rotation: z.object({
    rotations: z.array(
      z.object({
        kind: z.enum(KEY_KINDS),
        replaced: z.array(keyInfo),
        created: z.array(keyInfo),
        graceMs: z.number(),
        immediate: z.boolean(),
        apiKeys: z.array(z.object({ key: keyInfo, apiKey: z.string() })),
        skipped: z.string().optional(),
      }),
    ),
  }),
  apiKeys: z.object({ keys: z.array(keyInfo) }),
  apiKey: z.object({ key: keyInfo, apiKey: z.string() }),
  error: z.object({
    error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }),
  }),
} as const;

/** One operation of the control API. */
export interface Endpoint {
  readonly method: 'GET' | 'POST';
  /** Express path (`:param`); the OpenAPI path is derived. */
  readonly path: string;
  /** `<area>.<verb>`: the action recorded in the audit trail. */
  readonly action: string;
  readonly roles: readonly OperatorRole[];
  readonly summary: string;
  readonly body?: z.ZodType;
  readonly response: z.ZodType;
  /** Status of success. */
  readonly status: 200 | 201;
}

/**
 * Every endpoint with the roles allowed to call it: the single source of the guard's decisions,
 * the OpenAPI document and the role × endpoint test.
 */
export const ENDPOINTS = {
  whoami: {
    method: 'GET',
    path: '/v1/whoami',
    action: 'operator.whoami',
    roles: ['admin', 'operator', 'auditor', 'issuer'],
    summary: 'The API key making the request: id, role, label.',
    response: responses.whoami,
    status: 200,
  },
  mintClientToken: {
    method: 'POST',
    path: '/v1/client-tokens',
    action: 'tokens.mint',
    roles: ['admin', 'operator', 'issuer'],
    summary:
      'Mint a client access token (JWT, HS256, kid) for a device or user: subject, role, session grants, lifetime.',
    body: bodies.mintClientToken,
    response: responses.clientToken,
    status: 201,
  },
  revokeClientToken: {
    method: 'POST',
    path: '/v1/client-tokens/revoke',
    action: 'tokens.revoke',
    roles: ['admin', 'operator'],
    summary:
      'Put a token id on the revocation list until its expiry; gateways refuse it and drop its connections within a second.',
    body: bodies.revokeClientToken,
    response: responses.ok,
    status: 200,
  },
  mintTurnCredential: {
    method: 'POST',
    path: '/v1/turn-credentials',
    action: 'turn.mint',
    roles: ['admin', 'operator'],
    summary: 'Mint coturn REST-API credentials with the active TURN secret.',
    body: bodies.mintTurnCredential,
    response: responses.turnCredential,
    status: 201,
  },
  listKeys: {
    method: 'GET',
    path: '/v1/keys',
    action: 'keys.list',
    roles: ['admin', 'operator', 'auditor'],
    summary: 'The key ring: every key with kind, status, times and fingerprint (never material).',
    response: responses.keys,
    status: 200,
  },
  rotateKeys: {
    method: 'POST',
    path: '/v1/keys/rotate',
    action: 'keys.rotate',
    roles: ['admin', 'operator'],
    summary:
      'Rotate keys of the given kinds (or all). Operator API keys: admin only; the new keys are in the response, once.',
    body: bodies.rotateKeys,
    response: responses.rotation,
    status: 200,
  },
  revokeKey: {
    method: 'POST',
    path: '/v1/keys/:keyId/revoke',
    action: 'keys.revoke',
    roles: ['admin', 'operator'],
    summary:
      'Revoke a key now; clients authenticated with it are disconnected. Operator API keys: use /v1/api-keys/{keyId}/revoke.',
    body: bodies.revokeKey,
    response: responses.key,
    status: 200,
  },
  listApiKeys: {
    method: 'GET',
    path: '/v1/api-keys',
    action: 'api-keys.list',
    roles: ['admin', 'auditor'],
    summary: 'Operator API keys: id, label, role, status, fingerprint.',
    response: responses.apiKeys,
    status: 200,
  },
  createApiKey: {
    method: 'POST',
    path: '/v1/api-keys',
    action: 'api-keys.create',
    roles: ['admin'],
    summary: 'Create an operator API key. The key is in the response only; it is stored hashed.',
    body: bodies.createApiKey,
    response: responses.apiKey,
    status: 201,
  },
  revokeApiKey: {
    method: 'POST',
    path: '/v1/api-keys/:keyId/revoke',
    action: 'api-keys.revoke',
    roles: ['admin'],
    summary: 'Revoke an operator API key now.',
    body: bodies.revokeKey,
    response: responses.key,
    status: 200,
  },
} as const satisfies Record<string, Endpoint>;

export type EndpointName = keyof typeof ENDPOINTS;
