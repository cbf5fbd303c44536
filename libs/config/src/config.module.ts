import { Module, type DynamicModule } from '@nestjs/common';
import type { Config } from './config.js';

/** Injection token of the process's frozen {@link Config}. */
export const CONFIG = Symbol('sscontrol.config');

/** Makes the configuration loaded at start-up injectable everywhere (`@Inject(CONFIG)`). */
@Module({})
export class ConfigModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [{ provide: CONFIG, useValue: config }],
      exports: [CONFIG],
    };
  }
}
