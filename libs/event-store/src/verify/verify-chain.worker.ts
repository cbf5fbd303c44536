import { parentPort, workerData } from 'node:worker_threads';
import type { EventStoreSettings } from '../open-event-store.js';
import { verifySegment, type SegmentMessage } from './verify-chain.js';

const port = parentPort!;
const { settings, segment, redacted } = workerData as {
  settings: EventStoreSettings;
  segment: { after: number; to: number; prevHash: string };
  redacted: number[];
};
let last = 0;
try {
  const result = await verifySegment(settings, segment, redacted, (checked) => {
    if (checked - last >= 20_000) {
      last = checked;
      port.postMessage({ kind: 'progress', checked } satisfies SegmentMessage);
    }
  });
  port.postMessage({ kind: 'done', ...result } satisfies SegmentMessage);
} catch (error) {
  port.postMessage({ kind: 'failed', message: (error as Error).message } satisfies SegmentMessage);
}
