// Client-token benchmark: verifications per second on one core of sscontrol's
// `ClientTokens.verify` against jose's `jwtVerify`, on the same tokens in the same run; refusals
// of forged tokens (an attacker's flood); minting; and a constant-time sanity check.
//   npm run bench:keys -- [--seconds 5] [--warmup 1] [--reps 3] [--tokens 1000] [--cpu N|none]
//                         [--in-flight 16] [--only LIST] [--no-docs]
// Every cell runs in a child process of its own, pinned to one CPU. See bench/README.md.
import { createSecretKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jwtVerify, type JWTVerifyOptions } from 'jose';
import { AuditRecorder, type AuditContext } from '@sscontrol/audit';
import { createSqliteEventStore } from '@sscontrol/event-store';
import {
  ClientTokens,
  FileKeyStore,
  isKeysError,
  KeyManager,
  Keyring,
  KeysErrorCode,
  MasterKey,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
  type ClientTokenRequest,
} from '@sscontrol/keys';
import { log, parseOnly, runBench, spawnCell } from './cell-process.js';
import { closedLoop, type LoopResult } from './closed-loop.js';
import { publishBenchResults } from './publish.js';
import { startCpuAccounting, waitForQuiet, type CpuShare } from './cpu-usage.js';

/** The cells, in the order the report lists them. */
const CELL_IDS = [
  'sscontrol-valid',
  'jose-valid',
  'sscontrol-forged',
  'jose-forged',
  'mint',
  'jose-valid-serial',
  'jose-valid-bytes',
  'jose-valid-keyobject',
  'constant-time',
] as const;
type CellId = (typeof CELL_IDS)[number];

/** How jose is handed the HMAC key (always through a resolver picking it by `kid`). */
type JoseKeyForm = 'cryptokey' | 'bytes' | 'keyobject';

interface CellDef {
  readonly id: CellId;
  readonly label: string;
  readonly run: 'sscontrol' | 'jose' | 'mint' | 'constant-time';
  readonly pool: 'valid' | 'forged';
  readonly keyForm: JoseKeyForm;
  /** Operations in flight (closed loop); 0 for a synchronous loop. */
  readonly inFlight: number;
  /** Shown for information (key forms, concurrency), not part of the comparison. */
  readonly info: boolean;
}

interface KeysBenchOptions {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly reps: number;
  /** Distinct tokens in each pool (half per key). */
  readonly tokens: number;
  /** jose's (and minting's) operations in flight. */
  readonly inFlight: number;
  /** CPU every cell is pinned to, or null (not pinned). */
  readonly cpu: number | null;
  readonly cells: readonly CellId[];
  readonly dir: string;
  readonly maxForeignCpu: number;
  readonly retries: number;
  readonly quietWaitSeconds: number;
  readonly writeDocs: boolean;
  readonly argv: readonly string[];
}

/** Tokens and the ring every cell works on, written once by the parent. */
interface Fixture {
  readonly masterKey: string;
  readonly ringFile: string;
  readonly keys: readonly { readonly id: string; readonly status: string }[];
  /** Audit event types the key manager recorded while setting the ring up. */
  readonly auditEvents: readonly string[];
  /** Valid tokens, alternating between the two keys. */
  readonly valid: readonly string[];
  /** The valid tokens with a random 32-byte signature. */
  readonly forged: readonly string[];
  /** The valid tokens with the first (resp. last) signature byte changed. */
  readonly firstByte: readonly string[];
  readonly lastByte: readonly string[];
  readonly meanTokenChars: number;
}

interface ChildSpec {
  readonly cell: CellId;
  readonly fixture: string;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly inFlight: number;
}

/** What one repetition of a rate cell measured. */
interface Rate {
  readonly ops: number;
  readonly windowMs: number;
  readonly perSecond: number;
  /** Latency of one operation (µs): every one in a closed loop, every 16th in a sync loop. */
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly latencySampledEvery: number;
  /** CPU time of the process (all its threads) per operation, µs. */
  readonly cpuUsPerOp: number | null;
}

/** Mean verification time of tokens whose signature differs in the first vs the last byte. */
interface ConstantTime {
  readonly rounds: number;
  readonly blockSize: number;
  readonly firstByteNs: number;
  readonly lastByteNs: number;
  /** Mean of the per-round differences (first − last), and its 95 % confidence half-width. */
  readonly differenceNs: number;
  readonly ci95Ns: number;
}

interface ChildResult {
  readonly rate?: Rate;
  readonly constantTime?: ConstantTime;
  readonly cpu: CpuShare | null;
  /** The CPUs the child was allowed to run on (`Cpus_allowed_list`). */
  readonly affinity: string;
}

/** One repetition of one cell. */
interface CellRun extends Partial<ChildResult> {
  readonly cell: CellId;
  readonly rep: number;
  readonly error?: string;
}

