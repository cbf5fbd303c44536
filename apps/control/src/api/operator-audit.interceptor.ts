import {
  Inject,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { from, lastValueFrom, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import { AuditRecorder } from '@sscontrol/audit';
import { LOGGER } from '@sscontrol/telemetry';
import { toApiError } from './api-errors.js';
import { clientIp, type OperatorRequest } from './operator-request.js';

/** What a handler wants recorded about its call besides the outcome. */
export interface AuditNote {
  target?: string;
  parameters?: Record<string, string | number | boolean | null>;
  /**
   * The change itself was already recorded durably (key events) before it took effect, and the
   * response carries secrets that exist nowhere else (new API keys): if the closing
   * operator.actionPerformed cannot be recorded, the response is still sent (and the failure
   * logged) rather than losing the only copy of keys that are already valid.
   */
  changeRecorded?: boolean;
}

/** Handlers put their {@link AuditNote} here (`res.locals.audit`). */
export const AUDIT_NOTE = 'audit';

/**
 * Records every mutating operator call (`operator.actionPerformed`, succeeded or failed) with
 * actor, role, key fingerprint and request id. The response is sent only after the event is
 * durable: an issued token or key that the trail cannot show is never handed out.
 */
@Injectable()
export class OperatorAuditInterceptor implements NestInterceptor {
  constructor(
    @Inject(AuditRecorder) private readonly recorder: AuditRecorder,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<OperatorRequest>();
    const res = context.switchToHttp().getResponse<{ locals: Record<string, unknown> }>();
    if (!req.operator || !req.endpoint || req.endpoint.method === 'GET') return next.handle();
    const operator = req.operator;
    const endpoint = req.endpoint;
    const record = (outcome: 'succeeded' | 'failed', error?: string) => {
      const note = (res.locals[AUDIT_NOTE] ?? {}) as AuditNote;
      return this.recorder.record(
        'operator.actionPerformed',
        {
          operatorId: operator.keyId,
          role: operator.role,
          action: endpoint.action,
          outcome,
          requestId: req.requestId ?? 'unknown',
          ...(note.target ? { target: note.target } : {}),
          ...(note.parameters ? { parameters: note.parameters } : {}),
          ...(error ? { error } : {}),
        },
        {
          actor: {
            type: 'operator',
            id: operator.keyId,
            ip: clientIp(req),
            keyFingerprint: operator.fingerprint,
          },
          correlationId: req.requestId ?? 'unknown',
        },
      );
    };
    return from(
      (async () => {
        let value: unknown;
        try {
          value = await lastValueFrom(next.handle(), { defaultValue: undefined });
        } catch (error) {
          const api = toApiError(error);
          // The failure is answered even if it cannot be recorded; the original error wins.
          await record('failed', `${api.code}: ${api.message}`.slice(0, 1000)).catch(
            () => undefined,
          );
          throw error;
        }
        try {
          await record('succeeded');
        } catch (error) {
          const note = (res.locals[AUDIT_NOTE] ?? {}) as AuditNote;
          if (!note.changeRecorded) throw error;
          this.logger.error(
            { err: error, requestId: req.requestId, action: endpoint.action },
            'operator action done and its key events recorded, but operator.actionPerformed could not be recorded',
          );
        }
        return value;
      })(),
    );
  }
}
