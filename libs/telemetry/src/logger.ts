import { context, trace } from '@opentelemetry/api';
import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';
import { Secret, type Config } from '@sscontrol/config';
import { LOG_SPAN_ID, LOG_TRACE_ID } from './attributes.js';

const CENSOR = '[redacted]';

/** Field paths whose values are never logged, whatever they hold. */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'privateKey',
  '*.privateKey',
  'credential',
  '*.credential',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'url.password',
];

/** Replaces every known secret value in a serialized log line. */
export function scrubSecrets(line: string, secrets: Iterable<string> = Secret.registry): string {
  let out = line;
  for (const secret of secrets) {
    if (secret.length < 6 || !out.includes(secret)) continue;
    out = out.split(secret).join(CENSOR);
  }
  return out;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly config: Pick<Config, 'service' | 'instanceId' | 'logLevel'>;
  readonly version: string;
  /** Default: stdout. Tests pass a stream to inspect the lines. */
  readonly destination?: DestinationStream;
}

/**
 * The process logger: one JSON object per line on stdout with an ISO `time`, a textual `level`
 * (so `grep -i error` finds errors), service and instance, and the active trace and span ids.
 * Secret fields are redacted by path, and any value registered as a {@link Secret} is scrubbed
 * from the final line whatever field it hides in.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.config.logLevel,
      base: {
        service: options.config.service,
        instance: options.config.instanceId,
        version: options.version,
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: CENSOR },
      mixin() {
        const span = trace.getSpan(context.active())?.spanContext();
        return span && trace.isSpanContextValid(span)
          ? { [LOG_TRACE_ID]: span.traceId, [LOG_SPAN_ID]: span.spanId }
          : {};
      },
      hooks: { streamWrite: (line) => scrubSecrets(line) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** Routes NestJS's own logging into the pino logger. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  private write(
    level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    params: unknown[],
  ): void {
    const context =
      typeof params[params.length - 1] === 'string'
        ? (params[params.length - 1] as string)
        : undefined;
    const fields: Record<string, unknown> = context ? { context } : {};
    if (
      level === 'error' &&
      typeof params[0] === 'string' &&
      params.length > 1 &&
      params[0].includes('\n')
    ) {
      fields.stack = params[0];
    }
    if (message instanceof Error) this.logger[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null)
      this.logger[level]({ ...fields, ...message });
    else this.logger[level](fields, String(message));
  }

  /** Nest's routine start-up chatter (modules loaded, routes mapped) is debug detail. */
  log(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
}
