import { parentPort, workerData } from 'node:worker_threads';
import { isEventStoreError } from '../event-store.errors.js';
import type { PreparedAppend } from '../internal/prepare.js';
import { SqliteWriter } from './sqlite-writer.js';

/** Requests the main thread sends to the writer thread. */
export type WriterRequest =
  | { readonly id: number; readonly op: 'append'; readonly requests: readonly PreparedAppend[] }
  | {
      readonly id: number;
      readonly op: 'saveSubscription';
      readonly name: string;
      readonly position: number;
    }
  | { readonly id: number; readonly op: 'close' };

export interface WorkerFailure {
  readonly code: string | undefined;
  readonly message: string;
}

function failure(error: unknown): WorkerFailure {
  const e = error as { code?: unknown; message?: unknown };
  return {
    code: isEventStoreError(error) ? error.code : typeof e.code === 'string' ? e.code : undefined,
    message: typeof e.message === 'string' ? e.message : String(error),
  };
}

const port = parentPort!;
let writer: SqliteWriter;
try {
  writer = new SqliteWriter((workerData as { path: string }).path);
  port.postMessage({ op: 'ready', storeId: writer.storeId });
} catch (error) {
  port.postMessage({ op: 'failed', error: failure(error) });
  process.exit(0);
}

port.on('message', (msg: WriterRequest) => {
  try {
    switch (msg.op) {
      case 'append':
        port.postMessage({ id: msg.id, ok: true, outcomes: writer.append(msg.requests) });
        break;
      case 'saveSubscription':
        writer.saveSubscription(msg.name, msg.position);
        port.postMessage({ id: msg.id, ok: true });
        break;
      case 'close':
        writer.close();
        port.postMessage({ id: msg.id, ok: true });
        port.close();
        break;
    }
  } catch (error) {
    port.postMessage({ id: msg.id, ok: false, error: failure(error) });
  }
});
