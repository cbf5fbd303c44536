import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { CONFIG, type Config } from '@sscontrol/config';
import { ApiExceptionFilter } from './api-exception.filter.js';
import { ApiKeysController } from './api-keys.controller.js';
import { AuthThrottle } from './auth-throttle.js';
import { KeysController } from './keys.controller.js';
import { OperatorAuditInterceptor } from './operator-audit.interceptor.js';
import { OperatorAuthGuard } from './operator-auth.guard.js';
import { TokensController } from './tokens.controller.js';

/** The operator HTTP API (`/v1/…`): API-key authentication, roles, audit of every call. */
@Module({
  controllers: [TokensController, KeysController, ApiKeysController],
  providers: [
    {
      provide: AuthThrottle,
      inject: [CONFIG],
      useFactory: (config: Config) => new AuthThrottle(config.control.authFailuresPerMinute),
    },
    OperatorAuthGuard,
    OperatorAuditInterceptor,
    { provide: APP_FILTER, useClass: ApiExceptionFilter },
  ],
})
export class ControlApiModule {}
