import { createTestPostgresSchema, describeEventStoreContract } from '@sscontrol/testing';
import { createPostgresEventStore } from './postgres-event-store.js';

describeEventStoreContract(
  'postgres',
  async () => {
    const db = await createTestPostgresSchema();
    return {
      store: await createPostgresEventStore({ connectionString: db.url, schema: db.schema }),
      settings: { backend: 'postgres', postgres: { url: db.url, schema: db.schema } },
      cleanup: () => db.drop(),
    };
  },
  { gaplessPositions: true, chainSealedOnCommit: true },
);
