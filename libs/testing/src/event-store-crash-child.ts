// Child process of the contract suite's restart test: appends from 8 concurrent writers and prints
// every acknowledged append ("<position> <writer> <n>") until the parent kills it with SIGKILL.
import { openEventStore, type EventStoreSettings } from '@sscontrol/event-store';

const settings = JSON.parse(process.argv[2]!) as EventStoreSettings;
const store = await openEventStore(settings);
await Promise.all(
  Array.from({ length: 8 }, async (_, writer) => {
    for (let n = 0; ; n++) {
      const r = await store.append(`crash-${writer}`, [
        { type: 'crash.appended', data: { writer, n } },
      ]);
      process.stdout.write(`${r.lastPosition} ${writer} ${n}\n`);
    }
  }),
);
