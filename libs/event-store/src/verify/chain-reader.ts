import pg from 'pg';
import type { ChainRecord } from '../chain.js';
import type { EventStoreSettings } from '../open-event-store.js';
import { PG_TYPES } from '../postgres/pg-types.js';
import { windowedPages } from '../postgres/postgres-pages.js';
import { SqliteReader } from '../sqlite/sqlite-reader.js';
import { rowToChainRecord, type EventRow } from '../internal/event-rows.js';

/** Read-only access to the chained log, opened from settings (also inside worker threads). */
export interface ChainReader {
  /** Pages of records with position in (after, to], in order. */
  pages(after: number, to: number, batchSize: number): AsyncIterable<ChainRecord[]>;
  close(): Promise<void>;
}

/** Opens a chain reader for sqlite or postgres (null for backends read through the store itself). */
export async function openChainReader(settings: EventStoreSettings): Promise<ChainReader | null> {
  switch (settings.backend) {
    case 'sqlite': {
      const reader = new SqliteReader(settings.sqlite.path);
      return {
        async *pages(after, to, batchSize) {
          let from = after;
          for (;;) {
            const page = reader.chainPage(from, to, batchSize);
            if (page.length > 0) yield page;
            if (page.length < batchSize) return;
            from = page[page.length - 1]!.position;
          }
        },
        close: async () => reader.close(),
      };
    }
    case 'postgres': {
      const client = new pg.Client({
        connectionString: settings.postgres.url,
        types: PG_TYPES,
      });
      await client.connect();
      // This connection only walks the primary key in order: say so, rather than let a table
      // without statistics yet (autovacuum off, a fresh restore) be read by bitmap scans and sorts.
      await client.query(
        'SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off',
      );
      const q = `"${settings.postgres.schema}"`;
      return {
        async *pages(after, to, batchSize) {
          const query = async (text: string, values: unknown[]) =>
            (await client.query({ text, values, rowMode: 'array' })).rows as EventRow[];
          for await (const rows of windowedPages(query, q, after, to, batchSize))
            yield rows.map(rowToChainRecord);
        },
        close: () => client.end(),
      };
    }
    case 'kurrentdb':
      return null;
  }
}
