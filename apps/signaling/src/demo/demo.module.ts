import { Module } from '@nestjs/common';
import { DemoController } from './demo.controller.js';

/**
 * The demo page (`SIGNALING_DEMO`, default on): a host shares its screen, a controller watches and
 * steers it, both through this gateway and `@sscontrol/client`. Imported by the signaling module
 * only when `config.signaling.demo` is true.
 */
@Module({ controllers: [DemoController] })
export class DemoModule {}
