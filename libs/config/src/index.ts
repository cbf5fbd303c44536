export {
  envExample,
  eventStoreConnection,
  loadConfig,
  loadConfigOrExit,
  redactUrl,
  settingsTable,
} from './config.js';
export { CONFIG, ConfigModule } from './config.module.js';
export type { Config, EventStoreSettings, LoadConfigOptions, ServiceName } from './config.js';
export { ConfigError, ConfigErrorCode, isConfigError } from './config.errors.js';
export type { ConfigIssue } from './config.errors.js';
export { Secret, isSecret } from './secret.js';
export { SETTINGS, parseDuration } from './settings.js';
export type { SettingName } from './settings.js';
export { loadTestEnvironment } from './test-environment.js';
export type { TestEnvironment } from './test-environment.js';
