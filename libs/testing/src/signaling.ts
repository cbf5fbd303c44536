import { loadConfig } from '@sscontrol/config';
import { ClientTokens, FileKeyStore, Keyring, resolveMasterKey } from '@sscontrol/keys';
import WebSocket from 'ws';

/**
 * Mints client tokens in the test process from the key ring a gateway under test uses (file
 * key store, same data directory and master key): a CLI call per token would cost seconds.
 * Run `sscontrol init` first so that the ring has an active client-token key.
 */
export async function testTokenMinter(env: Record<string, string>, cwd: string) {
  const config = loadConfig({ service: 'cli', env, envFile: false, cwd });
  if (config.keys.store.backend !== 'file')
    throw new Error('testTokenMinter reads a file key store');
  const keyring = await Keyring.open({
    store: new FileKeyStore({ file: config.keys.store.file }),
    masterKey: resolveMasterKey(config.keys),
    watch: false,
  });
  const tokens = new ClientTokens(keyring, {
    maxTtlSeconds: Math.floor(config.keys.clientTokenMaxTtlMs / 1000),
    clockSkewSeconds: Math.floor(config.keys.clockSkewMs / 1000),
  });
  return {
    async mint(
      subject: string,
      role: 'host' | 'controller',
      sessions: readonly string[] = ['*'],
      ttlSeconds = 600,
    ): Promise<string> {
      await keyring.refresh();
      return (await tokens.mint({ subject, role, sessions: [...sessions], ttlSeconds })).token;
    },
    /** The active TURN secret (to forge expired credentials in tests). */
    async turnSecret(): Promise<Buffer> {
      await keyring.refresh();
      return keyring.requireActive('turn-secret').material;
    },
    close: () => keyring.close(),
  };
}

/** A frame from the gateway. */
export interface TestFrame {
  readonly event: string;
  readonly seq?: number;
  readonly data: Record<string, unknown>;
}

/**
 * A bare protocol v1 client for gateway tests: every frame received is kept in order;
 * `request` sends a request and resolves with the frame that answers it (ack, error or reply).
 */
export class TestSignalingClient {
  readonly frames: TestFrame[] = [];
  closeCode: number | null = null;
  closeReason = '';
  private next = 0;
  private waiters: { match: (f: TestFrame) => boolean; resolve: (f: TestFrame) => void }[] = [];
  private readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      const frame = JSON.parse(Buffer.from(data as Buffer).toString('utf8')) as TestFrame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code: number, reason: Buffer) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve(code);
      }),
    );
  }

  /** Opens a socket; resolves once it is open (not necessarily admitted: see `welcome`). */
  static async connect(
    url: string,
    token: string | null,
    options: { headers?: Record<string, string>; origin?: string } = {},
  ): Promise<TestSignalingClient> {
    const protocols = token ? ['sscontrol.v1', `sscontrol.token.${token}`] : ['sscontrol.v1'];
    const ws = new WebSocket(url, protocols, {
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
      maxPayload: 66 * 1024,
    });
    const client = new TestSignalingClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** Connects and waits for `welcome`. */
  static async welcome(url: string, token: string) {
    const client = await TestSignalingClient.connect(url, token);
    const welcome = await client.waitFor((f) => f.event === 'welcome' || f.event === 'error');
    if (welcome.event !== 'welcome') throw new Error(`not welcomed: ${JSON.stringify(welcome)}`);
    return { client, welcome: welcome.data };
  }

  waitFor(match: (f: TestFrame) => boolean, timeoutMs = 5000): Promise<TestFrame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** The next frame of an event after the ones already seen (for repeated events). */
  waitForNew(event: string, timeoutMs = 5000): Promise<TestFrame> {
    const seen = new Set(this.frames);
    return this.waitFor((f) => f.event === event && !seen.has(f), timeoutMs);
  }

  send(event: string, data: Record<string, unknown>): string {
    const id = typeof data.id === 'string' ? data.id : `r${++this.next}`;
    this.ws.send(JSON.stringify({ event, data: { ...data, id } }));
    return id;
  }

  /** Sends a request and waits for the frame that answers it. */
  async request(
    event: string,
    data: Record<string, unknown> = {},
    timeoutMs = 5000,
  ): Promise<TestFrame> {
    const id = this.send(event, data);
    return this.waitFor((f) => f.data.id === id || f.data.replyTo === id, timeoutMs);
  }

  /** Sequenced events received, in order. */
  sequenced(): TestFrame[] {
    return this.frames.filter((f) => f.seq !== undefined);
  }

  waitClosed(timeoutMs = 5000): Promise<number> {
    return Promise.race([
      this.closed,
      new Promise<number>((_, reject) =>
        setTimeout(() => reject(new Error('socket not closed')), timeoutMs).unref(),
      ),
    ]);
  }

  close(): void {
    this.ws.close();
  }

  /** Drops the connection without a close frame (a network failure, as far as the server knows). */
  drop(): void {
    this.ws.terminate();
  }
}
