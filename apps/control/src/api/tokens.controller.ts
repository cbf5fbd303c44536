import { Body, Controller, Inject, Req, Res, UseGuards, UseInterceptors } from '@nestjs/common';
import type { z } from 'zod';
import { parseDuration } from '@sscontrol/config';
import { KEYS, type KeysRuntime } from '@sscontrol/keys';
import { Endpoint } from './endpoint.decorator.js';
import { bodies } from './endpoints.js';
import {
  OperatorAuditInterceptor,
  AUDIT_NOTE,
  type AuditNote,
} from './operator-audit.interceptor.js';
import { OperatorAuthGuard } from './operator-auth.guard.js';
import type { OperatorRequest } from './operator-request.js';
import { ZodBodyPipe } from './zod-body.pipe.js';

interface Locals {
  locals: Record<string, unknown>;
}

function seconds(text: string | undefined, fallbackMs: number): number {
  const ms = text === undefined ? fallbackMs : (parseDuration(text) ?? NaN);
  return ms / 1000;
}

/** Client tokens and TURN credentials. */
@Controller()
@UseGuards(OperatorAuthGuard)
@UseInterceptors(OperatorAuditInterceptor)
export class TokensController {
  constructor(@Inject(KEYS) private readonly keys: KeysRuntime) {}

  @Endpoint('mintClientToken')
  async mint(
    @Body(new ZodBodyPipe(bodies.mintClientToken)) body: z.infer<typeof bodies.mintClientToken>,
    @Res({ passthrough: true }) res: Locals,
  ) {
    const ttlSeconds = seconds(body.ttl, this.keys.config.keys.clientTokenTtlMs);
    const note: AuditNote = {
      target: `subject:${body.subject}`,
      parameters: {
        subject: body.subject,
        role: body.role,
        sessions: body.sessions.join(','),
        ttlSeconds,
      },
    };
    res.locals[AUDIT_NOTE] = note;
    const minted = await this.keys.tokens.mint({
      subject: body.subject,
      role: body.role,
      sessions: body.sessions,
      ttlSeconds,
    });
    note.target = `token:${minted.tokenId}`;
    note.parameters = { ...note.parameters, keyId: minted.keyId, tokenId: minted.tokenId };
    return {
      token: minted.token,
      tokenId: minted.tokenId,
      keyId: minted.keyId,
      keyFingerprint: minted.keyFingerprint,
      expiresAt: minted.expiresAt.toISOString(),
    };
  }

  @Endpoint('revokeClientToken')
  async revoke(
    @Body(new ZodBodyPipe(bodies.revokeClientToken)) body: z.infer<typeof bodies.revokeClientToken>,
    @Req() req: OperatorRequest,
    @Res({ passthrough: true }) res: Locals,
  ) {
    res.locals[AUDIT_NOTE] = {
      target: `token:${body.tokenId}`,
      parameters: { tokenId: body.tokenId, ...(body.reason ? { reason: body.reason } : {}) },
    } satisfies AuditNote;
    await this.keys.manager.revokeToken(
      {
        tokenId: body.tokenId,
        expiresAt: new Date(body.expiresAt),
        ...(body.subject ? { subject: body.subject } : {}),
        ...(body.reason ? { reason: body.reason } : {}),
      },
      operatorContext(req),
    );
    return { ok: true as const };
  }

  @Endpoint('mintTurnCredential')
  mintTurn(
    @Body(new ZodBodyPipe(bodies.mintTurnCredential))
    body: z.infer<typeof bodies.mintTurnCredential>,
    @Res({ passthrough: true }) res: Locals,
  ) {
    const ttl = body.ttl === undefined ? undefined : seconds(body.ttl, 0);
    const credential = this.keys.turnCredential(body.subject, ttl);
    res.locals[AUDIT_NOTE] = {
      target: `subject:${body.subject}`,
      parameters: {
        subject: body.subject,
        ttlSeconds: credential.ttlSeconds,
        keyId: credential.keyId,
      },
    } satisfies AuditNote;
    return {
      username: credential.username,
      credential: credential.credential,
      ttl: credential.ttlSeconds,
      expiresAt: credential.expiresAt.toISOString(),
      uris: [...credential.uris],
    };
  }
}

/** The audit context of an authenticated operator request. */
export function operatorContext(req: OperatorRequest) {
  const op = req.operator!;
  return {
    actor: {
      type: 'operator' as const,
      id: op.keyId,
      ip: (req.ip ?? '').replace(/^::ffff:/, '') || '0.0.0.0',
      keyFingerprint: op.fingerprint,
    },
    correlationId: req.requestId ?? 'unknown',
  };
}
