import { closeAction } from './close-policy.js';

describe('closeAction', () => {
  it.each([
    [4100, 'reconnect-now'],
    [4401, 'stop'],
    [4402, 'stop'],
    [4403, 'stop'],
    [4404, 'stop'],
    [4406, 'stop'],
    [4409, 'stop'],
    [4451, 'stop'],
    [4408, 'reconnect'],
    [1006, 'reconnect'],
    [1001, 'reconnect'],
    [1000, 'reconnect'],
    [4429, 'backoff'],
    [4503, 'backoff'],
    [4423, 'backoff'],
    [1011, 'backoff'],
  ] as const)('%d → %s', (code, action) => {
    expect(closeAction(code)).toBe(action);
  });

  it('reconnects after 4403 only when the client can get a fresh token', () => {
    expect(closeAction(4403, true)).toBe('reconnect');
    expect(closeAction(4402, true)).toBe('stop');
    expect(closeAction(4404, true)).toBe('stop');
  });
});
