import type { NextFunction, Request, Response } from 'express';
import type { Telemetry } from './telemetry.js';

/**
 * Express middleware counting and logging every HTTP request, matched or not:
 * `sscontrol_requests_total` and `sscontrol_http_request_duration_seconds` by route template and
 * status class, `sscontrol_errors_total` for 5xx, and one log line with the request's trace id.
 * Health and metrics scrapes log at debug level.
 */
export function httpTelemetry(telemetry: Telemetry, service: string) {
  const { metrics, logger } = telemetry;
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.on('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const status = res.statusCode;
      const statusClass = `${Math.floor(status / 100)}xx`;
      metrics.requests.inc({ service, kind: 'http', route, status: statusClass });
      metrics.requestDuration.observe({ route, status: statusClass }, seconds);
      if (status >= 500) metrics.errors.inc({ service, kind: 'http', code: String(status) });
      const quiet = route === '/health' || route === '/metrics';
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : quiet ? 'debug' : 'info';
      logger[level](
        {
          method: req.method,
          route,
          path: req.path,
          status,
          durationMs: Math.round(seconds * 1000),
        },
        `${req.method} ${req.path} ${status}`,
      );
    });
    next();
  };
}