interface KeysBenchResults {
  readonly command: string;
  readonly nodeCommand: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: Omit<KeysBenchOptions, 'argv'>;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly kernel: string;
    readonly node: string;
    readonly jose: string;
    readonly openssl: string;
  };
  readonly fixture: Omit<Fixture, 'masterKey' | 'ringFile' | 'forged' | 'firstByte' | 'lastByte'>;
  readonly runs: readonly CellRun[];
  readonly discardedRuns: readonly CellRun[];
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOC_BEGIN = '<!-- bench:keys:begin -->';
const DOC_END = '<!-- bench:keys:end -->';
const TARGET_PER_SECOND = 50_000;
const SAMPLE_EVERY = 16;
const DAY_MS = 86_400_000;
const JOSE_OPTIONS: JWTVerifyOptions = {
  algorithms: ['HS256'],
  issuer: TOKEN_ISSUER,
  audience: TOKEN_AUDIENCE,
};
const JOSE_REFUSED = 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const signed = (n: number) => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(1)}`;
const us = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function cellDefs(inFlight: number): Record<CellId, CellDef> {
  const base = { pool: 'valid', keyForm: 'cryptokey', inFlight, info: false } as const;
  const jose = `jose \`jwtVerify\`, CryptoKey, ${inFlight} in flight`;
  return {
    'sscontrol-valid': {
      ...base,
      id: 'sscontrol-valid',
      label: 'sscontrol `ClientTokens.verify`, valid tokens',
      run: 'sscontrol',
      inFlight: 0,
    },
    'jose-valid': { ...base, id: 'jose-valid', label: `${jose}, valid tokens`, run: 'jose' },
    'sscontrol-forged': {
      ...base,
      id: 'sscontrol-forged',
      label: 'sscontrol `ClientTokens.verify`, forged signatures (refused)',
      run: 'sscontrol',
      pool: 'forged',
      inFlight: 0,
    },
    'jose-forged': {
      ...base,
      id: 'jose-forged',
      label: `${jose}, forged signatures (refused)`,
      run: 'jose',
      pool: 'forged',
    },
    mint: {
      ...base,
      id: 'mint',
      label: `sscontrol \`ClientTokens.mint\` (jose \`SignJWT\`), ${inFlight} in flight`,
      run: 'mint',
    },
    'jose-valid-serial': {
      ...base,
      id: 'jose-valid-serial',
      label: 'jose `jwtVerify`, CryptoKey, 1 in flight, valid tokens',
      run: 'jose',
      inFlight: 1,
      info: true,
    },
    'jose-valid-bytes': {
      ...base,
      id: 'jose-valid-bytes',
      label: `jose \`jwtVerify\`, Uint8Array key, ${inFlight} in flight, valid tokens`,
      run: 'jose',
      keyForm: 'bytes',
      info: true,
    },
    'jose-valid-keyobject': {
      ...base,
      id: 'jose-valid-keyobject',
      label: `jose \`jwtVerify\`, KeyObject, ${inFlight} in flight, valid tokens`,
      run: 'jose',
      keyForm: 'keyobject',
      info: true,
    },
    'constant-time': {
      ...base,
      id: 'constant-time',
      label: 'sscontrol constant-time check',
      run: 'constant-time',
      pool: 'forged',
      inFlight: 0,
    },
  };
}

const USAGE = `usage: npm run bench:keys -- [options]
  --seconds N          measured seconds per cell (default 5)
  --warmup N           warm-up seconds per cell (default 1)
  --reps N             repetitions per cell, median reported (default 3)
  --tokens N           distinct tokens per pool, half per key (default 1000)
  --in-flight N        jose verifications (and mints) in flight (default 16)
  --cpu N|none         CPU every cell is pinned to with taskset (default the last CPU)
  --only LIST          cells: ${CELL_IDS.join(',')} (default all)
  --dir PATH           where the ring, the audit store and the tokens go (default the OS temp dir)
  --max-foreign-cpu N  redo a run in which other processes used more than N% of one CPU
                       (default 25)
  --retries N          redo a disturbed run at most N times (default 2; 0 keeps every run)
  --quiet-wait N       before each cell wait up to N s for foreign load to drop (default 60)
  --no-docs            do not update docs/benchmarks.md`;

