import { randomBytes } from 'node:crypto';
import { KurrentDBClient, streamNameFilter, type ReadPosition } from '@kurrent/kurrentdb-client';
import { loadTestEnvironment } from '@sscontrol/config';
import { describeEventStoreContract } from '@sscontrol/testing';
import { createKurrentDbEventStore } from './kurrentdb-event-store.js';

const { kurrentdbUrl } = loadTestEnvironment();

/**
 * Soft-deletes every stream under a test's prefix. KurrentDB keeps deleted events in `$all` until
 * a scavenge, so this only tidies stream listings; the random prefix is what isolates the tests.
 */
async function deleteStreams(url: string, prefix: string): Promise<void> {
  const client = KurrentDBClient.connectionString(url);
  try {
    const names = new Set<string>();
    // The store stream is the first under the prefix: start there rather than scan the whole log.
    let from: ReadPosition | null = null;
    for await (const { event } of client.readStream(`${prefix}sscontrol-store`, { maxCount: 1 })) {
      from = event?.position ?? null;
    }
    if (!from) return;
    for (;;) {
      let read = 0;
      const page = client.readAll({
        fromPosition: from,
        maxCount: 1000,
        filter: streamNameFilter({ prefixes: [prefix] }),
      });
      for await (const { event } of page) {
        read++;
        if (!event) continue;
        names.add(event.streamId);
        from = event.position;
      }
      if (read < 1000) break;
    }
    const all = [...names];
    for (let i = 0; i < all.length; i += 50) {
      await Promise.all(
        all.slice(i, i + 50).map((name) => client.deleteStream(name).catch(() => undefined)),
      );
    }
  } finally {
    await client.dispose();
  }
}

if (kurrentdbUrl === undefined) {
  console.warn('kurrentdb contract suite skipped: KURRENTDB_URL is not set');
  describe('kurrentdb event store', () => {
    it.skip('contract suite — set KURRENTDB_URL to a KurrentDB node to run it', () => undefined);
  });
} else {
  const url = kurrentdbUrl;
  // Random per test file, numbered per test: each test gets an empty store on a shared server.
  const filePrefix = `t${randomBytes(6).toString('hex')}-`;
  let n = 0;
  describeEventStoreContract(
    'kurrentdb',
    async () => {
      const prefix = `${filePrefix}${n++}-`;
      const store = await createKurrentDbEventStore({ connectionString: url, prefix });
      return {
        store,
        settings: { backend: 'kurrentdb', kurrentdb: { url, prefix } },
        cleanup: () => deleteStreams(url, prefix).catch(() => undefined),
      };
    },
    { gaplessPositions: false, chainSealedOnCommit: false },
  );
}
