import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric a sscontrol process exports, registered on a registry of its own.
 * Label values come from small closed sets (backend, outcome, event type, route template):
 * never peer, session, connection or key ids, which would grow without bound.
 */
export class Metrics {
  readonly registry = new Registry();

  /** HTTP requests served, by method, route template and status class (the runbook's error ratio). */
  readonly requests = new Counter({
    name: 'sscontrol_requests_total',
    help: 'Requests handled (HTTP requests and signaling messages).',
    labelNames: ['service', 'kind', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'sscontrol_errors_total',
    help: 'Requests that ended in an error (HTTP 5xx, failed signaling messages, internal failures).',
    labelNames: ['service', 'kind', 'code'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'sscontrol_http_request_duration_seconds',
    help: 'HTTP request duration.',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly appendDuration = new Histogram({
    name: 'sscontrol_event_store_append_duration_seconds',
    help: 'Time from an append being issued to its commit being durable (group commit included).',
    labelNames: ['backend', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly auditEvents = new Counter({
    name: 'sscontrol_audit_events_total',
    help: 'Audit events by type and outcome (recorded, or failed: the action did not take effect).',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly checkpoints = new Counter({
    name: 'sscontrol_audit_checkpoints_total',
    help: 'Signed checkpoints sealed by this process.',
    registers: [this.registry],
  });

  readonly lastCheckpoint = new Gauge({
    name: 'sscontrol_audit_last_checkpoint_timestamp_seconds',
    help: 'Unix time of the last checkpoint this process sealed.',
    registers: [this.registry],
  });

  readonly lastSealedPosition = new Gauge({
    name: 'sscontrol_audit_last_sealed_position',
    help: 'Global position sealed by the last checkpoint this process knows.',
    registers: [this.registry],
  });

  readonly chainIntact = new Gauge({
    name: 'sscontrol_audit_chain_intact',
    help: '1 while the trail verifies before each checkpoint; 0 once tampering was found.',
    registers: [this.registry],
  });

  readonly eventStoreUp = new Gauge({
    name: 'sscontrol_event_store_up',
    help: '1 when the event store answered its last health check.',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });

  readonly redisUp = new Gauge({
    name: 'sscontrol_redis_up',
    help: '1 while the Redis connection is ready.',
    registers: [this.registry],
  });

  /** The runbook's gauge: authenticated WebSocket connections on this gateway. */
  readonly activeConnections = new Gauge({
    name: 'sscontrol_active_connections',
    help: 'Authenticated WebSocket connections open on this gateway instance.',
    registers: [this.registry],
  });

  /** Refused client authentications by reason (bounded: the documented token error codes). */
  readonly authFailures = new Counter({
    name: 'sscontrol_auth_failures_total',
    help: 'Client or operator authentications refused, by surface and reason.',
    labelNames: ['surface', 'reason'] as const,
    registers: [this.registry],
  });

  /** Connections closed because their key or token was revoked. */
  readonly revocationDisconnects = new Counter({
    name: 'sscontrol_revocation_disconnects_total',
    help: 'Connections closed because the key or token they authenticated with was revoked.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Signaling messages handled, by client event and outcome (`ok` or the error code). */
  readonly messages = new Counter({
    name: 'sscontrol_messages_total',
    help: 'Signaling protocol messages handled by this gateway, by event and outcome.',
    labelNames: ['event', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Session peers whose connection this gateway instance holds. */
  readonly signalingPeers = new Gauge({
    name: 'sscontrol_signaling_peers',
    help: 'Session peers held by this gateway instance.',
    registers: [this.registry],
  });

  /** Connections or messages refused by a limit, ban, origin check or lockdown. */
  readonly limitHits = new Counter({
    name: 'sscontrol_limit_hits_total',
    help: 'Connections or messages refused by a limit, ban, origin check or lockdown, by limit.',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  /** Session resumes by outcome (`resumed`, `failed`) and peers whose grace ran out (`expired`). */
  readonly resumes = new Counter({
    name: 'sscontrol_signaling_resumes_total',
    help: 'Session resumes after a reconnect, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** Version of the key ring this process uses (all instances should agree within a second). */
  readonly keyringVersion = new Gauge({
    name: 'sscontrol_keyring_version',
    help: 'Version of the key ring document this process has loaded.',
    registers: [this.registry],
  });

  readonly buildInfo = new Gauge({
    name: 'sscontrol_build_info',
    help: 'Always 1; labels name the running release.',
    labelNames: ['service', 'version', 'event_store'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.chainIntact.set(1);
  }

  /** The exposition text served at `/metrics`. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
