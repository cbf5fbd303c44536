import { isUuid, uuidv7, uuidv7Time } from './uuid-v7.js';

describe('uuidv7', () => {
  it('makes lower-case version 7, variant 10 ids that carry their time', () => {
    const now = Date.UTC(2026, 10, 25, 12, 0, 0);
    const id = uuidv7(now);
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
    expect(uuidv7Time(id).getTime()).toBeGreaterThanOrEqual(now);
  });

  it('sorts ids made in the same millisecond in creation order', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_800_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
