/** The BullMQ queue of scheduled maintenance. */
export const MAINTENANCE_QUEUE = 'sscontrol-maintenance';

/** Every maintenance job, its default schedule (cron, time zone) and payload. */
export const MAINTENANCE_JOBS = {
  /** Verifies the whole audit trail (chain, checkpoints, anchors) and records the result. */
  'audit-verify': { pattern: '17 3 * * *', tz: 'UTC' },
} as const;

export type MaintenanceJobName = keyof typeof MAINTENANCE_JOBS;

/** Payload of every maintenance job (schedulers add no data; manual runs name who asked). */
export interface MaintenanceJobData {
  readonly requestedBy?: string;
}
