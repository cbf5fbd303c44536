import { describeLockdownContract } from './lockdown-contract.js';
import { MemoryLockdown } from './memory-lockdown.js';

describeLockdownContract('memory', async (clock) => ({
  lockdown: new MemoryLockdown({ clock }),
  cleanup: async () => {},
}));
