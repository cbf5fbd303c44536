import { Writable } from 'node:stream';
import { context, trace, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { Secret } from '@sscontrol/config';
import { createLogger, scrubSecrets } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(chunk.toString());
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, raw, destination };
}

const config = { service: 'signaling' as const, instanceId: 'sig-1', logLevel: 'info' as const };

describe('logger', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });

  it('writes one JSON object per line with ISO time, textual level, service and instance', () => {
    const { lines, destination } = capture();
    createLogger({ config, version: '1.2.3', destination }).error({ code: 'x' }, 'boom');
    expect(lines[0]).toMatchObject({
      level: 'error',
      service: 'signaling',
      instance: 'sig-1',
      version: '1.2.3',
      msg: 'boom',
      code: 'x',
    });
    expect(String(lines[0]!.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('carries the active trace and span ids', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ config, version: '1', destination });
    const sc: SpanContext = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    };
    context.with(trace.setSpanContext(context.active(), sc), () => logger.info('inside'));
    logger.info('outside');
    expect(lines[0]).toMatchObject({ trace_id: sc.traceId, span_id: sc.spanId });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });

  it('redacts secret fields by name and scrubs known secret values anywhere', () => {
    const { raw, destination } = capture();
    const logger = createLogger({ config, version: '1', destination });
    const secret = new Secret('hunter2-hunter2-hunter2');
    logger.warn(
      {
        password: 'pw',
        req: { headers: { authorization: 'Bearer abc' } },
        note: `token=${secret.reveal()}`,
      },
      'x',
    );
    expect(scrubSecrets('a hunter2hunter2 b', ['hunter2hunter2'])).toBe('a [redacted] b');
    expect(raw[0]).not.toContain('"pw"');
    expect(raw[0]).not.toContain('Bearer abc');
    expect(raw[0]).not.toContain(secret.reveal());
    expect(raw[0]).toContain('token=[redacted]');
  });
});