function positive(name: string, value: string | undefined, fallback: number, integer = true) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}\n${USAGE}`);
  }
  return n;
}

function parseOptions(argv: readonly string[]): KeysBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      reps: { type: 'string' },
      tokens: { type: 'string' },
      'in-flight': { type: 'string' },
      cpu: { type: 'string' },
      only: { type: 'string' },
      dir: { type: 'string' },
      'max-foreign-cpu': { type: 'string' },
      retries: { type: 'string' },
      'quiet-wait': { type: 'string' },
      'no-docs': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const only = parseOnly(values.only, CELL_IDS, USAGE);
  const cpus = os.cpus().length;
  let cpu: number | null = cpus - 1;
  if (values.cpu === 'none') cpu = null;
  else if (values.cpu !== undefined) {
    cpu = Number(values.cpu);
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= cpus) {
      throw new Error(`--cpu must be 0-${cpus - 1} or none\n${USAGE}`);
    }
  }
  const tokens = positive('tokens', values.tokens, 1000);
  if (tokens < 2) throw new Error('--tokens must be at least 2 (one per key)');
  return {
    seconds: positive('seconds', values.seconds, 5, false),
    warmupSeconds: values.warmup === '0' ? 0 : positive('warmup', values.warmup, 1, false),
    reps: positive('reps', values.reps, 3),
    tokens,
    inFlight: positive('in-flight', values['in-flight'], 16),
    cpu,
    cells: CELL_IDS.filter((c) => !only || only.includes(c)),
    dir: values.dir ?? tmpdir(),
    maxForeignCpu: positive('max-foreign-cpu', values['max-foreign-cpu'], 25, false),
    retries: values.retries === '0' ? 0 : positive('retries', values.retries, 2),
    quietWaitSeconds:
      values['quiet-wait'] === '0' ? 0 : positive('quiet-wait', values['quiet-wait'], 60, false),
    writeDocs: !values['no-docs'],
    argv: [...argv],
  };
}

/** A realistic mint request: hosts hold one session, controllers two. */
function mintRequest(seq: number): ClientTokenRequest {
  const host = seq % 2 === 0;
  return {
    subject: `device-${seq.toString(36).padStart(6, '0')}-${randomBytes(6).toString('hex')}`,
    role: host ? 'host' : 'controller',
    sessions: host ? [`sess-${seq}`] : [`sess-${seq}`, `sess-${seq + 1}`],
    ttlSeconds: 86_400,
  };
}

/** Replaces a token's signature with `mutate(signature bytes)`. */
function resign(token: string, mutate: (signature: Buffer) => Buffer): string {
  const dot = token.lastIndexOf('.');
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  return `${token.slice(0, dot + 1)}${mutate(signature).toString('base64url')}`;
}

function flipByte(at: (length: number) => number): (signature: Buffer) => Buffer {
  return (signature) => {
    const copy = Buffer.from(signature);
    const i = at(copy.length);
    copy[i] = copy[i]! ^ 0x01;
    return copy;
  };
}

/**
 * Builds the ring as an operator would: `KeyManager.ensureInitialKeys`, half the tokens minted,
 * a rotation with a 7-day grace, the other half minted, every change recorded in a real SQLite
 * audit trail. Then checks every token against both verifiers before anything is measured.
 */
async function prepareFixture(dir: string, count: number): Promise<Fixture> {
  const store = await createSqliteEventStore({ path: path.join(dir, 'audit.db') });
  try {
    const recorder = new AuditRecorder({
      store,
      source: { service: 'cli', instance: 'bench', version: '0.1.0' },
    });
    const masterKey = MasterKey.generate();
    const ringFile = path.join(dir, 'keyring.json');
    const keyring = await Keyring.open({
      store: new FileKeyStore({ file: ringFile }),
      masterKey: MasterKey.parse(masterKey),
      watch: false,
    });
    try {
      const manager = new KeyManager({
        keyring,
        recorder,
        defaultGraceMs: {
          'client-token': 7 * DAY_MS,
          'operator-api': 7 * DAY_MS,
          'turn-secret': DAY_MS,
          'redis-password': 7 * DAY_MS,
          'audit-checkpoint': 0,
        },
      });
      const context: AuditContext = { actor: { type: 'operator', id: 'bench-keys' } };
      await manager.ensureInitialKeys(context, ['client-token']);
      const tokens = new ClientTokens(keyring);
      const older: string[] = [];
      const newer: string[] = [];
      for (let i = 0; i < Math.ceil(count / 2); i++) {
        older.push((await tokens.mint(mintRequest(i))).token);
      }
      await manager.rotate(
        { kinds: ['client-token'], reason: 'bench: a retiring and an active key' },
        context,
      );
      for (let i = older.length; i < count; i++) {
        newer.push((await tokens.mint(mintRequest(i))).token);
      }
      // Alternate, so that cycling through the pool uses both keys evenly.
      const valid: string[] = [];
      for (let i = 0; i < older.length; i++) {
        valid.push(older[i]!);
        if (i < newer.length) valid.push(newer[i]!);
      }
      const keys = keyring
        .list('client-token')
        .map((k) => ({ id: k.id, status: k.status }))
        .reverse();
      const statuses = keys.map((k) => k.status).join(',');
      if (statuses !== 'retiring,active') {
        throw new Error(`expected a retiring and an active client-token key, got ${statuses}`);
      }

      const forged = valid.map((t) => resign(t, () => randomBytes(32)));
      const firstByte = valid.map((t) =>
        resign(
          t,
          flipByte(() => 0),
        ),
      );
      const lastByte = valid.map((t) =>
        resign(
          t,
          flipByte((n) => n - 1),
        ),
      );

      // Both verifiers must agree on every token before any figure means anything.
      const joseKeys = new Map(
        keyring.accepted('client-token').map((k) => [k.record.id, new Uint8Array(k.material)]),
      );
      const resolve = (header: { kid?: string }) => joseKeys.get(header.kid ?? '')!;
      const used = new Set<string>();
      for (const t of valid) {
        const v = tokens.verify(t);
        used.add(v.keyId);
        const j = await jwtVerify(t, resolve, JOSE_OPTIONS);
        if (j.payload.jti !== v.tokenId) throw new Error('jose and sscontrol disagree on a token');
      }
      if (used.size !== 2) throw new Error(`tokens use ${used.size} keys, expected 2`);
      for (const t of [...forged, ...firstByte, ...lastByte]) {
        try {
          tokens.verify(t);
          throw new Error('sscontrol accepted an altered token');
        } catch (error) {
          if (!isKeysError(error) || error.code !== KeysErrorCode.TokenSignatureInvalid)
            throw error;
        }
        const accepted = await jwtVerify(t, resolve, JOSE_OPTIONS).then(
          () => true,
          (error: { code?: string }) => {
            if (error.code !== JOSE_REFUSED) throw error;
            return false;
          },
        );
        if (accepted) throw new Error('jose accepted an altered token');
      }

      const auditEvents: string[] = [];
      for await (const e of store.readAll()) auditEvents.push(e.type);
      return {
        masterKey,
        ringFile,
        keys,
        auditEvents,
        valid,
        forged,
        firstByte,
        lastByte,
        meanTokenChars: valid.reduce((n, t) => n + t.length, 0) / valid.length,
      };
    } finally {
      keyring.close();
    }
  } finally {
    await store.close();
  }
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** CPU time per operation from the process's share of the window. */
function cpuPerOp(cpu: CpuShare | null, windowMs: number, ops: number): number | null {
  return cpu && ops > 0 ? ((cpu.bench / 100) * windowMs * 1000) / ops : null;
}

/**
 * Runs a synchronous operation back to back: warm-up, then the measured window. Every 16th
 * operation is timed on its own for the latency percentiles (two clock reads per 16 operations).
 */
function syncLoop(
  op: (seq: number) => void,
  warmupMs: number,
  measureMs: number,
): { rate: Rate; cpu: CpuShare | null } {
  let seq = 0;
  const warmEnd = performance.now() + warmupMs;
  while (performance.now() < warmEnd) for (let k = 0; k < SAMPLE_EVERY; k++) op(seq++);
  const samples: number[] = [];
  // /proc is read outside the window: it takes a few milliseconds.
  const endCpu = startCpuAccounting();
  const t0 = performance.now();
  const deadline = t0 + measureMs;
  let ops = 0;
  let t = t0;
  while (t < deadline) {
    const s = performance.now();
    op(seq++);
    samples.push((performance.now() - s) * 1000);
    for (let k = 1; k < SAMPLE_EVERY; k++) op(seq++);
    ops += SAMPLE_EVERY;
    t = performance.now();
  }
  const windowMs = t - t0;
  const cpu = endCpu();
  const sorted = Float64Array.from(samples).sort();
  return {
    rate: {
      ops,
      windowMs,
      perSecond: (ops * 1000) / windowMs,
      latencyUs: {
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        max: sorted[sorted.length - 1] ?? 0,
      },
      latencySampledEvery: SAMPLE_EVERY,
      cpuUsPerOp: cpuPerOp(cpu, windowMs, ops),
    },
    cpu,
  };
}

function fromLoop(loop: LoopResult): { rate: Rate; cpu: CpuShare | null } {
  return {
    rate: {
      ops: loop.acked,
      windowMs: loop.windowMs,
      perSecond: loop.perSecond,
      latencyUs: {
        p50: loop.latencyMs.p50 * 1000,
        p99: loop.latencyMs.p99 * 1000,
        max: loop.latencyMs.max * 1000,
      },
      latencySampledEvery: 1,
      cpuUsPerOp: cpuPerOp(loop.cpu, loop.windowMs, loop.acked),
    },
    cpu: loop.cpu,
  };
}

/** Verifies `token`, which must be refused for its signature; anything else aborts the cell. */
function refuse(tokens: ClientTokens, token: string): void {
  try {
    tokens.verify(token);
  } catch (error) {
    if (isKeysError(error) && error.code === KeysErrorCode.TokenSignatureInvalid) return;
    throw error;
  }
  throw new Error('sscontrol accepted a forged token');
}

/**
 * Alternates blocks of tokens whose signature differs from the right one in the first byte and
 * in the last byte (order swapped every round), and compares the mean time per verification.
 */
function constantTime(
  tokens: ClientTokens,
  first: readonly string[],
  last: readonly string[],
  warmupMs: number,
  measureMs: number,
): { constantTime: ConstantTime; cpu: CpuShare | null } {
  const block = (pool: readonly string[]): number => {
    const t0 = performance.now();
    for (const t of pool) refuse(tokens, t);
    return ((performance.now() - t0) * 1e6) / pool.length;
  };
  const warmEnd = performance.now() + warmupMs;
  while (performance.now() < warmEnd) {
    block(first);
    block(last);
  }
  const firsts: number[] = [];
  const lasts: number[] = [];
  const endCpu = startCpuAccounting();
  const deadline = performance.now() + measureMs;
  for (let round = 0; performance.now() < deadline; round++) {
    if (round % 2 === 0) {
      firsts.push(block(first));
      lasts.push(block(last));
    } else {
      lasts.push(block(last));
      firsts.push(block(first));
    }
  }
  const cpu = endCpu();
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const diffs = firsts.map((f, i) => f - lasts[i]!);
  const d = mean(diffs);
  const sd = Math.sqrt(diffs.reduce((a, x) => a + (x - d) ** 2, 0) / Math.max(1, diffs.length - 1));
  return {
    constantTime: {
      rounds: firsts.length,
      blockSize: first.length,
      firstByteNs: mean(firsts),
      lastByteNs: mean(lasts),
      differenceNs: d,
      ci95Ns: (1.96 * sd) / Math.sqrt(diffs.length),
    },
    cpu,
  };
}

type JoseKey = webcrypto.CryptoKey | Uint8Array | KeyObject;

/** The ring's accepted client-token keys in the form jose is to get them, by `kid`. */
async function joseKeys(ring: Keyring, form: JoseKeyForm): Promise<Map<string, JoseKey>> {
  const keys = new Map<string, JoseKey>();
  for (const { record, material } of ring.accepted('client-token')) {
    switch (form) {
      case 'cryptokey':
        keys.set(
          record.id,
          await webcrypto.subtle.importKey(
            'raw',
            material,
            { name: 'HMAC', hash: 'SHA-256' },
            false,
            ['verify'],
          ),
        );
        break;
      case 'bytes':
        keys.set(record.id, new Uint8Array(material));
        break;
      case 'keyobject':
        keys.set(record.id, createSecretKey(material));
        break;
    }
  }
  return keys;
}

function affinity(): string {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

async function runChild(spec: ChildSpec): Promise<ChildResult> {
  const fixture = JSON.parse(readFileSync(spec.fixture, 'utf8')) as Fixture;
  const def = cellDefs(spec.inFlight)[spec.cell];
  const ring = await Keyring.open({
    store: new FileKeyStore({ file: fixture.ringFile }),
    masterKey: MasterKey.parse(fixture.masterKey),
    watch: false,
  });
  const tokens = new ClientTokens(ring);
  const warmupMs = spec.warmupSeconds * 1000;
  const measureMs = spec.seconds * 1000;
  const pool = def.pool === 'valid' ? fixture.valid : fixture.forged;
  const n = pool.length;
  try {
    switch (def.run) {
      case 'sscontrol': {
        let sink = 0;
        const measured =
          def.pool === 'valid'
            ? syncLoop(
                (seq) => {
                  sink += tokens.verify(pool[seq % n]).sessions.length;
                },
                warmupMs,
                measureMs,
              )
            : syncLoop((seq) => refuse(tokens, pool[seq % n]!), warmupMs, measureMs);
        if (def.pool === 'valid' && sink === 0) throw new Error('nothing was verified');
        return { ...measured, affinity: affinity() };
      }
      case 'jose': {
        const keys = await joseKeys(ring, def.keyForm);
        const resolve = (header: { kid?: string }) => keys.get(header.kid ?? '')!;
        const verify =
          def.pool === 'valid'
            ? (seq: number) => jwtVerify(pool[seq % n]!, resolve, JOSE_OPTIONS)
            : async (seq: number) => {
                let accepted = false;
                try {
                  await jwtVerify(pool[seq % n]!, resolve, JOSE_OPTIONS);
                  accepted = true;
                } catch (error) {
                  if ((error as { code?: string }).code !== JOSE_REFUSED) throw error;
                }
                if (accepted) throw new Error('jose accepted a forged token');
              };
        const loop = await closedLoop(verify, def.inFlight, warmupMs, measureMs);
        return { ...fromLoop(loop), affinity: affinity() };
      }
      case 'mint': {
        const loop = await closedLoop(
          (seq) => tokens.mint(mintRequest(seq)),
          def.inFlight,
          warmupMs,
          measureMs,
        );
        return { ...fromLoop(loop), affinity: affinity() };
      }
      case 'constant-time':
        return {
          ...constantTime(tokens, fixture.firstByte, fixture.lastByte, warmupMs, measureMs),
          affinity: affinity(),
        };
    }
  } finally {
    ring.close();
  }
}

/**
 * Copies the compiled code to a private directory, so that every cell of the run executes the
 * same code even if dist/ is rebuilt while the benchmark runs.
 */
function snapshotCode(): { readonly entry: string; remove(): void } {
  const base = mkdtempSync(path.join(tmpdir(), 'sscontrol-bench-keys-code-'));
  cpSync(path.join(ROOT, 'dist'), path.join(base, 'dist'), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(base, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, 'node_modules'), 'dir');
  const entry = path.join(base, 'dist', 'bench', 'keys.bench.js');
  if (!existsSync(entry)) throw new Error('dist/bench/keys.bench.js is missing: rebuild and retry');
  return { entry, remove: () => rmSync(base, { recursive: true, force: true }) };
}

function describe(r: ChildResult): string {
  const cpu = r.cpu ? `; cpu % bench ${r.cpu.bench} other ${r.cpu.other}` : '';
  if (r.constantTime) {
    const c = r.constantTime;
    return (
      `first byte ${c.firstByteNs.toFixed(0)} ns, last byte ${c.lastByteNs.toFixed(0)} ns, ` +
      `difference ${c.differenceNs.toFixed(1)} ± ${c.ci95Ns.toFixed(1)} ns (${c.rounds} rounds${cpu})`
    );
  }
  const m = r.rate!;
  return (
    `${int(m.perSecond)} ops/s (p50 ${us(m.latencyUs.p50)} µs, p99 ${us(m.latencyUs.p99)} µs, ` +
    `${m.cpuUsPerOp === null ? '?' : us(m.cpuUsPerOp)} CPU µs/op${cpu})`
  );
}

async function measure(
  options: KeysBenchOptions,
  entry: string,
  fixtureFile: string,
): Promise<{ runs: CellRun[]; discarded: CellRun[] }> {
  const runs: CellRun[] = [];
  const discarded: CellRun[] = [];
  const cells = options.cells;
  const timeout = (options.warmupSeconds + options.seconds) * 1000 + 120_000;
  for (let rep = 1; rep <= options.reps; rep++) {
    // Cells take turns going first, so none always runs right after the same neighbour.
    const order = cells.map((_, i) => cells[(i + rep - 1) % cells.length]!);
    for (const cell of order) {
      const label = `[rep ${rep}/${options.reps}] ${cell}`;
      for (let attempt = 0; ; attempt++) {
        let run: CellRun;
        try {
          await waitForQuiet(options.maxForeignCpu / 2, options.quietWaitSeconds * 1000, log);
          const r = await spawnCell<ChildSpec, ChildResult>(
            entry,
            {
              cell,
              fixture: fixtureFile,
              seconds: options.seconds,
              warmupSeconds: options.warmupSeconds,
              inFlight: options.inFlight,
            },
            { timeoutMs: timeout, cpu: options.cpu },
          );
          run = { cell, rep, ...r };
          log(`${label}: ${describe(r)}`);
        } catch (error) {
          const message = (error as Error).message;
          runs.push({ cell, rep, error: message });
          log(`${label}: FAILED ${message}`);
          break;
        }
        const foreign = run.cpu?.other ?? 0;
        if (foreign <= options.maxForeignCpu || attempt >= options.retries) {
          runs.push(run);
          break;
        }
        discarded.push(run);
        log(`  disturbed (${foreign}% of a CPU used by other processes): running it again`);
      }
    }
  }
  return { runs, discarded };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function okRuns(results: KeysBenchResults, cell: CellId): CellRun[] {
  return results.runs.filter((r) => r.cell === cell && r.error === undefined);
}

/** Median ops/s of a cell, or null when it has no successful run. */
function cellMedian(results: KeysBenchResults, cell: CellId): number | null {
  const rates = okRuns(results, cell).flatMap((r) => (r.rate ? [r.rate.perSecond] : []));
  return rates.length > 0 ? median(rates) : null;
}

/** The run closest to the median (its latencies are shown). */
function medianRun(results: KeysBenchResults, cell: CellId): CellRun | undefined {
  const m = cellMedian(results, cell);
  if (m === null) return undefined;
  return okRuns(results, cell).reduce<CellRun | undefined>(
    (best, r) =>
      best === undefined || Math.abs(r.rate!.perSecond - m) < Math.abs(best.rate!.perSecond - m)
        ? r
        : best,
    undefined,
  );
}

/** Whether the jose form compared is the fastest jose form measured in this run. */
function joseFastest(results: KeysBenchResults): string {
  const forms = (
    ['jose-valid', 'jose-valid-serial', 'jose-valid-bytes', 'jose-valid-keyobject'] as const
  ).flatMap((c) => {
    const m = cellMedian(results, c);
    return m === null ? [] : [{ c, m }];
  });
  const compared = forms.find((f) => f.c === 'jose-valid');
  if (!compared || forms.length < 2) return '';
  const best = forms.reduce((a, b) => (b.m > a.m ? b : a));
  return best.c === 'jose-valid'
    ? 'Of the jose forms measured (information rows), this one is the fastest in this run.'
    : `**In this run \`${best.c}\` was faster than the form compared** (see the information rows).`;
}

