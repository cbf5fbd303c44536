import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { LimitsErrorCode } from './limits.errors.js';
import type { Lockdown, LockdownState } from './lockdown.js';

/** A lockdown flag under test, on a clock the suite moves. */
export type LockdownFactory = (
  clock: () => number,
) => Promise<{ lockdown: Lockdown; cleanup: () => Promise<void> }>;

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** What each lockdown flag must do; run on MemoryLockdown (unit) and RedisLockdown (integration). */
export function describeLockdownContract(name: string, create: LockdownFactory): void {
  describe(`lockdown contract: ${name}`, () => {
    let now: number;
    let lockdown: Lockdown;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      now = T0;
      ({ lockdown, cleanup } = await create(() => now));
      await lockdown.start();
    });
    afterEach(async () => {
      await lockdown.close();
      await cleanup();
    });

    it('starts off', () => {
      expect(lockdown.state()).toEqual({ enabled: false, dropExisting: false, since: null });
    });

    it('is in force when set resolves, with its options', async () => {
      const state = await lockdown.set({ reason: 'breach', incidentId: 'inc-1' });
      const expected = {
        enabled: true,
        dropExisting: false,
        reason: 'breach',
        incidentId: 'inc-1',
        since: '2030-01-01T00:00:00.000Z',
      };
      expect(state).toEqual(expected);
      expect(lockdown.state()).toEqual(expected);
    });

    it('keeps its start when its options change, and starts afresh after a clear', async () => {
      await lockdown.set();
      now += 60_000;
      const changed = await lockdown.set({ dropExisting: true });
      expect(changed).toEqual({
        enabled: true,
        dropExisting: true,
        since: '2030-01-01T00:00:00.000Z',
      });
      expect(await lockdown.clear()).toBe(true);
      expect(lockdown.state().enabled).toBe(false);
      expect(await lockdown.clear()).toBe(false);
      now += 60_000;
      expect((await lockdown.set()).since).toBe('2030-01-01T00:02:00.000Z');
    });

    it('tells listeners of each change with the state before, until they unsubscribe', async () => {
      const heard: [LockdownState, LockdownState][] = [];
      const stop = lockdown.onChange((state, previous) => heard.push([state, previous]));
      const on = await lockdown.set({ reason: 'r' });
      // Setting the same options again changes nothing, so no one is told.
      await lockdown.set({ reason: 'r' });
      const dropping = await lockdown.set({ reason: 'r', dropExisting: true });
      await lockdown.clear();
      stop();
      await lockdown.set();
      const off = { enabled: false, dropExisting: false, since: null };
      expect(heard).toEqual([
        [on, off],
        [dropping, on],
        [off, dropping],
      ]);
    });

    it.each([
      ['an empty reason', { reason: '' }],
      ['a reason of 501 characters', { reason: 'x'.repeat(501) }],
      ['an empty incident id', { incidentId: '' }],
      ['dropExisting not a boolean', { dropExisting: 'yes' }],
      ['an unknown option', { forever: true }],
    ])('refuses options with %s', async (_what, options) => {
      await expect(lockdown.set(options as never)).rejects.toMatchObject({
        code: LimitsErrorCode.InvalidOption,
      });
      expect(lockdown.state().enabled).toBe(false);
    });
  });
}
