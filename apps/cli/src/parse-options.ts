import type { z } from 'zod';
import { UsageError } from '@sscontrol/audit';

/**
 * Validates a command's options (or an argument) with zod; the first problem becomes a usage
 * error naming the flag as typed (`--expires-at`, not `expiresAt`): exit 2.
 */
export function parseOptions<T>(schema: z.ZodType<T>, raw: unknown, command: string): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const flag = issue.path.length
    ? `--${String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
    : '';
  throw new UsageError(`${command}: ${flag ? `${flag}: ` : ''}${issue.message}`);
}
