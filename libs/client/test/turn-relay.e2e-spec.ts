import { createHook } from 'node:async_hooks';
import type { SignalingClient } from '@sscontrol/client';
import {
  startRedisServer,
  startTurnServer,
  type TestRedisServer,
  type TestTurnServer,
} from '@sscontrol/testing';
import {
  connectPair,
  exchange,
  nodeClient,
  startGateways,
  type TestGateways,
  type WebRtcPair,
} from './harness.js';

/**
 * libs/client with the TURN credentials the gateway hands out, against a real coturn: with
 * `iceTransportPolicy: 'relay'` the only candidates either werift peer gathers or receives are
 * relayed ones on coturn, so the data channel's bytes provably cross the TURN server.
 */
describe('@sscontrol/client: werift peers relayed through coturn', () => {
  let redis: TestRedisServer;
  let turn: TestTurnServer;
  let gateways: TestGateways;
  const clients: SignalingClient[] = [];
  let pair: WebRtcPair | undefined;
  // werift 0.24's TURN client refreshes its allocation in a loop that sleeps 5/6 of the lifetime
  // (500 s) and only checks for close() after waking, so a closed peer connection keeps a timer
  // that holds the process for minutes. The timers this file creates are unref'd at its end.
  const timers = new Set<{ unref(): unknown }>();
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === 'Timeout') timers.add(resource as { unref(): unknown });
    },
  });

  async function client(subject: string, role: 'host' | 'controller') {
    const c = nodeClient({ url: gateways.urls[0]!, token: await gateways.mint(subject, role) });
    clients.push(c);
    await c.connect();
    return c;
  }

  beforeAll(async () => {
    hook.enable();
    redis = await startRedisServer();
    turn = await startTurnServer({ redisPort: redis.port, realm: 'sscontrol.test' });
    gateways = await startGateways(1, {
      REDIS_URL: redis.url,
      TURN_REALM: 'sscontrol.test',
      TURN_URIS: `turn:${turn.host}:${turn.port}?transport=udp`,
      TURN_SECRET_SYNC: 'redis',
      TURN_CREDENTIAL_TTL: '10m',
    });
  }, 60_000);

  afterAll(async () => {
    pair?.close();
    for (const c of clients) c.close();
    await gateways?.stop();
    await turn?.stop();
    await redis?.remove();
    hook.disable();
    for (const timer of timers) timer.unref();
  });

  it('connects over relay candidates only and exchanges data through the TURN server', async () => {
    const host = await client('host-turn', 'host');
    const controller = await client('ctl-turn', 'controller');
    const received: Record<'host' | 'controller', string[]> = { host: [], controller: [] };
    host.on('signal.candidate', (c) => {
      if (c.candidate?.candidate) received.host.push(c.candidate.candidate);
    });
    controller.on('signal.candidate', (c) => {
      if (c.candidate?.candidate) received.controller.push(c.candidate.candidate);
    });

    pair = await connectPair(host, controller, 'turn-relay', {
      configuration: { iceTransportPolicy: 'relay' },
    });
    const [server] = host.session!.iceServers;
    expect(server).toMatchObject({
      urls: [`turn:${turn.host}:${turn.port}?transport=udp`],
      username: expect.stringMatching(/^\d+:host-turn$/) as unknown,
    });
    await exchange(pair, 50);

    for (const side of ['host', 'controller'] as const) {
      expect(received[side].length).toBeGreaterThan(0);
      for (const c of received[side]) {
        expect(c).toMatch(/ typ relay /);
        expect(c).toContain(` ${turn.host} `);
      }
    }
    // Each relayed candidate is a port of coturn's relay range: an allocation the peer made
    // with the gateway's credentials. With relay-only policy there is no other path.
    const arg = (name: string) =>
      Number(turn.args.find((a) => a.startsWith(`--${name}=`))!.split('=')[1]);
    const [min, max] = [arg('min-port'), arg('max-port')];
    const relayPorts = [...received.host, ...received.controller].map((c) =>
      Number(c.split(' ')[5]),
    );
    for (const port of relayPorts) {
      expect(port).toBeGreaterThanOrEqual(min);
      expect(port).toBeLessThanOrEqual(max);
    }
    expect(new Set(relayPorts).size).toBeGreaterThanOrEqual(2);
  });
});
