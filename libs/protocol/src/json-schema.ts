import { z } from 'zod';
import { clientMessages, serverMessages } from './messages.js';

/** Base of the schemas' `$id`s: their place in the repository. */
const SCHEMA_BASE = 'https://sscontrol.invalid/docs/protocol/schemas/';

/**
 * One JSON Schema (draft 2020-12) per protocol v1 message, keyed by file name:
 * `client.<event>.json` for client requests, `server.<event>.json` for server events. Refinements
 * that JSON Schema cannot express (the `control` payload's byte size and depth) are described in
 * the schema's `description` and enforced by the zod schemas only.
 */
export function protocolJsonSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const add = (
    side: 'client' | 'server',
    schema: (typeof clientMessages)[number] | (typeof serverMessages)[number],
  ) => {
    const event = schema.shape.event.value;
    const file = `${side}.${event}.json`;
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' });
    out[file] = {
      ...json,
      $id: `${SCHEMA_BASE}${file}`,
      title: `${side === 'client' ? 'client → server' : 'server → client'} ${event}`,
    };
  };
  for (const m of clientMessages) add('client', m);
  for (const m of serverMessages) add('server', m);
  return out;
}

/** The schema files' contents, as written to docs/protocol/schemas/ (2-space JSON, final newline). */
export function protocolSchemaFiles(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(protocolJsonSchemas()).map(([file, schema]) => [
      file,
      `${JSON.stringify(schema, null, 2)}\n`,
    ]),
  );
}
