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
import { KEYS, type KeysRuntime } from '@sscontrol/keys';
import { ApiError } from './api-errors.js';
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

/** Operator API keys, and who is calling. */
@Controller()
@UseGuards(OperatorAuthGuard)
@UseInterceptors(OperatorAuditInterceptor)
export class ApiKeysController {
  constructor(@Inject(KEYS) private readonly keys: KeysRuntime) {}

  @Endpoint('whoami')
  whoami(@Req() req: OperatorRequest) {
    const op = req.operator!;
    return { keyId: op.keyId, role: op.role, label: op.label };
  }

  @Endpoint('listApiKeys')
  list() {
    return { keys: this.keys.keyring.list('operator-api') };
  }

  @Endpoint('createApiKey')
  async create(
    @Body(new ZodBodyPipe(bodies.createApiKey)) body: z.infer<typeof bodies.createApiKey>,
    @Req() req: OperatorRequest,
    @Res({ passthrough: true }) res: { locals: Record<string, unknown> },
  ) {
    const note: AuditNote = {
      parameters: { label: body.label, role: body.role },
      changeRecorded: true,
    };
    res.locals[AUDIT_NOTE] = note;
    const issued = await this.keys.manager.createApiKey(body, operatorContext(req));
    note.target = `key:${issued.key.id}`;
    return issued;
  }

  @Endpoint('revokeApiKey')
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
    const key = this.keys.keyring.get(keyId);
    if (!key || key.kind !== 'operator-api') {
      throw new ApiError(404, 'key_not_found', `no operator API key ${keyId.slice(0, 100)}`);
    }
    return this.keys.manager.revokeKey(keyId, body.reason, operatorContext(req));
  }
}
