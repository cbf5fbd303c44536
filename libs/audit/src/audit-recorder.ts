import { trace } from '@opentelemetry/api';
import {
  EventStoreErrorCode,
  isEventStoreError,
  uuidv7,
  type EventStore,
  type ExpectedRevision,
} from '@sscontrol/event-store';
import { AuditError, AuditErrorCode } from './audit.errors.js';
import { definitionOf, type AuditEventType, type AuditPayload } from './catalogue/catalogue.js';
import type { Actor, Envelope, Source, Subjects } from './envelope.js';
import { envelopeSchema } from './envelope.js';

/** Who and what an audit event is recorded for. */
export interface AuditContext {
  readonly actor: Actor;
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly incidentId?: string;
  /** When the action happened; default now. */
  readonly occurredAt?: Date;
  /** Subjects beyond those the payload names. */
  readonly subjects?: Subjects;
}

/** Options of {@link AuditRecorder}. */
export interface AuditRecorderOptions {
  readonly store: EventStore;
  readonly source: Source;
  /**
   * Secret values this process holds; an event containing one is refused. Default: none.
   * Processes pass `Secret.registry` from @sscontrol/config.
   */
  readonly secrets?: () => Iterable<string>;
  /** Told about every append that could not be recorded (metrics, logs); not about conflicts. */
  readonly onFailure?: (type: string, error: unknown) => void;
  /** Told about every recorded event (metrics). */
  readonly onRecorded?: (type: string, durationMs: number) => void;
}

/** One event to record. */
export interface AuditEventInput<T extends AuditEventType = AuditEventType> {
  readonly type: T;
  readonly data: AuditPayload<T>;
  /** Default: a new UUIDv7. Pass a stable id to make a retried record idempotent. */
  readonly id?: string;
}

/** Where a recorded audit event landed. */
export interface RecordedAudit {
  /** Global position; null only for a middle event of a multi-event append on KurrentDB. */
  readonly position: number | null;
  readonly id: string;
  readonly type: AuditEventType;
  readonly streamId: string;
  readonly revision: number;
}

const MIN_SECRET_LENGTH = 8;

/**
 * Records audit events, fail-closed: `record` resolves only once the event is durable, and
 * otherwise throws `audit_unavailable` so that the action it records does not take effect
 * (Vault's rule). Nothing is buffered in memory or dropped silently.
 */
export class AuditRecorder {
  constructor(private readonly options: AuditRecorderOptions) {}

  get store(): EventStore {
    return this.options.store;
  }

  /** The process this recorder stamps on every event. */
  get source(): Source {
    return this.options.source;
  }

  /** Validates, envelopes and durably appends one event to its stream. */
  async record<T extends AuditEventType>(
    type: T,
    data: AuditPayload<T>,
    context: AuditContext,
    options: { id?: string; expectedRevision?: ExpectedRevision } = {},
  ): Promise<RecordedAudit & { readonly position: number }> {
    const [recorded] = await this.recordAll(
      [{ type, data, ...(options.id ? { id: options.id } : {}) }],
      context,
      options.expectedRevision,
    );
    // A single-event append's position is always known.
    return { ...recorded!, position: recorded!.position! };
  }

