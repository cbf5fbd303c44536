import { register } from 'node:module';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Config } from '@sscontrol/config';
import { ATTR } from './attributes.js';

/** Options of {@link startTracing}. */
export interface TracingOptions {
  readonly config: Pick<Config, 'service' | 'instanceId' | 'telemetry'>;
  readonly version: string;
  /** Extra span processors (tests use an in-memory exporter). */
  readonly spanProcessors?: readonly SpanProcessor[];
}

function parseHeaders(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i > 0)
      out[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(
        part.slice(i + 1).trim(),
      );
  }
  return out;
}

let loaderRegistered = false;

/**
 * Starts the OpenTelemetry NodeSDK: resource attributes of this process, parent-based ratio
 * sampling, OTLP/HTTP export when an endpoint is configured, and the http, pg and ioredis
 * instrumentations. sscontrol is ESM, so the import-in-the-middle loader hook is registered
 * first; modules imported after this call are instrumented, which is why every entry point
 * starts telemetry before it imports the application.
 */
export function startTracing(options: TracingOptions): NodeSDK {
  if (!loaderRegistered) {
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
    loaderRegistered = true;
  }
  diag.setLogger(
    {
      error: () => undefined,
      warn: () => undefined,
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.ERROR,
  );
  const { telemetry } = options.config;
  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (telemetry.otlpEndpoint) {
    processors.push(
      new BatchSpanProcessor(
        new OTLPTraceExporter({
          url: `${telemetry.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`,
          headers: parseHeaders(telemetry.otlpHeaders?.reveal()),
        }),
      ),
    );
  }
  if (processors.length === 0) {
    // Without an exporter spans are still needed: their ids correlate logs and audit events.
    // (NodeSDK installs no tracer provider at all when given no span processor.)
    processors.push({
      onStart() {},
      onEnd() {},
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    });
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR.serviceName]: `sscontrol-${options.config.service}`,
      [ATTR.serviceVersion]: options.version,
      [ATTR.serviceInstanceId]: options.config.instanceId,
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(telemetry.sampleRatio) }),
    spanProcessors: processors,
    // Metrics are prom-client's (/metrics) and logs are pino's: without these the SDK would
    // default to OTLP metric and log exporters aimed at localhost:4318.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => req.url === '/metrics' || req.url === '/health',
      }),
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
      // requireParentSpan: commands outside any operation (BullMQ polling) are not traced;
      // the serializer records the command name only, never arguments (keys, secrets).
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (cmd) => cmd }),
    ],
  });
  sdk.start();
  return sdk;
}
