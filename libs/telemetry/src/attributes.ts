/**
 * Attribute and label names sscontrol puts on spans, logs and metrics, in one place so that
 * dashboards, alert rules and tests agree. OpenTelemetry semantic-convention names are used
 * where one exists.
 */
export const ATTR = {
  serviceName: 'service.name',
  serviceVersion: 'service.version',
  serviceInstanceId: 'service.instance.id',
  eventStoreBackend: 'sscontrol.event_store.backend',
  eventStoreStream: 'sscontrol.event_store.stream',
  eventStoreEvents: 'sscontrol.event_store.events',
  auditEventType: 'sscontrol.audit.event_type',
} as const;

/** Keys every JSON log line carries for correlation with traces. */
export const LOG_TRACE_ID = 'trace_id';
export const LOG_SPAN_ID = 'span_id';
