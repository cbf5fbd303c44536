import { EVENT_COLUMNS } from '../internal/event-rows.js';

/** Runs a query with positional parameters and returns rows as arrays. */
export type ArrayQuery<R> = (sql: string, params: unknown[]) => Promise<R[]>;

/**
 * The events with position in (after, to], in order, page by page. Each page is a window of
 * `size` positions rather than `ORDER BY … LIMIT`: its cost stays bounded whatever plan the
 * planner picks (before a table's first ANALYZE its range estimates are guesses, and a LIMIT
 * query over a million rows has been seen to become a parallel sort of half of them). A window
 * that holds nothing (positions removed by retention) jumps to the next existing position.
 */
export async function* windowedPages<R extends unknown[]>(
  query: ArrayQuery<R>,
  schema: string,
  after: number,
  to: number,
  size: number,
): AsyncIterable<R[]> {
  let from = after;
  while (from < to) {
    const end = Math.min(from + size, to);
    const rows = await query(
      `SELECT ${EVENT_COLUMNS} FROM ${schema}.events WHERE position > $1 AND position <= $2 ORDER BY position`,
      [from, end],
    );
    if (rows.length > 0) {
      yield rows;
      from = end;
      continue;
    }
    const next = await query(
      `SELECT min(position) FROM ${schema}.events WHERE position > $1 AND position <= $2`,
      [end, to],
    );
    const skipTo = next[0]?.[0] as number | null | undefined;
    if (skipTo === null || skipTo === undefined) return;
    from = skipTo - 1;
  }
}
