import { runCli, startService, tempDir } from '@sscontrol/testing';

describe('bad configuration', () => {
  it('stops the process before anything starts, one line per bad variable, exit 78', async () => {
    const dir = tempDir();
    try {
      const p = startService(
        'signaling',
        { SIGNALING_PORT: 'eighty', EVENT_STORE: 'oracle', EVENT_STORE_BATCH_MAX_EVENTS: '0' },
        dir.path,
      );
      expect(await p.exited).toBe(78);
      expect(p.logs).toEqual([]);
      expect(p.text).toEqual([
        'sscontrol: invalid setting SIGNALING_PORT: expected an integer port from 0 to 65535, got "eighty"',
        'sscontrol: invalid setting EVENT_STORE: expected one of sqlite, postgres, kurrentdb, got "oracle"',
        'sscontrol: invalid setting EVENT_STORE_BATCH_MAX_EVENTS: expected an integer from 1 to 10000, got "0"',
      ]);
      const cli = await runCli(['config', 'check'], { CONTROL_PORT: 'x' }, dir.path);
      expect(cli.code).toBe(78);
      expect(cli.stderr).toBe(
        'sscontrol: invalid setting CONTROL_PORT: expected an integer port from 0 to 65535, got "x"\n',
      );
    } finally {
      dir.remove();
    }
  });
});
