import { jest } from '@jest/globals';
import { ProtocolErrorCode } from '@sscontrol/protocol';
import { ClientError, ClientErrorCode } from './client.errors.js';
import { PendingRequests } from './pending-requests.js';

const iceServers = [{ urls: ['stun:127.0.0.1:3478'] }];

describe('PendingRequests', () => {
  afterEach(() => jest.useRealTimers());

  it('gives each request its own id and resolves it with the ack that names it', async () => {
    const p = new PendingRequests();
    const a = p.create('signal.offer', 0);
    const b = p.create('signal.answer', 0);
    expect(a.id).not.toBe(b.id);
    expect(p.settle({ event: 'ack', data: { id: b.id } })).toBe(true);
    await expect(b.promise).resolves.toEqual({ id: b.id });
    expect(p.size).toBe(1);
  });

  it('resolves a request that returns data with the reply naming it (replyTo)', async () => {
    const p = new PendingRequests();
    const r = p.create('session.open', 0);
    const data = {
      replyTo: r.id,
      sessionId: 's1',
      peerId: 'p1',
      joinPolicy: 'token' as const,
      maxPeers: 2,
      iceServers,
    };
    expect(p.settle({ event: 'session.opened', data })).toBe(true);
    await expect(r.promise).resolves.toEqual(data);
  });

  it("rejects with the error frame's code", async () => {
    const p = new PendingRequests();
    const r = p.create('session.join', 0);
    p.settle({
      event: 'error',
      data: { id: r.id, code: ProtocolErrorCode.JoinDenied, message: 'the host said no' },
    });
    const error = await r.promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({
      code: 'join_denied',
      message: 'the host said no',
      requestId: r.id,
    });
  });

  it('settles a request once: a second answer naming it is not matched', async () => {
    const p = new PendingRequests();
    const r = p.create('control', 0);
    expect(p.settle({ event: 'ack', data: { id: r.id } })).toBe(true);
    expect(
      p.settle({
        event: 'error',
        data: { id: r.id, code: ProtocolErrorCode.BadFrame, message: 'x' },
      }),
    ).toBe(false);
    await expect(r.promise).resolves.toEqual({ id: r.id });
  });

  it('does not match frames naming no request, or an unknown one', () => {
    const p = new PendingRequests();
    p.create('ping', 0);
    expect(p.settle({ event: 'ack', data: { id: 'nope' } })).toBe(false);
    expect(
      p.settle({ event: 'error', data: { code: ProtocolErrorCode.BadFrame, message: 'no id' } }),
    ).toBe(false);
    expect(
      p.settle({
        event: 'turn.credentials',
        data: { iceServers, expiresAt: '2030-01-01T00:00:00Z' },
      }),
    ).toBe(false);
    expect(p.size).toBe(1);
  });

  it('rejects a reply of the wrong kind with unexpected_reply', async () => {
    const p = new PendingRequests();
    const r = p.create('session.open', 0);
    p.settle({ event: 'ack', data: { id: r.id } });
    await expect(r.promise).rejects.toMatchObject({ code: ClientErrorCode.UnexpectedReply });
  });

  it('times a request out, and ignores its late answer', async () => {
    jest.useFakeTimers();
    const p = new PendingRequests();
    const r = p.create('ping', 1000);
    jest.advanceTimersByTime(999);
    expect(p.size).toBe(1);
    jest.advanceTimersByTime(1);
    await expect(r.promise).rejects.toMatchObject({
      code: ClientErrorCode.Timeout,
      requestId: r.id,
    });
    expect(
      p.settle({ event: 'pong', data: { replyTo: r.id, serverTime: '2030-01-01T00:00:00Z' } }),
    ).toBe(false);
  });

  it('clears the timer of a settled request', () => {
    jest.useFakeTimers();
    const p = new PendingRequests();
    const r = p.create('ping', 1000);
    p.settle({ event: 'pong', data: { replyTo: r.id, serverTime: '2030-01-01T00:00:00Z' } });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rejects everything pending when the connection drops', async () => {
    const p = new PendingRequests();
    const a = p.create('signal.offer', 0);
    const b = p.create('session.join', 0);
    p.rejectAll(
      (id, event) =>
        new ClientError(ClientErrorCode.ConnectionLost, `${event} lost`, { requestId: id }),
    );
    await expect(a.promise).rejects.toMatchObject({
      code: 'connection_lost',
      message: 'signal.offer lost',
    });
    await expect(b.promise).rejects.toMatchObject({ code: 'connection_lost', requestId: b.id });
    expect(p.size).toBe(0);
  });

  it('fails one request on demand (an answer that could not be read)', async () => {
    const p = new PendingRequests();
    const r = p.create('turn.refresh', 0);
    expect(p.fail(r.id, new ClientError(ClientErrorCode.InvalidFrame, 'bad'))).toBe(true);
    expect(p.fail(r.id, new ClientError(ClientErrorCode.InvalidFrame, 'bad'))).toBe(false);
    await expect(r.promise).rejects.toMatchObject({ code: 'invalid_frame' });
  });
});
