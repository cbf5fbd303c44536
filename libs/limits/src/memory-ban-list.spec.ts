import { describeBanListContract } from './ban-list-contract.js';
import { MemoryBanList } from './memory-ban-list.js';

describeBanListContract('memory', async (clock) => ({
  bans: new MemoryBanList({ clock }),
  cleanup: async () => {},
}));
