import path from 'node:path';
import { describeEventStoreContract, tempDir } from '@sscontrol/testing';
import { createSqliteEventStore } from './sqlite-event-store.js';
import { EventStoreErrorCode } from '../event-store.errors.js';

describeEventStoreContract(
  'sqlite',
  async () => {
    const dir = tempDir();
    const file = path.join(dir.path, 'events.db');
    return {
      store: await createSqliteEventStore({ path: file }),
      settings: { backend: 'sqlite', sqlite: { path: file } },
      cleanup: async () => dir.remove(),
    };
  },
  { gaplessPositions: true, chainSealedOnCommit: true },
);

describe('sqlite event store: durability checks', () => {
  it('refuses a database that cannot run durably (WAL with synchronous=FULL)', async () => {
    await expect(createSqliteEventStore({ path: ':memory:' })).rejects.toMatchObject({
      code: EventStoreErrorCode.Misconfigured,
    });
  });
});
