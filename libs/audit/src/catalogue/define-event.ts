import type { z } from 'zod';
import type { Subjects } from '../envelope.js';

/**
 * One event type of the catalogue: its payload schema at the latest version, the upcasters that
 * lift stored older versions to it, the stream it belongs to and the subjects it is about.
 * Writes always use the latest version; reads go through the upcasters.
 */
export interface EventDefinition<T extends string = string, D = unknown> {
  /** `<aggregate>.<pastTenseVerb>` */
  readonly type: T;
  /** Latest schema version. */
  readonly version: number;
  readonly schema: z.ZodType<D>;
  /** `upcasters[n]` turns a version-n payload into version n+1. */
  readonly upcasters: Readonly<Record<number, (data: unknown) => unknown>>;
  /** Stream id `<aggregate>-<id>` of an event with this payload. */
  readonly stream: (data: D) => string;
  /** Subject ids the payload names. */
  readonly subjects: (data: D) => Subjects;
}

export function defineEvent<const T extends string, D>(
  definition: EventDefinition<T, D>,
): EventDefinition<T, D> {
  return definition;
}

/** Payload type of a definition. */
export type PayloadOf<E> = E extends EventDefinition<string, infer D> ? D : never;
