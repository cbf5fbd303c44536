import { Injectable, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { ApiError, ApiErrorCode } from './api-errors.js';

/** Validates a request body against its endpoint's strict zod schema. */
@Injectable()
export class ZodBodyPipe<T> implements PipeTransform<unknown, T> {
  constructor(private readonly schema: z.ZodType<T>) {}

  transform(value: unknown): T {
    const parsed = this.schema.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    const unknown = parsed.error.issues.find((i) => i.code === 'unrecognized_keys');
    if (unknown && 'keys' in unknown) {
      throw new ApiError(
        400,
        ApiErrorCode.UnknownField,
        `unknown field(s): ${unknown.keys.join(', ')}`,
      );
    }
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'body';
    throw new ApiError(400, ApiErrorCode.InvalidBody, `${where}: ${issue.message}`);
  }
}
