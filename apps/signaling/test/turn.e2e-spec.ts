import path from 'node:path';
import { MasterKey, turnRestCredential } from '@sscontrol/keys';
import {
  freePort,
  runCli,
  startRedisServer,
  startService,
  startTurnServer,
  tempDir,
  testTokenMinter,
  TestSignalingClient,
  turnAllocate,
  type ServiceProcess,
  type TestRedisServer,
  type TestTurnServer,
} from '@sscontrol/testing';

/**
 * The TURN credentials the gateway hands out with a session allocate a relay on a real coturn
 * (`use-auth-secret`, secrets kept in step through its Redis user database); expired ones and
 * forged ones are refused; `turn.refresh` and a resume hand out fresh ones.
 */
describe('signaling gateway: TURN credentials against a real coturn', () => {
  let dir: ReturnType<typeof tempDir>;
  let redis: TestRedisServer;
  let turn: TestTurnServer;
  let gateway: ServiceProcess;
  let env: Record<string, string>;
  let url: string;
  let minter: Awaited<ReturnType<typeof testTokenMinter>>;

  beforeAll(async () => {
    dir = tempDir();
    redis = await startRedisServer();
    turn = await startTurnServer({ redisPort: redis.port, realm: 'sscontrol.test' });
    env = {
      SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
      SSCONTROL_MASTER_KEY: MasterKey.generate(),
      SIGNALING_HOST: '127.0.0.1',
      SIGNALING_PORT: String(await freePort()),
      SIGNALING_CLUSTER: 'none',
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      TURN_REALM: 'sscontrol.test',
      TURN_URIS: `turn:${turn.host}:${turn.port}?transport=udp`,
      TURN_CREDENTIAL_TTL: '10m',
    };
    expect((await runCli(['init'], env, dir.path)).code).toBe(0);
    minter = await testTokenMinter(env, dir.path);
    gateway = startService('signaling', env, dir.path);
    await gateway.waitForLog((l) => String(l.msg).startsWith('signaling gateway listening'));
    url = `ws://127.0.0.1:${env.SIGNALING_PORT}/ws`;
  });

  afterAll(async () => {
    minter?.close();
    await gateway?.stop('SIGKILL');
    await turn?.stop();
    await redis?.stop();
    dir.remove();
  });

  it('hands out credentials that allocate a relay; expired and forged ones are refused', async () => {
    const { client } = await TestSignalingClient.welcome(url, await minter.mint('dev-t', 'host'));
    const opened = await client.request('session.open', { sessionId: 'turn-1' });
    expect(opened.event).toBe('session.opened');
    const [server] = opened.data.iceServers as {
      urls: string[];
      username: string;
      credential: string;
    }[];
    expect(server!.urls).toEqual([env.TURN_URIS]);
    const [expiry, subject] = server!.username.split(':');
    expect(subject).toBe('dev-t');
    const ttl = Number(expiry) - Date.now() / 1000;
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    const relay = await turnAllocate({
      host: turn.host,
      port: turn.port,
      username: server!.username,
      credential: server!.credential,
    });
    expect(relay).toMatchObject({ ok: true, relayedAddress: '127.0.0.1' });

    // Signed with the real secret, but expired an hour ago: refused.
    const expired = turnRestCredential(
      await minter.turnSecret(),
      'dev-t',
      60,
      Date.now() - 3_600_000,
    );
    expect(await turnAllocate({ host: turn.host, port: turn.port, ...expired })).toMatchObject({
      ok: false,
      errorCode: 401,
    });
    // A username whose expiry was pushed out without the secret: refused.
    expect(
      await turnAllocate({
        host: turn.host,
        port: turn.port,
        username: `${Number(expiry) + 86_400}:dev-t`,
        credential: server!.credential,
      }),
    ).toMatchObject({ ok: false, errorCode: 401 });

    const refreshed = await client.request('turn.refresh');
    expect(refreshed.event).toBe('turn.credentials');
    const [again] = refreshed.data.iceServers as { username: string; credential: string }[];
    expect(await turnAllocate({ host: turn.host, port: turn.port, ...again! })).toMatchObject({
      ok: true,
    });
    client.close();
  });

  it('renews the credentials on resume', async () => {
    const token = await minter.mint('dev-r', 'host');
    const first = await TestSignalingClient.welcome(url, token);
    await first.client.request('session.open', { sessionId: 'turn-2' });
    first.client.drop();
    await new Promise((r) => setTimeout(r, 1100));
    const second = await TestSignalingClient.welcome(url, token);
    const resumed = await second.client.request('session.resume', {
      resumeToken: first.welcome.resumeToken,
      lastSeq: 0,
    });
    expect(resumed.event).toBe('session.resumed');
    const [server] = resumed.data.iceServers as { username: string; credential: string }[];
    expect(await turnAllocate({ host: turn.host, port: turn.port, ...server! })).toMatchObject({
      ok: true,
    });
    second.client.close();
  });
});
