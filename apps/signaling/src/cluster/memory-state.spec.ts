import { MemoryState } from './memory-state.js';
import { describeSignalingStateContract } from './state-contract.js';

describeSignalingStateContract('memory', async () => ({
  state: new MemoryState(),
  cleanup: async () => {},
}));
