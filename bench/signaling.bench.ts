// Signaling benchmark (issue 4): relay throughput, latency at a fixed offered load and server
// memory per idle connection, side by side in one run for a bare `ws` relay (the floor), PeerJS
// server 1.0.2 and the sscontrol gateway (single instance, and in cluster mode with Redis).
//   npm run bench:signaling -- [--quick] [--only LIST] [--measure LIST] [--no-docs] …
// Every server runs in a fresh process per cell, pinned to one CPU; the load runs in separate
// processes pinned to the other. See bench/signaling/README.md.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTestEnvironment } from '@sscontrol/config';
import { log, runBench, spawnCell } from './cell-process.js';
import { publishBenchResults } from './publish.js';
import { waitForQuiet } from './cpu-usage.js';
import { runIdleCell } from './signaling/idle-cell.js';
import { parseOptions, type SignalingBenchOptions } from './signaling/options.js';
import { nofileLimit } from './signaling/proc-stats.js';
import { runRelayCell, type RelayCellResult, type RelayCellSpec } from './signaling/relay-load.js';
import type {
  GatewayEvidence,
  IdleRun,
  RelayRun,
  SignalingBenchResults,
} from './signaling/report.js';
import {
  freePort,
  rowKind,
  startGateway,
  startOtlpSink,
  startRedis,
  startScriptServer,
  type CodeDir,
  type ServerRow,
  type Started,
} from './signaling/servers.js';
import type { GatewayFixture } from './signaling/fixture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Gateway metrics shown as evidence that auth, audit, limits and metrics were on (summed). */
const EVIDENCE_METRICS = [
  'sscontrol_active_connections',
  'sscontrol_audit_events_total',
  'sscontrol_messages_total',
  'sscontrol_limit_hits_total',
  'sscontrol_auth_failures_total',
] as const;

/** The limits, raised above the benchmark's load (all connections come from loopback). */
const GATEWAY_LIMITS = {
  SIGNALING_MESSAGE_RATE: '100000',
  SIGNALING_MESSAGE_BURST: '1000000',
  SIGNALING_CONNECTIONS_PER_IP: '1000000',
  SIGNALING_CONNECTION_RATE_PER_IP: '1000000',
  SIGNALING_MAX_CONNECTIONS: '1000000',
} as const;

/** Everything a cell needs that the run prepared once. */
interface RunContext {
  readonly options: SignalingBenchOptions;
  readonly code: CodeDir;
  readonly entry: string;
  readonly work: string;
  readonly sink: Started;
  readonly gateway: GatewayFixture | null;
  readonly redisBin: string;
  /** A loopback port nothing listens on (REDIS_URL of the single-instance gateway). */
  readonly deadPort: number;
  cellSeq: number;
}

/** The processes of one cell's server: the server, and Redis for the cluster row. */
interface CellServer {
  readonly row: ServerRow;
  readonly server: Started;
  readonly redis: Started | null;
  readonly pids: Record<string, number>;
  stop(): Promise<void>;
  /** Removes the cell's files (after its log was read). */
  cleanup(): void;
}

function gatewaySettings(ctx: Pick<RunContext, 'sink' | 'deadPort'>, redisUrl: string | null) {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    SSCONTROL_INSTANCE_ID: 'bench-gw',
    SIGNALING_HOST: '127.0.0.1',
    SIGNALING_CLUSTER: redisUrl === null ? 'none' : 'redis',
    REDIS_URL: redisUrl ?? `redis://127.0.0.1:${ctx.deadPort}`,
    EVENT_STORE: 'sqlite',
    KEY_STORE: 'file',
    TURN_SECRET_SYNC: 'none',
    METRICS_ENABLED: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ctx.sink.port}`,
    OTEL_TRACES_SAMPLE_RATIO: '1',
    ...GATEWAY_LIMITS,
  };
}

/** The code a cell's server runs: with `--cpu-prof`, each server writes a CPU profile on exit. */
function serverCode(ctx: RunContext, cell: number, row: ServerRow): CodeDir {
  const dir = ctx.options.cpuProfDir;
  if (dir === null) return ctx.code;
  return {
    ...ctx.code,
    node: [
      ...ctx.code.node,
      '--cpu-prof',
      `--cpu-prof-dir=${path.join(dir, `cell-${cell}-${row}`)}`,
    ],
  };
}

async function startCellServer(ctx: RunContext, row: ServerRow): Promise<CellServer> {
  const { options } = ctx;
  const cell = ++ctx.cellSeq;
  const logFile = path.join(ctx.work, `cell-${cell}-${row}.log`);
  const base = { harness: process.pid, sink: ctx.sink.pid };
  switch (row) {
    case 'bare':
    case 'peerjs': {
      const server = await startScriptServer(
        serverCode(ctx, cell, row),
        row,
        options.serverCpu,
        logFile,
      );
      return {
        row,
        server,
        redis: null,
        pids: { ...base, server: server.pid },
        stop: server.stop,
        cleanup: () => rmSync(logFile, { force: true }),
      };
    }
    case 'sscontrol':
    case 'sscontrol-redis': {
      const redis =
        row === 'sscontrol-redis'
          ? await startRedis(ctx.redisBin, path.join(ctx.work, `redis-${cell}`), options.serverCpu)
          : null;
      try {
        const server = await startGateway(serverCode(ctx, cell, row), {
          env: {
            ...ctx.gateway!.env,
            ...gatewaySettings(ctx, redis === null ? null : `redis://127.0.0.1:${redis.port}`),
          },
          templateDir: ctx.gateway!.templateDir,
          runDir: path.join(ctx.work, `gateway-${cell}`),
          cpu: options.serverCpu,
        });
        return {
          row,
          server,
          redis,
          pids: { ...base, server: server.pid, ...(redis ? { redis: redis.pid } : {}) },
          stop: async () => {
            await server.stop();
            await redis?.stop();
          },
          cleanup: () => {
            rmSync(path.join(ctx.work, `gateway-${cell}`), { recursive: true, force: true });
            if (redis)
              rmSync(path.join(ctx.work, `redis-${cell}`), { recursive: true, force: true });
          },
        };
      } catch (error) {
        await redis?.stop();
        throw error;
      }
    }
  }
}

