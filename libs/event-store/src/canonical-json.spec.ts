import { canonicalJson } from './canonical-json.js';
import { EventStoreErrorCode } from './event-store.errors.js';

describe('canonicalJson', () => {
  it('sorts keys at every level and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('is stable under parse and re-encode, so every backend hashes what readers get back', () => {
    const value = {
      ü: 'ñ',
      n: [1.5, -0, 1e21, 0.1],
      s: 'line\nbreak\u2028\u0000"\\',
      e: {},
      a: [],
    };
    const once = canonicalJson(value);
    expect(canonicalJson(JSON.parse(once))).toBe(once);
  });

  it('writes what JSON.stringify writes for scalars, dates and undefined members', () => {
    const d = new Date('2026-01-02T03:04:05.678Z');
    expect(canonicalJson({ d, u: undefined, arr: [undefined, null] })).toBe(
      `{"arr":[null,null],"d":"2026-01-02T03:04:05.678Z"}`,
    );
    expect(canonicalJson('x')).toBe('"x"');
    expect(canonicalJson(null)).toBe('null');
  });

  it.each([
    ['NaN', { n: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['bigint', { n: 1n }],
    ['function', { f: () => 1 }],
    ['symbol', { s: Symbol('s') }],
    ['undefined at the top', undefined],
  ])('refuses %s with event_store_invalid_event', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(
      expect.objectContaining({ code: EventStoreErrorCode.InvalidEvent }),
    );
  });

  it('refuses cycles', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => canonicalJson(a)).toThrow(/cycle/);
  });
});
