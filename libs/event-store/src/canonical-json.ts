import { EventStoreError, EventStoreErrorCode } from './event-store.errors.js';

const MAX_DEPTH = 100;

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no insignificant whitespace, values as
 * `JSON.stringify` writes them. Parsing and re-encoding canonical JSON gives the same string, which
 * is what lets every backend hash exactly what a reader gets back.
 *
 * Rejects what JSON cannot carry faithfully: `NaN`/`Infinity`, `bigint`, functions, symbols,
 * cycles (and nesting deeper than 100).
 */
export function canonicalJson(value: unknown): string {
  return encode(value, 0);
}

function fail(what: string): never {
  throw new EventStoreError(EventStoreErrorCode.InvalidEvent, `${what} cannot be stored as JSON`);
}

function encode(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : fail(String(value));
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth > MAX_DEPTH) fail('a cycle or nesting deeper than 100 levels');
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (i > 0) out += ',';
          out += item === undefined ? 'null' : encode(item, depth + 1);
        }
        return `${out}]`;
      }
      const withJson = value as { toJSON?: () => unknown };
      if (typeof withJson.toJSON === 'function') return encode(withJson.toJSON(), depth + 1);
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length > 1) keys.sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const item = record[key];
        if (item === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(key)}:${encode(item, depth + 1)}`;
      }
      return `${out}}`;
    }
    case 'undefined':
      return fail('undefined');
    default:
      return fail(`a ${typeof value}`);
  }
}
