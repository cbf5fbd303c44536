import express, { type NextFunction, type Request, type Response } from 'express';
import { uuidv7 } from '@sscontrol/event-store';
import type { OperatorRequest } from './operator-request.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

function reject(
  res: Response,
  req: OperatorRequest,
  status: number,
  code: string,
  message: string,
): void {
  res.status(status).json({ error: { code, message, requestId: req.requestId ?? 'unknown' } });
}

/**
 * The edge of the control API, before routing: a request id on every request (`X-Request-Id`
 * taken when well-formed, else a new UUIDv7, echoed back), and JSON bodies only, bounded in
 * size, answered with the API's error shape when refused (415, 413, 400).
 */
export function httpBoundary(options: { maxBodyBytes: number }) {
  const json = express.json({ limit: options.maxBodyBytes, strict: true, type: () => true });
  return (req: Request, res: Response, next: NextFunction): void => {
    const r = req as OperatorRequest;
    const given = req.headers['x-request-id'];
    r.requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : uuidv7();
    res.setHeader('x-request-id', r.requestId);
    const hasBody =
      req.headers['transfer-encoding'] !== undefined ||
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (!hasBody) {
      req.body = undefined;
      next();
      return;
    }
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
      reject(res, r, 415, 'unsupported_media_type', 'request bodies are application/json');
      return;
    }
    json(req, res, (error?: unknown) => {
      if (!error) {
        next();
        return;
      }
      const type = (error as { type?: string }).type;
      if (type === 'entity.too.large') {
        reject(
          res,
          r,
          413,
          'body_too_large',
          `request bodies are at most ${options.maxBodyBytes} bytes`,
        );
      } else if (type === 'entity.parse.failed') {
        reject(res, r, 400, 'invalid_json', 'the body is not valid JSON');
      } else {
        reject(res, r, 400, 'invalid_body', 'the body could not be read');
      }
    });
  };
}