  /** Records several events of one stream atomically (e.g. a rotation's created + rotated). */
  async recordAll(
    inputs: readonly AuditEventInput[],
    context: AuditContext,
    expectedRevision?: ExpectedRevision,
  ): Promise<RecordedAudit[]> {
    const started = performance.now();
    const prepared = inputs.map((input) => this.prepare(input, context));
    const streamId = prepared[0]!.streamId;
    if (prepared.some((p) => p.streamId !== streamId)) {
      throw new AuditError(AuditErrorCode.InvalidEvent, 'recordAll takes events of one stream');
    }
    try {
      const result = await this.options.store.append(
        streamId,
        prepared.map((p) => p.event),
        expectedRevision === undefined ? {} : { expectedRevision },
      );
      const gapless = this.options.store.info.gaplessPositions;
      const records = prepared.map((p, i) => ({
        // Positions between the first and last are known only where they are consecutive.
        position:
          i === prepared.length - 1
            ? result.lastPosition
            : gapless || i === 0
              ? result.firstPosition + i
              : null,
        streamId,
        revision: result.firstRevision + i,
        id: p.event.id,
        type: p.event.type,
      }));
      for (const p of prepared)
        this.options.onRecorded?.(p.event.type, performance.now() - started);
      return records;
    } catch (error) {
      const conflict =
        isEventStoreError(error) &&
        (error.code === EventStoreErrorCode.WrongExpectedRevision ||
          error.code === EventStoreErrorCode.DuplicateEvent);
      // A conflict is an answer (optimistic concurrency), not a failure to record.
      if (!conflict) for (const p of prepared) this.options.onFailure?.(p.event.type, error);
      if (isEventStoreError(error)) {
        switch (error.code) {
          case EventStoreErrorCode.Unavailable:
          case EventStoreErrorCode.Overloaded:
          case EventStoreErrorCode.Closed:
          case EventStoreErrorCode.Misconfigured:
            throw new AuditError(
              AuditErrorCode.Unavailable,
              `audit event ${prepared[0]!.event.type} could not be recorded: ${error.message}`,
              {
                cause: error,
              },
            );
          case EventStoreErrorCode.InvalidEvent:
            throw new AuditError(AuditErrorCode.InvalidEvent, error.message, { cause: error });
          case EventStoreErrorCode.WrongExpectedRevision:
          case EventStoreErrorCode.DuplicateEvent:
            throw error;
        }
      }
      throw new AuditError(
        AuditErrorCode.Unavailable,
        `audit event could not be recorded: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  private prepare(input: AuditEventInput, context: AuditContext) {
    const def = definitionOf(input.type);
    if (!def)
      throw new AuditError(
        AuditErrorCode.UnknownEventType,
        `unknown audit event type ${input.type}`,
      );
    const parsed = def.schema.safeParse(input.data);
    if (!parsed.success) {
      throw new AuditError(
        AuditErrorCode.InvalidEvent,
        `${input.type}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'data'}: ${i.message}`).join('; ')}`,
      );
    }
    const span = trace.getActiveSpan()?.spanContext();
    const traced =
      span && trace.isSpanContextValid(span) ? { traceId: span.traceId, spanId: span.spanId } : {};
    const envelope: Envelope = {
      occurredAt: (context.occurredAt ?? new Date()).toISOString(),
      actor: context.actor,
      source: this.options.source,
      subjects: { ...def.subjects(parsed.data), ...context.subjects },
      ...traced,
      ...(context.correlationId ? { correlationId: context.correlationId } : {}),
      ...(context.causationId ? { causationId: context.causationId } : {}),
      ...(context.incidentId ? { incidentId: context.incidentId } : {}),
    };
    const checked = envelopeSchema.safeParse(envelope);
    if (!checked.success) {
      throw new AuditError(
        AuditErrorCode.InvalidEvent,
        `${input.type} envelope: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    this.refuseSecrets(input.type, parsed.data, envelope);
    return {
      streamId: def.stream(parsed.data),
      event: {
        id: input.id ?? uuidv7(),
        type: input.type,
        schemaVersion: def.version,
        data: parsed.data,
        metadata: checked.data as Record<string, unknown>,
      },
    };
  }

  private refuseSecrets(type: string, data: unknown, envelope: Envelope): void {
    const secrets = this.options.secrets?.();
    if (!secrets) return;
    const text = JSON.stringify([data, envelope]);
    for (const secret of secrets) {
      if (secret.length < MIN_SECRET_LENGTH) continue;
      if (text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1))) {
        throw new AuditError(
          AuditErrorCode.SecretInEvent,
          `${type}: the event contains a secret value and was not recorded`,
        );
      }
    }
  }
}
