import {
  Catch,
  HttpException,
  Inject,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { LOGGER } from '@sscontrol/telemetry';
import { toApiError } from './api-errors.js';
import type { OperatorRequest } from './operator-request.js';

/** One error shape for every failure: `{ error: { code, message, requestId } }`. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<OperatorRequest>();
    const res = host.switchToHttp().getResponse<Response>();
    if (exception instanceof HttpException && !req.endpoint && exception.getStatus() !== 404) {
      // Not an operator endpoint (e.g. /ready's 503 with its check results): keep its body.
      res.status(exception.getStatus()).json(exception.getResponse());
      return;
    }
    const error = toApiError(exception);
    if (error.status >= 500) {
      this.logger.error(
        { err: exception, requestId: req.requestId, code: error.code },
        `control API request failed: ${error.code}`,
      );
    }
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    res.status(error.status).json({
      error: { code: error.code, message: error.message, requestId: req.requestId ?? 'unknown' },
    });
  }
}
