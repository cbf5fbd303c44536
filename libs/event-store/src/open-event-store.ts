import type { EventStore } from './event-store.js';
import { createPostgresEventStore } from './postgres/postgres-event-store.js';
import { createSqliteEventStore } from './sqlite/sqlite-event-store.js';

/** Group commit tuning shared by the backends. */
export interface BatchSettings {
  readonly maxEvents?: number;
  readonly windowMs?: number;
  readonly maxPendingEvents?: number;
}

/** Serializable description of a store: what config produces and what a child process can reopen. */
export type EventStoreSettings = (
  | { readonly backend: 'sqlite'; readonly sqlite: { readonly path: string } }
  | {
      readonly backend: 'postgres';
      readonly postgres: {
        readonly url: string;
        readonly schema: string;
        readonly poolMax?: number;
      };
    }
  | {
      readonly backend: 'kurrentdb';
      readonly kurrentdb: { readonly url: string; readonly prefix?: string };
    }
) & { readonly batch?: BatchSettings };

/**
 * Opens the configured backend. The KurrentDB client (gRPC and a native read bridge) is loaded
 * only when that backend is chosen.
 */
export async function openEventStore(settings: EventStoreSettings): Promise<EventStore> {
  const b = settings.batch ?? {};
  const batch = {
    ...(b.maxEvents !== undefined ? { maxBatchEvents: b.maxEvents } : {}),
    ...(b.windowMs !== undefined ? { batchWindowMs: b.windowMs } : {}),
    ...(b.maxPendingEvents !== undefined ? { maxPendingEvents: b.maxPendingEvents } : {}),
  };
  switch (settings.backend) {
    case 'sqlite':
      return createSqliteEventStore({ path: settings.sqlite.path, ...batch });
    case 'postgres':
      return createPostgresEventStore({
        connectionString: settings.postgres.url,
        schema: settings.postgres.schema,
        ...(settings.postgres.poolMax !== undefined ? { poolMax: settings.postgres.poolMax } : {}),
        ...batch,
      });
    case 'kurrentdb': {
      const { createKurrentDbEventStore } = await import('./kurrentdb/kurrentdb-event-store.js');
      return createKurrentDbEventStore({
        connectionString: settings.kurrentdb.url,
        ...(settings.kurrentdb.prefix !== undefined ? { prefix: settings.kurrentdb.prefix } : {}),
        ...batch,
      });
    }
  }
}
