import { z } from 'zod';
import { defineEvent } from './define-event.js';
import { id } from './fields.js';

const stream = (d: { name: string }) => `job-${d.name}`;
const name = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/);
/** A small summary of what a run did or found (counts, file names, sizes) — never secrets. */
const summary = z.record(
  z.string().max(64),
  z.union([z.string().max(500), z.number(), z.boolean(), z.null()]),
);

export const JobScheduled = defineEvent({
  type: 'job.scheduled',
  version: 1,
  schema: z.strictObject({ name, pattern: z.string().max(100), timezone: z.string().max(64) }),
  upcasters: {},
  stream,
  subjects: () => ({}),
});

export const JobStarted = defineEvent({
  type: 'job.started',
  version: 1,
  schema: z.strictObject({ jobId: id, name, runKey: id, attempt: z.int().min(1) }),
  upcasters: {},
  stream,
  subjects: (d) => ({ jobId: d.jobId }),
});

export const JobSucceeded = defineEvent({
  type: 'job.succeeded',
  version: 1,
  schema: z.strictObject({
    jobId: id,
    name,
    runKey: id,
    durationMs: z.int().min(0),
    /** True when the job checked its own result (a restored backup, a parsed certificate…). */
    verified: z.boolean(),
    summary,
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ jobId: d.jobId }),
});

export const JobFailed = defineEvent({
  type: 'job.failed',
  version: 1,
  schema: z.strictObject({
    jobId: id,
    name,
    runKey: id,
    durationMs: z.int().min(0),
    attempt: z.int().min(1),
    error: z.string().max(2000),
    /** False when retrying cannot help. */
    retryable: z.boolean(),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ jobId: d.jobId }),
});

export const jobEvents = [JobScheduled, JobStarted, JobSucceeded, JobFailed] as const;
