import { GatewayCloseCode, type SignalingClient } from '@sscontrol/client';
import {
  createTestPostgresSchema,
  startRedisServer,
  type TestPostgresSchema,
  type TestRedisServer,
} from '@sscontrol/testing';
import {
  connectPair,
  exchange,
  nodeClient,
  startGateways,
  until,
  type TestGateways,
  type WebRtcPair,
} from './harness.js';

/**
 * libs/client against two gateway instances sharing Redis (SIGNALING_CLUSTER=redis), a
 * PostgreSQL event store and one key ring: a host on one instance and a controller on the other
 * negotiate werift peer connections and exchange data; when the host's instance drains (SIGTERM,
 * 4100) the host moves to the other instance at once, resumes, and no relayed event is lost or
 * repeated.
 */
describe('@sscontrol/client: werift peers across two gateway instances', () => {
  let redis: TestRedisServer;
  let db: TestPostgresSchema;
  let gateways: TestGateways;
  const clients: SignalingClient[] = [];
  const pairs: WebRtcPair[] = [];
  let n = 0;

  async function client(url: string | string[], subject: string, role: 'host' | 'controller') {
    const c = nodeClient({ url, token: await gateways.mint(subject, role) });
    clients.push(c);
    await c.connect();
    return c;
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    db = await createTestPostgresSchema();
    gateways = await startGateways(2, {
      SIGNALING_CLUSTER: 'redis',
      REDIS_URL: redis.url,
      EVENT_STORE: 'postgres',
      EVENT_STORE_POSTGRES_URL: db.url,
      EVENT_STORE_POSTGRES_SCHEMA: db.schema,
      SIGNALING_DRAIN_TIMEOUT: '3s',
    });
  }, 60_000);

  afterEach(() => {
    for (const p of pairs.splice(0)) p.close();
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    await gateways?.stop();
    await db?.drop();
    await redis?.remove();
  });

  it('negotiates between a host on one instance and a controller on the other', async () => {
    const [a, b] = gateways.urls as [string, string];
    const host = await client(a, `host-${++n}`, 'host');
    const controller = await client(b, `ctl-${n}`, 'controller');
    expect(host.welcome!.instance).not.toBe(controller.welcome!.instance);
    const pair = await connectPair(host, controller, `cluster-${n}`);
    pairs.push(pair);
    await exchange(pair, 50);
    await until(
      () => pair.controllerLink.pc.connectionState === 'connected',
      'the controller connected',
    );
  });

  it("moves to the other instance when the host's drains, and resumes without loss", async () => {
    const [a, b] = gateways.urls as [string, string];
    const host = await client([a, b], `host-${++n}`, 'host');
    const controller = await client(b, `ctl-${n}`, 'controller');
    const pair = await connectPair(host, controller, `drain-${n}`);
    pairs.push(pair);
    const hostPeer = host.session!.peerId;
    const seen: number[] = [];
    host.on('control', (c) => seen.push(c.payload.n as number));

    const reconnecting = host.next('reconnecting', { timeoutMs: 15_000 });
    const resumed = host.next('resumed', { timeoutMs: 15_000 });
    const draining = gateways.processes[0]!;
    draining.child.kill('SIGTERM');
    const r = await reconnecting;
    expect(r).toMatchObject({ closeCode: GatewayCloseCode.Draining, delayMs: 0, attempt: 1 });
    // Relayed through the controller's instance while the host is between instances.
    const sends = Array.from({ length: 10 }, (_, i) =>
      controller.sendControl(hostPeer, { n: i }).catch(() => undefined),
    );
    await resumed;
    await Promise.all(sends);
    expect(host.url).toBe(b);
    expect(host.welcome!.instance).toBe(controller.welcome!.instance);
    expect(host.session?.peerId).toBe(hostPeer);
    for (let i = 10; i < 15; i++) await controller.sendControl(hostPeer, { n: i });
    await until(() => seen.length >= 15, 'fifteen relayed messages');
    expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => i));
    await exchange(pair, 10, 'after-drain');
    expect(await draining.exited).toBe(0);
  });
});
