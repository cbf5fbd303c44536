// Worker thread of the SQLite floor: one connection, one INSERT per message, each in its own
// (autocommit) transaction, WAL mode with synchronous=FULL. Messages are handled one at a time,
// so the commits are strictly sequential whatever the number of writers on the main thread.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

/** One row to insert: [request id, stream id, event id, type, metadata JSON, data JSON]. */
export type FloorRow = [number, string, string, string, string, string];

/** The worker's answers: ready (with the durability read back), an acknowledgement, a failure. */
export type FloorReply =
  | { readonly op: 'ready'; readonly journalMode: string; readonly synchronous: number }
  | { readonly op: 'ack'; readonly id: number }
  | { readonly op: 'failed'; readonly id: number; readonly message: string };

const port = parentPort!;
const db = new Database((workerData as { path: string }).path);
const journalMode = String(db.pragma('journal_mode = WAL', { simple: true })).toLowerCase();
db.pragma('synchronous = FULL');
const synchronous = Number(db.pragma('synchronous', { simple: true }));
db.exec(
  `CREATE TABLE IF NOT EXISTS events (
     position INTEGER PRIMARY KEY,
     stream_id TEXT NOT NULL,
     event_id TEXT NOT NULL,
     type TEXT NOT NULL,
     metadata TEXT NOT NULL,
     data TEXT NOT NULL
   ) STRICT`,
);
const insert = db.prepare(
  'INSERT INTO events (stream_id, event_id, type, metadata, data) VALUES (?, ?, ?, ?, ?)',
);
port.postMessage({ op: 'ready', journalMode, synchronous } satisfies FloorReply);

port.on('message', (msg: FloorRow | 'close') => {
  if (msg === 'close') {
    db.close();
    port.close();
    return;
  }
  try {
    insert.run(msg[1], msg[2], msg[3], msg[4], msg[5]);
    port.postMessage({ op: 'ack', id: msg[0] } satisfies FloorReply);
  } catch (error) {
    port.postMessage({
      op: 'failed',
      id: msg[0],
      message: (error as Error).message,
    } satisfies FloorReply);
  }
});
