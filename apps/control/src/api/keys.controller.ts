import {
  Body,
  Controller,
  Inject,
  Param,
  Req,
  Res,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import type { z } from 'zod';
import { parseDuration } from '@sscontrol/config';
import { KEY_KINDS, KEYS, type KeysRuntime } from '@sscontrol/keys';
import { ApiError, ApiErrorCode } from './api-errors.js';
import { Endpoint } from './endpoint.decorator.js';
import { bodies } from './endpoints.js';
import {
  OperatorAuditInterceptor,
  AUDIT_NOTE,
  type AuditNote,
} from './operator-audit.interceptor.js';
import { OperatorAuthGuard } from './operator-auth.guard.js';
import type { OperatorRequest } from './operator-request.js';
import { operatorContext } from './tokens.controller.js';
import { ZodBodyPipe } from './zod-body.pipe.js';

const KEY_ID = /^[a-z]{2}_[a-z2-7]{16}$|^ac_[0-9a-z]{10,40}$/;

/** The key ring: list, rotate, revoke. */
@Controller()
@UseGuards(OperatorAuthGuard)
@UseInterceptors(OperatorAuditInterceptor)
export class KeysController {
  constructor(@Inject(KEYS) private readonly keys: KeysRuntime) {}

  @Endpoint('listKeys')
  list() {
    const keys = this.keys.keyring.list().filter((k) => k.kind !== 'operator-api');
    return { version: this.keys.keyring.version, keys };
  }

  @Endpoint('rotateKeys')
  async rotate(
    @Body(new ZodBodyPipe(bodies.rotateKeys)) body: z.infer<typeof bodies.rotateKeys>,
    @Req() req: OperatorRequest,
    @Res({ passthrough: true }) res: { locals: Record<string, unknown> },
  ) {
    const kinds = body.all ? [...KEY_KINDS] : (body.kinds ?? []);
    const graceMs = body.grace === undefined ? undefined : (parseDuration(body.grace) ?? undefined);
    res.locals[AUDIT_NOTE] = {
      target: `kinds:${kinds.join(',')}`,
      parameters: {
        kinds: kinds.join(','),
        all: body.all === true,
        immediate: body.immediate === true,
        ...(graceMs !== undefined ? { graceMs } : {}),
        ...(body.reason ? { reason: body.reason } : {}),
      },
    } satisfies AuditNote;
    (res.locals[AUDIT_NOTE] as AuditNote).changeRecorded = true;
    const rotations = await this.keys.manager.rotate(
      {
        kinds,
        ...(body.all ? { all: true } : {}),
        ...(graceMs !== undefined ? { graceMs } : {}),
        ...(body.immediate ? { immediate: true } : {}),
        ...(body.reason ? { reason: body.reason } : {}),
      },
      operatorContext(req),
    );
    return { rotations };
  }

  @Endpoint('revokeKey')
  async revoke(
    @Param('keyId') keyId: string,
    @Body(new ZodBodyPipe(bodies.revokeKey)) body: z.infer<typeof bodies.revokeKey>,
    @Req() req: OperatorRequest,
    @Res({ passthrough: true }) res: { locals: Record<string, unknown> },
  ) {
    res.locals[AUDIT_NOTE] = {
      target: `key:${keyId.slice(0, 100)}`,
      ...(body.reason ? { parameters: { reason: body.reason } } : {}),
    } satisfies AuditNote;
    if (!KEY_ID.test(keyId))
      throw new ApiError(400, ApiErrorCode.InvalidBody, 'keyId: not a key id');
    if (this.keys.keyring.get(keyId)?.kind === 'operator-api') {
      throw new ApiError(
        400,
        ApiErrorCode.InvalidBody,
        'operator API keys are revoked through /v1/api-keys/{keyId}/revoke (admin only)',
      );
    }
    return this.keys.manager.revokeKey(keyId, body.reason, operatorContext(req));
  }
}