function renderMarkdown(results: KeysBenchResults): string {
  const { options, machine, fixture } = results;
  const defs = cellDefs(options.inFlight);
  const lines: string[] = [];
  const row = (cells: (string | number)[]) => lines.push(`| ${cells.join(' | ')} |`);
  const head = (cells: string[], align: string[]) => {
    row(cells);
    row(align);
  };
  const ratio = (a: number | null, b: number | null) =>
    a === null || b === null ? '–' : `${(a / b).toFixed(a / b >= 10 ? 1 : 2)}×`;
  const pinned =
    options.cpu === null
      ? 'not pinned (one core not enforced)'
      : `pinned with \`taskset -c ${options.cpu}\`: the process and all its threads (libuv's ` +
        `thread pool, where WebCrypto's HMAC runs, and V8's helpers) share one core`;
  const affinities = [...new Set(results.runs.flatMap((r) => (r.affinity ? [r.affinity] : [])))];

  lines.push('## Client tokens: verification on one core', '');
  lines.push(`- Command: \`${results.command}\` (runs \`${results.nodeCommand}\`)`);
  lines.push(`- Date: ${results.startedAt} – ${results.finishedAt}`);
  lines.push(
    `- Machine: ${machine.cpus} vCPU ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, ` +
      `${machine.kernel}; Node ${machine.node} (OpenSSL ${machine.openssl}); jose ${machine.jose}`,
  );
  lines.push(
    `- One core: every cell runs in a fresh Node process ${pinned}` +
      (affinities.length > 0
        ? ` (CPUs allowed, as the children saw it: ${affinities.join(', ')})`
        : '') +
      '.',
  );
  lines.push(
    `- Tokens: ${int(fixture.valid.length)} distinct tokens (mean ${Math.round(fixture.meanTokenChars)} ` +
      'characters) minted by `ClientTokens.mint`, half before and half after a ' +
      '`KeyManager.rotate` of the client-token kind: the ring (`FileKeyStore`) holds ' +
      `${fixture.keys.map((k) => `\`${k.id}\` ${k.status}`).join(' and ')}, and the pool ` +
      'alternates between them; cycled in order, so no whole-token cache can help. The key ' +
      `manager recorded ${fixture.auditEvents.join(', ')} in a SQLite audit trail. Forged tokens: ` +
      'the same header and payload with a random 32-byte signature.',
  );
  lines.push(
    `- Method: ${options.warmupSeconds} s warm-up then ${options.seconds} s measured per cell; ` +
      `${options.reps} repetitions, interleaved; median shown. sscontrol's \`verify\` is ` +
      'synchronous and runs back to back (every 16th call timed for the latency); jose and ' +
      'minting are asynchronous and run as closed loops (every call timed; with N in flight a ' +
      "call's latency includes waiting behind the other N − 1). CPU µs/op is the process's CPU " +
      'time (all threads) over the window divided by the operations.',
  );
  lines.push(
    "- jose: `jwtVerify(token, (header) => keys.get(header.kid), { algorithms: ['HS256'], " +
      'issuer, audience })`, the keys imported once as non-extractable HMAC `CryptoKey`s ' +
      `(jose hands a \`Uint8Array\` or a \`KeyObject\` to \`crypto.subtle.importKey\` on every ` +
      `call), ${options.inFlight} verifications in flight. ${joseFastest(results)} sscontrol ` +
      'checks more per token than these options ask jose to (claim shapes, key status, the ' +
      'revocation list).',
  );
  const redone = results.discardedRuns.length;
  const still = results.runs.filter((r) => (r.cpu?.other ?? 0) > options.maxForeignCpu).length;
  lines.push(
    `- Foreign load: a run during which other processes used more than ${options.maxForeignCpu}% ` +
      `of a CPU is redone (at most ${options.retries} times): ${redone} runs redone; ${still} ` +
      'kept runs still above the limit.',
  );
  lines.push('');

  const rateCells = options.cells.filter((c) => c !== 'constant-time');
  if (rateCells.length > 0) {
    lines.push('### Operations per second (median)', '');
    head(
      ['cell', 'ops/s', 'runs (ops/s)', 'p50 µs', 'p99 µs', 'CPU µs/op', 'foreign CPU %'],
      ['---', '---:', '---', '---:', '---:', '---:', '---'],
    );
    for (const c of rateCells) {
      const m = cellMedian(results, c);
      const mid = medianRun(results, c);
      const all = results.runs.filter((r) => r.cell === c);
      const cpuOp = mid?.rate?.cpuUsPerOp ?? null;
      row([
        `${defs[c].label}${defs[c].info ? ' _(information)_' : ''}`,
        m === null ? 'failed' : `**${int(m)}**`,
        all.map((r) => (r.rate ? int(r.rate.perSecond) : 'failed')).join(' / '),
        mid ? us(mid.rate!.latencyUs.p50) : '–',
        mid ? us(mid.rate!.latencyUs.p99) : '–',
        cpuOp === null ? '–' : us(cpuOp),
        all.map((r) => (r.cpu ? String(Math.round(r.cpu.other)) : '–')).join(' / '),
      ]);
    }
    lines.push('');

    lines.push('### sscontrol / jose', '');
    head(['tokens', 'sscontrol ops/s', 'jose ops/s', 'ratio'], ['---', '---:', '---:', '---:']);
    for (const [label, a, b] of [
      ['valid', 'sscontrol-valid', 'jose-valid'],
      ['forged (refusals)', 'sscontrol-forged', 'jose-forged'],
    ] as const) {
      const x = cellMedian(results, a);
      const y = cellMedian(results, b);
      row([label, x === null ? '–' : int(x), y === null ? '–' : int(y), ratio(x, y)]);
    }
    lines.push('');
  }

  lines.push('### Target', '');
  head(['target', 'measured', 'met'], ['---', '---', '---']);
  const valid = cellMedian(results, 'sscontrol-valid');
  row([
    `≥ ${int(TARGET_PER_SECOND)} verifications/s on one core`,
    valid === null ? 'not measured' : `${int(valid)} verifications/s (valid tokens, median)`,
    valid === null
      ? '–'
      : valid >= TARGET_PER_SECOND && options.cpu !== null
        ? '**yes**'
        : '**no**',
  ]);
  lines.push('');

  const ct = okRuns(results, 'constant-time').filter((r) => r.constantTime);
  if (ct.length > 0) {
    lines.push('### Constant-time sanity check', '');
    lines.push(
      'Mean time of one `verify` of a token whose signature differs from the right one in the ' +
        'first byte vs in the last byte (the same tokens otherwise); blocks of ' +
        `${int(ct[0]!.constantTime!.blockSize)} of each alternate for ${options.seconds} s, their ` +
        'order swapped every round. Both are refused; a comparison that stopped at the first ' +
        'differing byte would make the first-byte tokens faster.',
      '',
    );
    head(
      ['run', 'first byte differs', 'last byte differs', 'difference (95 % CI)', 'rounds'],
      ['---', '---:', '---:', '---:', '---:'],
    );
    for (const r of ct) {
      const c = r.constantTime!;
      row([
        `rep ${r.rep}`,
        `${int(c.firstByteNs)} ns`,
        `${int(c.lastByteNs)} ns`,
        `${signed(c.differenceNs)} ± ${c.ci95Ns.toFixed(1)} ns`,
        int(c.rounds),
      ]);
    }
    const mf = median(ct.map((r) => r.constantTime!.firstByteNs));
    const ml = median(ct.map((r) => r.constantTime!.lastByteNs));
    row(['**median**', `**${int(mf)} ns**`, `**${int(ml)} ns**`, `${signed(mf - ml)} ns`, '']);
    lines.push('');
  }
  return lines.join('\n');
}