/** Sums of the evidence metrics in the gateway's /metrics. */
async function scrapeMetrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name || !(EVIDENCE_METRICS as readonly string[]).includes(name)) continue;
    out[name] = (out[name] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

/** Warnings and errors in the gateway's JSON log (the first few kept). */
function logProblems(file: string): GatewayEvidence['logProblems'] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { warnings: 0, errors: 1, first: [`no log at ${file}`] };
  }
  let warnings = 0;
  let errors = 0;
  const first: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let level = 'text';
    let msg = line;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      level = entry.level ?? '?';
      msg = String(entry.msg);
    } catch {
      // Not a log line of the gateway's logger (a crash trace): always worth showing.
    }
    // The trace probe's 404 is the benchmark's own doing.
    if (msg.includes('bench-trace-probe')) continue;
    if (level === 'warn') warnings++;
    else if (level === 'error' || level === 'fatal' || level === 'text') errors++;
    else continue;
    if (first.length < 5) first.push(`${level}: ${msg.slice(0, 200)}`);
  }
  return { warnings, errors, first };
}

async function sinkStats(port: number): Promise<{ requests: number; spans: number }> {
  return (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as {
    requests: number;
    spans: number;
  };
}

/** Runs `body` against a fresh server of `row`, gathering the gateway's evidence. */
async function withServer<T>(
  ctx: RunContext,
  row: ServerRow,
  body: (server: CellServer, evidence: () => Promise<void>) => Promise<T>,
): Promise<{ value: T; gateway?: GatewayEvidence }> {
  const before = await sinkStats(ctx.sink.port);
  const server = await startCellServer(ctx, row);
  let metrics: Record<string, number> | null = null;
  const isGateway = rowKind(row) === 'sscontrol';
  const evidence = async () => {
    if (isGateway) metrics = await scrapeMetrics(server.server.port).catch(() => null);
  };
  let value: T;
  let problems: GatewayEvidence['logProblems'] = { warnings: 0, errors: 0, first: [] };
  try {
    // One plain HTTP request, which the gateway's HTTP instrumentation traces: the sink then
    // shows whether its span export works, next to the spans the cell itself caused.
    if (isGateway) await fetch(`http://127.0.0.1:${server.server.port}/bench-trace-probe`);
    value = await body(server, evidence);
    if (metrics === null) await evidence();
  } finally {
    await server.stop();
    if (isGateway) problems = logProblems(server.server.logFile);
    server.cleanup();
  }
  if (!isGateway) return { value };
  // The gateway flushes its spans when it stops.
  const after = await sinkStats(ctx.sink.port);
  return {
    value,
    gateway: {
      metrics: metrics ?? {},
      spansExported: after.spans - before.spans,
      exportRequests: after.requests - before.requests,
      logProblems: problems,
    },
  };
}

function describeRelay(r: RelayCellResult): string {
  const cpu = r.cpu
    ? `; CPU % server ${r.cpu.processes.server} load ${r.cpu.processes.load}` +
      (r.cpu.processes.redis !== undefined ? ` redis ${r.cpu.processes.redis}` : '') +
      ` other ${r.cpu.other}`
    : '';
  const lat = r.latency
    ? `, p50 ${r.latency.p50.toFixed(2)} ms p99 ${r.latency.p99.toFixed(2)} ms max ${r.latency.max.toFixed(1)} ms`
    : '';
  const errors = r.errors > 0 ? `, ${r.errors} errors (${r.errorSamples[0] ?? ''})` : '';
  return `${Math.round(r.perSecond).toLocaleString('en-US')} msgs/s${lat}${cpu}${errors}`;
}

async function relayCell(
  ctx: RunContext,
  row: ServerRow,
  measurement: RelayRun['measurement'],
  rep: number,
): Promise<RelayRun> {
  const { options } = ctx;
  const { value: result, gateway } = await withServer(ctx, row, async (server) => {
    const spec: RelayCellSpec = {
      endpoint: { kind: rowKind(row), port: server.server.port },
      mode: measurement === 'latency' ? 'latency' : 'throughput',
      message: measurement === 'offer' ? 'offer' : 'candidate',
      pairs: options.pairs,
      window: measurement === 'offer' ? options.offerWindow : options.window,
      rate: options.rate,
      warmupMs: options.warmupSeconds * 1000,
      measureMs: (measurement === 'latency' ? options.latencySeconds : options.seconds) * 1000,
      pids: server.pids,
      tokenFile: ctx.gateway?.tokenFile ?? null,
      idPrefix: `c${ctx.cellSeq}-`,
      localAddress: '127.0.0.2',
    };
    const timeoutMs = spec.warmupMs + spec.measureMs + 120_000;
    return spawnCell<RelayCellSpec, RelayCellResult>(ctx.entry, spec, {
      timeoutMs,
      cpu: options.loadCpu,
    });
  });
  return { row, measurement, rep, result, ...(gateway ? { gateway } : {}) };
}

async function relayCells(ctx: RunContext): Promise<{ runs: RelayRun[]; discarded: RelayRun[] }> {
  const { options } = ctx;
  const runs: RelayRun[] = [];
  const discarded: RelayRun[] = [];
  const measurements = options.measurements.filter(
    (m): m is RelayRun['measurement'] => m !== 'idle',
  );
  for (let rep = 1; rep <= options.reps; rep++) {
    // Servers take turns going first, so none always runs right after the same neighbour.
    const rows = options.rows.map((_, i) => options.rows[(i + rep - 1) % options.rows.length]!);
    for (const measurement of measurements) {
      for (const row of rows) {
        const label = `[rep ${rep}/${options.reps}] ${row} ${measurement}`;
        for (let attempt = 0; ; attempt++) {
          let run: RelayRun;
          try {
            await waitForQuiet(options.maxForeignCpu / 2, options.quietWaitSeconds * 1000, log);
            const t0 = performance.now();
            run = await relayCell(ctx, row, measurement, rep);
            const took = ((performance.now() - t0) / 1000).toFixed(1);
            log(`${label}: ${describeRelay(run.result!)} (${took} s)`);
          } catch (error) {
            const message = (error as Error).message;
            runs.push({ row, measurement, rep, error: message });
            log(`${label}: FAILED ${message}`);
            break;
          }
          const foreign = run.result?.cpu?.other ?? 0;
          if (foreign <= options.maxForeignCpu || attempt >= options.retries) {
            runs.push(run);
            break;
          }
          discarded.push(run);
          log(`  disturbed (${foreign}% of a CPU used by other processes): running it again`);
        }
      }
    }
  }
  return { runs, discarded };
}

async function idleCells(ctx: RunContext): Promise<IdleRun[]> {
  const { options } = ctx;
  const out: IdleRun[] = [];
  if (!options.measurements.includes('idle')) return out;
  for (const row of options.rows) {
    log(`[idle] ${row}`);
    try {
      await waitForQuiet(options.maxForeignCpu / 2, options.quietWaitSeconds * 1000, log);
      const t0 = performance.now();
      const { value, gateway } = await withServer(ctx, row, (server, evidence) =>
        runIdleCell({
          code: ctx.code,
          endpoint: { kind: rowKind(row), port: server.server.port },
          serverPid: server.server.pid,
          pids: server.pids,
          tokenFile: ctx.gateway?.tokenFile ?? null,
          steps: options.idleSteps,
          settleSeconds: options.settleSeconds,
          holdSeconds: options.holdSeconds,
          loadCpu: options.loadCpu,
          idPrefix: `i${ctx.cellSeq}-`,
          log,
          atTop: evidence,
        }),
      );
      const kib = value.kibPerConnection;
      const took = ((performance.now() - t0) / 1000).toFixed(1);
      log(
        `[idle] ${row}: ${kib === null ? '?' : kib.toFixed(1)} KiB per connection, ` +
          `${value.failed + value.dropped + value.errors} errors (${took} s)`,
      );
      out.push({ row, result: value, ...(gateway ? { gateway } : {}) });
    } catch (error) {
      const message = (error as Error).message;
      log(`[idle] ${row}: FAILED ${message}`);
      out.push({ row, error: message });
    }
  }
  return out;
}

/**
 * Copies the compiled code to a private directory, so that every cell of the run executes the
 * same code even if dist/ is rebuilt while the benchmark runs.
 */
function snapshotCode(): CodeDir & { readonly entry: string; remove(): void } {
  const base = mkdtempSync(path.join(tmpdir(), 'sscontrol-bench-signaling-code-'));
  for (const item of ['dist', 'bin', 'package.json']) {
    cpSync(path.join(ROOT, item), path.join(base, item), { recursive: true });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, 'node_modules'), 'dir');
  const entry = path.join(base, 'dist', 'bench', 'signaling.bench.js');
  if (!existsSync(entry)) {
    throw new Error('dist/bench/signaling.bench.js is missing: rebuild and retry');
  }
  return {
    root: base,
    node: [process.execPath, '--enable-source-maps'],
    entry,
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
}

function commandLines(argv: readonly string[]): { npm: string; node: string } {
  const args = argv
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
    .join(' ');
  return {
    npm: `npm run bench:signaling${args ? ` -- ${args}` : ''}`,
    node: `node --enable-source-maps dist/bench/signaling.bench.js${args ? ` ${args}` : ''}`,
  };
}

function packageVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return '?';
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const code = snapshotCode();
  const work = mkdtempSync(path.join(options.dir, 'sscontrol-bench-signaling-'));
  let sink: Started | null = null;
  let relay: { runs: RelayRun[]; discarded: RelayRun[] };
  let idle: IdleRun[];
  let gateway: GatewayFixture | null = null;
  const deadPort = await freePort();
  try {
    sink = await startOtlpSink(code, options.loadCpu, path.join(work, 'otlp-sink.log'));
    if (options.rows.some((r) => rowKind(r) === 'sscontrol')) {
      const idleTokens = options.measurements.includes('idle') ? Math.max(...options.idleSteps) : 0;
      log(`sscontrol init and ${2 * options.pairs + idleTokens} client tokens in ${work}`);
      const { prepareGateway } = await import('./signaling/fixture.js');
      gateway = await prepareGateway(
        code,
        work,
        { pairs: options.pairs, idle: idleTokens },
        { TURN_SECRET_SYNC: 'none', REDIS_URL: `redis://127.0.0.1:${deadPort}` },
      );
    }
    const ctx: RunContext = {
      options,
      code,
      entry: code.entry,
      work,
      sink,
      gateway,
      redisBin: loadTestEnvironment().redisServerBin,
      deadPort,
      cellSeq: 0,
    };
    relay = await relayCells(ctx);
    idle = await idleCells(ctx);
  } finally {
    await sink?.stop();
    code.remove();
    rmSync(work, { recursive: true, force: true });
  }

  const cpus = os.cpus();
  const { argv, ...settings } = options;
  const gatewayEnv = gatewaySettings({ sink, deadPort }, null);
  const results: SignalingBenchResults = {
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
      nofile: nofileLimit(process.pid),
      versions: {
        ws: packageVersion('ws'),
        'ws (the gateway’s, under @nestjs/platform-ws)': packageVersion(
          '@nestjs/platform-ws/node_modules/ws',
        ),
        peer: packageVersion('peer'),
        '@nestjs/platform-ws': packageVersion('@nestjs/platform-ws'),
      },
    },
    gatewaySettings: Object.fromEntries(
      Object.entries(gatewayEnv).filter(
        ([k]) => !k.startsWith('OTEL_EXPORTER') && k !== 'REDIS_URL',
      ),
    ),
    tokens: gateway
      ? {
          count: gateway.tokens.pairs * 2 + gateway.tokens.idle,
          meanChars: gateway.tokens.meanChars,
        }
      : null,
    relay: relay.runs,
    discardedRelay: relay.discarded,
    idle,
  };
  const { DOC_BEGIN, DOC_END, renderMarkdown } = await import('./signaling/report.js');
  await publishBenchResults({
    root: ROOT,
    name: 'signaling',
    startedAt,
    results,
    markdown: renderMarkdown(results),
    writeDocs: options.writeDocs,
    markers: { begin: DOC_BEGIN, end: DOC_END },
    log,
  });
  const failed =
    relay.runs.some((r) => r.error !== undefined || (r.result?.errors ?? 0) > 0) ||
    idle.some((r) => r.error !== undefined);
  return failed ? 1 : 0;
}

await runBench(main, runRelayCell);
