import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { EventStore } from './event-store.js';
import { openEventStore, type EventStoreSettings } from './open-event-store.js';

/** Injection token of the process's {@link EventStore}. */
export const EVENT_STORE = Symbol('sscontrol.event-store');

@Injectable()
class EventStoreCloser implements OnApplicationShutdown {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

/**
 * Binds the configured backend as {@link EVENT_STORE}. The store is opened (and its durability
 * and schema checked) before the application starts, and closed, pending appends committed,
 * when it shuts down.
 */
@Module({})
export class EventStoreModule {
  static forRoot(settings: EventStoreSettings): DynamicModule {
    return {
      module: EventStoreModule,
      global: true,
      providers: [
        { provide: EVENT_STORE, useFactory: () => openEventStore(settings) },
        EventStoreCloser,
      ],
      exports: [EVENT_STORE],
    };
  }

  /** Binds an already opened store (tests, the CLI). */
  static forStore(store: EventStore): DynamicModule {
    return {
      module: EventStoreModule,
      global: true,
      providers: [{ provide: EVENT_STORE, useValue: store }],
      exports: [EVENT_STORE],
    };
  }
}
