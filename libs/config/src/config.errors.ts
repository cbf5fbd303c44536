/** Codes of {@link ConfigError}. */
export enum ConfigErrorCode {
  /** One or more settings are missing or malformed. */
  Invalid = 'config_invalid',
  /** The `.env` file exists but cannot be read or parsed. */
  EnvFileUnreadable = 'config_env_file_unreadable',
}

/** One bad setting: the variable's name and what was expected of it. */
export interface ConfigIssue {
  readonly variable: string;
  readonly expected: string;
}

/** Raised by `loadConfig` when the environment cannot produce a valid configuration. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly code: ConfigErrorCode,
    message: string,
    readonly issues: readonly ConfigIssue[] = [],
  ) {
    super(message);
  }

  /** One line per bad variable, as printed by the processes before they exit. */
  lines(): string[] {
    if (this.issues.length === 0) return [`sscontrol: ${this.message}`];
    return this.issues.map((i) => `sscontrol: invalid setting ${i.variable}: ${i.expected}`);
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return error instanceof ConfigError;
}
