import { z } from 'zod';

/** Services the test harness may be pointed at (see libs/testing). */
export interface TestEnvironment {
  /** PostgreSQL with trust or password auth; each test file gets its own schema. */
  readonly postgresUrl: string;
  /** A KurrentDB node; its contract suite is skipped, visibly, when unset. */
  readonly kurrentdbUrl: string | undefined;
  /** Binary used when a test starts its own Redis. */
  readonly redisServerBin: string;
}

const schema = z.object({
  TEST_POSTGRES_URL: z.string().default('postgres://postgres@127.0.0.1:5432/test'),
  KURRENTDB_URL: z.string().optional(),
  REDIS_SERVER_BIN: z.string().default('redis-server'),
});

/** Reads the test harness's settings (tests only). */
export function loadTestEnvironment(
  env: Readonly<Record<string, string | undefined>> = process.env,
): TestEnvironment {
  const v = schema.parse({
    TEST_POSTGRES_URL: env.TEST_POSTGRES_URL || undefined,
    KURRENTDB_URL: env.KURRENTDB_URL || undefined,
    REDIS_SERVER_BIN: env.REDIS_SERVER_BIN || undefined,
  });
  return {
    postgresUrl: v.TEST_POSTGRES_URL,
    kurrentdbUrl: v.KURRENTDB_URL,
    redisServerBin: v.REDIS_SERVER_BIN,
  };
}
