// The sscontrol side of the run, prepared once: a data directory initialised by `sscontrol init`
// (master key, key ring, audit trail), and the client tokens every load process uses, minted with
// the ring's active client-token key as `sscontrol keys mint-token` would.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ClientTokens, FileKeyStore, Keyring, MasterKey } from '@sscontrol/keys';
import type { TokenFile } from './relay-load.js';
import { baseEnv, type CodeDir } from './servers.js';

/** What the gateway runs with in every cell (besides its port and data directory). */
export interface GatewayFixture {
  /** The initialised data directory every gateway start copies. */
  readonly templateDir: string;
  /** Settings shared by `sscontrol init` and the gateway. */
  readonly env: Readonly<Record<string, string>>;
  readonly tokenFile: string;
  readonly tokens: { readonly pairs: number; readonly idle: number; readonly meanChars: number };
  readonly keyId: string;
}

/** Lifetime of the minted tokens: longer than the run. */
const TOKEN_TTL_SECONDS = 4 * 3600;

function run(
  command: readonly string[],
  env: Record<string, string>,
  cwd: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${command.join(' ')} exited with ${code}:\n${out}`)),
    );
  });
}

/**
 * Runs `sscontrol init` in `dir` and mints the tokens: per pair a host token granting session
 * `s-<i>` and a controller token granting it; per idle connection one token (hosts and
 * controllers alternating, each granting a session of its own). Every subject is distinct.
 */
export async function prepareGateway(
  code: CodeDir,
  dir: string,
  counts: { readonly pairs: number; readonly idle: number },
  env: Readonly<Record<string, string>>,
): Promise<GatewayFixture> {
  const templateDir = path.join(dir, 'template', 'var');
  mkdirSync(templateDir, { recursive: true });
  const masterKey = MasterKey.generate();
  const shared = { ...env, SSCONTROL_MASTER_KEY: masterKey };
  await run(
    [...code.node, path.join(code.root, 'bin', 'sscontrol.js'), 'init'],
    { ...baseEnv(), ...shared, SSCONTROL_DATA_DIR: templateDir },
    path.dirname(templateDir),
  );
  const ring = await Keyring.open({
    store: new FileKeyStore({ file: path.join(templateDir, 'keyring.json') }),
    masterKey: MasterKey.parse(masterKey),
    watch: false,
  });
  try {
    const tokens = new ClientTokens(ring);
    const mint = async (subject: string, role: 'host' | 'controller', session: string) =>
      (await tokens.mint({ subject, role, sessions: [session], ttlSeconds: TOKEN_TTL_SECONDS }))
        .token;
    const hosts: string[] = [];
    const controllers: string[] = [];
    for (let i = 0; i < counts.pairs; i++) {
      hosts.push(await mint(`bench-host-${i}`, 'host', `s-${i}`));
      controllers.push(await mint(`bench-controller-${i}`, 'controller', `s-${i}`));
    }
    const idle: string[] = [];
    for (let i = 0; i < counts.idle; i++) {
      idle.push(await mint(`bench-idle-${i}`, i % 2 === 0 ? 'host' : 'controller', `idle-${i}`));
    }
    const file: TokenFile = { hosts, controllers, idle };
    const tokenFile = path.join(dir, 'tokens.json');
    writeFileSync(tokenFile, JSON.stringify(file), { mode: 0o600 });
    const all = [...hosts, ...controllers, ...idle];
    const keyId = ring.list('client-token').find((k) => k.status === 'active')?.id ?? '?';
    return {
      templateDir,
      env: shared,
      tokenFile,
      tokens: {
        pairs: counts.pairs,
        idle: counts.idle,
        meanChars: all.reduce((n, t) => n + t.length, 0) / Math.max(1, all.length),
      },
      keyId,
    };
  } finally {
    ring.close();
  }
}
