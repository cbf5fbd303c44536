import { z } from 'zod';
import { defineEvent } from './define-event.js';
import { id } from './fields.js';

const stream = (d: { instance: string }) => `instance-${d.instance}`;
const service = z.enum(['signaling', 'control', 'cli']);

/** A sscontrol process started serving (its version and store, for "what was running at 03:14"). */
export const InstanceStarted = defineEvent({
  type: 'instance.started',
  version: 1,
  schema: z.strictObject({
    instance: id,
    service,
    version: z.string().max(64),
    host: z.string().max(255),
    pid: z.int().min(1),
    eventStore: z.enum(['sqlite', 'postgres', 'kurrentdb']),
  }),
  upcasters: {},
  stream,
  subjects: () => ({}),
});

export const InstanceStopped = defineEvent({
  type: 'instance.stopped',
  version: 1,
  schema: z.strictObject({ instance: id, service, reason: z.string().max(200) }),
  upcasters: {},
  stream,
  subjects: () => ({}),
});

export const instanceEvents = [InstanceStarted, InstanceStopped] as const;
