import type { Request } from 'express';
import type { ApiKeyIdentity } from '@sscontrol/keys';
import type { Endpoint } from './endpoints.js';

/** What the guard attaches to a request it let through. */
export interface OperatorRequest extends Request {
  requestId?: string;
  operator?: ApiKeyIdentity;
  endpoint?: Endpoint;
}

/** The client address as the control API believes it (after CONTROL_TRUST_PROXY). */
export function clientIp(req: Request): string {
  const raw = req.ip ?? req.socket.remoteAddress ?? '0.0.0.0';
  return raw.startsWith('::ffff:') ? raw.slice(7) : raw;
}