function commandLines(argv: readonly string[]): { npm: string; node: string } {
  const args = argv
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
    .join(' ');
  return {
    npm: `npm run bench:keys${args ? ` -- ${args}` : ''}`,
    node: `node --enable-source-maps dist/bench/keys.bench.js${args ? ` ${args}` : ''}`,
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const work = mkdtempSync(path.join(options.dir, 'sscontrol-bench-keys-'));
  const code = snapshotCode();
  let runs: CellRun[];
  let discarded: CellRun[];
  let fixture: Fixture;
  try {
    log(`preparing ${options.tokens} tokens in ${work}`);
    fixture = await prepareFixture(work, options.tokens);
    const fixtureFile = path.join(work, 'fixture.json');
    writeFileSync(fixtureFile, JSON.stringify(fixture), { mode: 0o600 });
    log(
      `ring: ${fixture.keys.map((k) => `${k.id} ${k.status}`).join(', ')}; ` +
        `audit: ${fixture.auditEvents.join(', ')}; tokens checked against both verifiers`,
    );
    ({ runs, discarded } = await measure(options, code.entry, fixtureFile));
  } finally {
    code.remove();
    rmSync(work, { recursive: true, force: true });
  }

  const cpus = os.cpus();
  const { argv, ...settings } = options;
  const { masterKey: _m, ringFile: _r, forged: _f, firstByte: _a, lastByte: _b, ...kept } = fixture;
  const jose = JSON.parse(
    readFileSync(path.join(ROOT, 'node_modules', 'jose', 'package.json'), 'utf8'),
  ) as { version: string };
  const results: KeysBenchResults = {
    command: commandLines(argv).npm,
    nodeCommand: commandLines(argv).node,
    startedAt,
    finishedAt: new Date().toISOString(),
    options: settings,
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      kernel: `${os.type()} ${os.release()}`,
      node: process.version,
      jose: jose.version,
      openssl: process.versions.openssl ?? '?',
    },
    fixture: kept,
    runs,
    discardedRuns: discarded,
  };
  await publishBenchResults({
    root: ROOT,
    name: 'keys',
    startedAt,
    results,
    markdown: renderMarkdown(results),
    writeDocs: options.writeDocs,
    markers: { begin: DOC_BEGIN, end: DOC_END },
    log,
  });
  return runs.some((r) => r.error !== undefined) ? 1 : 0;
}

await runBench(main, runChild);
