// The report of `bench:signaling`: markdown for stdout and docs/benchmarks.md (between its
// markers), from the results saved as JSON under bench/results/.
import type { IdleCellResult } from './idle-cell.js';
import type { Measurement, SignalingBenchOptions } from './options.js';
import type { CpuWindow } from './proc-stats.js';
import type { RelayCellResult } from './relay-load.js';
import type { ServerRow } from './servers.js';

/** One repetition of one relay cell (throughput or latency). */
export interface RelayRun {
  readonly row: ServerRow;
  readonly measurement: Exclude<Measurement, 'idle'>;
  readonly rep: number;
  readonly result?: RelayCellResult;
  /** sscontrol: counters read from its /metrics after the cell; spans its tracer exported. */
  readonly gateway?: GatewayEvidence;
  readonly error?: string;
}

/** The memory cell of one server. */
export interface IdleRun {
  readonly row: ServerRow;
  readonly result?: IdleCellResult;
  readonly gateway?: GatewayEvidence;
  readonly error?: string;
}

/** What shows that authentication, audit, metrics and tracing were on during a cell. */
export interface GatewayEvidence {
  /** Selected lines of /metrics (name{labels} value). */
  readonly metrics: Readonly<Record<string, number>>;
  /** OTLP exports the sink received during the cell. */
  readonly spansExported: number;
  readonly exportRequests: number;
  /** Warning and error lines in its log (and the first few of them, or non-JSON lines). */
  readonly logProblems: {
    readonly warnings: number;
    readonly errors: number;
    readonly first: readonly string[];
  };
}

export interface SignalingBenchResults {
  readonly command: string;
  readonly nodeCommand: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: Omit<SignalingBenchOptions, 'argv'>;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly kernel: string;
    readonly node: string;
    readonly nofile: number | null;
    readonly versions: Readonly<Record<string, string>>;
  };
  /** The gateway's settings in every cell (secrets left out). */
  readonly gatewaySettings: Readonly<Record<string, string>>;
  readonly tokens: { readonly count: number; readonly meanChars: number } | null;
  readonly relay: readonly RelayRun[];
  readonly discardedRelay: readonly RelayRun[];
  readonly idle: readonly IdleRun[];
}

export const DOC_BEGIN = '<!-- bench:signaling:begin -->';
export const DOC_END = '<!-- bench:signaling:end -->';

/** Targets of issue 4, for the single-instance gateway. */
export const TARGETS = {
  throughputVsPeerjs: 1,
  throughputVsBare: 0.8,
  p99VsBare: 1.2,
  kibPerConnection: 12,
  connections: 20_000,
} as const;

const ROW_LABELS: Record<ServerRow, string> = {
  bare: 'bare `ws` relay (floor)',
  peerjs: 'PeerJS server 1.0.2',
  sscontrol: 'sscontrol gateway, single instance',
  'sscontrol-redis': 'sscontrol gateway, cluster mode (Redis)',
};

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const fixed1 = (n: number) => n.toFixed(1);
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || b === 0 ? '–' : `${(a / b).toFixed(2)}×`;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function okRuns(results: SignalingBenchResults, row: ServerRow, m: RelayRun['measurement']) {
  return results.relay.filter(
    (r) => r.row === row && r.measurement === m && r.result && r.error === undefined,
  );
}

/** The run whose figure is the median of its cell (its other figures are shown with it). */
function medianRun(
  results: SignalingBenchResults,
  row: ServerRow,
  m: RelayRun['measurement'],
  figure: (r: RelayCellResult) => number,
): { run: RelayRun; value: number } | null {
  const runs = okRuns(results, row, m);
  if (runs.length === 0) return null;
  const value = median(runs.map((r) => figure(r.result!)));
  const run = runs.reduce((best, r) =>
    Math.abs(figure(r.result!) - value) < Math.abs(figure(best.result!) - value) ? r : best,
  );
  return { run, value };
}

const throughputOf = (r: RelayCellResult) => r.perSecond;
const p99Of = (r: RelayCellResult) => r.latency?.p99 ?? Number.POSITIVE_INFINITY;

export function throughput(
  results: SignalingBenchResults,
  row: ServerRow,
  m: 'candidate' | 'offer',
) {
  return medianRun(results, row, m, throughputOf);
}

export function latency(results: SignalingBenchResults, row: ServerRow) {
  return medianRun(results, row, 'latency', p99Of);
}

function idleOf(results: SignalingBenchResults, row: ServerRow): IdleCellResult | null {
  return results.idle.find((r) => r.row === row && r.result)?.result ?? null;
}

function serverCpuUsPerMessage(r: RelayCellResult): number | null {
  const us = r.cpu?.cpuUs.server;
  if (us === undefined || r.delivered === 0) return null;
  return (us + (r.cpu?.cpuUs.redis ?? 0)) / r.delivered;
}

/** The server's CPU (% of one CPU), with its Redis's added as `+ n` in the cluster row. */
function serverCpu(cpu: CpuWindow | null | undefined): string {
  if (!cpu) return '–';
  const redis = cpu.processes.redis;
  return `${fixed1(cpu.processes.server ?? 0)}${redis === undefined ? '' : ` + ${fixed1(redis)}`}`;
}

function idleErrors(i: IdleCellResult): number {
  return i.failed + i.dropped + i.errors;
}

/** Met / missed for each target (single-instance gateway). */
export function targets(results: SignalingBenchResults) {
  const out: { target: string; measured: string; met: string }[] = [];
  const yes = (ok: boolean) => (ok ? '**yes**' : '**no**');
  const ss = throughput(results, 'sscontrol', 'candidate');
  const pj = throughput(results, 'peerjs', 'candidate');
  const bare = throughput(results, 'bare', 'candidate');
  if (ss && pj) {
    out.push({
      target: 'relay throughput ≥ PeerJS server (candidates)',
      measured: `${ratio(ss.value, pj.value)} (${int(ss.value)} vs ${int(pj.value)} msgs/s)`,
      met: yes(ss.value >= TARGETS.throughputVsPeerjs * pj.value),
    });
  }
  if (ss && bare) {
    out.push({
      target: `relay throughput ≥ ${TARGETS.throughputVsBare}× the bare relay (candidates)`,
      measured: `${ratio(ss.value, bare.value)} (${int(ss.value)} vs ${int(bare.value)} msgs/s)`,
      met: yes(ss.value >= TARGETS.throughputVsBare * bare.value),
    });
  }
  const lss = latency(results, 'sscontrol');
  const lbare = latency(results, 'bare');
  if (lss && lbare) {
    out.push({
      target: `p99 latency at ${int(results.options.rate)} msgs/s ≤ ${TARGETS.p99VsBare}× the bare relay`,
      measured: `${ratio(lss.value, lbare.value)} (${ms(lss.value)} vs ${ms(lbare.value)} ms)`,
      met: yes(lss.value <= TARGETS.p99VsBare * lbare.value),
    });
  }
  const idle = idleOf(results, 'sscontrol');
  if (idle) {
    const kib = idle.kibPerConnection;
    out.push({
      target: `≤ ${TARGETS.kibPerConnection} KiB RSS per idle authenticated connection`,
      measured: kib === null ? 'not measured' : `${fixed1(kib)} KiB (slope over the steps)`,
      met: kib === null ? '–' : yes(kib <= TARGETS.kibPerConnection),
    });
    const top = idle.steps[idle.steps.length - 1];
    const held = idle.afterHold?.held ?? top?.held ?? 0;
    out.push({
      target: `${int(TARGETS.connections)} concurrent connections on one instance, no errors`,
      measured:
        `${int(held)} held${idle.afterHold ? ` after ${idle.holdSeconds} s` : ''}, ` +
        `${idleErrors(idle)} errors` +
        (idle.cap < TARGETS.connections
          ? ` (capped at ${int(idle.cap)}: the server's open-files limit is ${int(idle.serverNofile)})`
          : ''),
      met:
        held >= TARGETS.connections && idleErrors(idle) === 0
          ? '**yes**'
          : idle.cap < TARGETS.connections && held >= idle.cap && idleErrors(idle) === 0
            ? '**not shown here**: every connection up to the cap held, none failed'
            : '**no**',
    });
  }
  return out;
}

export function renderMarkdown(results: SignalingBenchResults): string {
  const { options, machine } = results;
  const rows = options.rows;
  const lines: string[] = [];
  const row = (cells: (string | number)[]) => lines.push(`| ${cells.join(' | ')} |`);
  const head = (cells: string[], align: string[]) => {
    row(cells);
    row(align);
  };
  const pin = (cpu: number | null) => (cpu === null ? 'not pinned' : `CPU ${cpu}`);

  lines.push('## Signaling gateway', '');
  lines.push(`- Command: \`${results.command}\` (runs \`${results.nodeCommand}\`)`);
  lines.push(`- Date: ${results.startedAt} – ${results.finishedAt}`);
  lines.push(
    `- Machine: ${machine.cpus} vCPU ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, ` +
      `${machine.kernel}; Node ${machine.node}; ` +
      Object.entries(machine.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') +
      `; open-files limit ${machine.nofile === null ? '?' : int(machine.nofile)} (hard)`,
  );
  lines.push(
    `- Processes: each server runs in a fresh process per cell, pinned to ${pin(options.serverCpu)} ` +
      `(with its Redis in the cluster row); the load runs in separate processes pinned to ` +
      `${pin(options.loadCpu)}, as does the OTLP sink that receives the gateway's traces.`,
  );
  lines.push(
    '- sscontrol gateway: the built app (`dist/apps/signaling/src/main.js`), `NODE_ENV=production`, ' +
      'SQLite event store in a fresh data directory per cell, authentication (a distinct client ' +
      'token per client, verified at the handshake), session authorisation (each token grants ' +
      'one session), audit trail (every connection and session event), Prometheus metrics, ' +
      'tracing (sample ratio 1, exported over OTLP/HTTP) and the limits all on; the limits raised ' +
      'above the load: ' +
      Object.entries(results.gatewaySettings)
        .filter(([k]) => k.startsWith('SIGNALING_') && k !== 'SIGNALING_PORT')
        .map(([k, v]) => `\`${k}=${v}\``)
        .join(', ') +
      '.',
  );
  lines.push(
    `- Relay cells: ${options.pairs} client pairs; ${options.warmupSeconds} s warm-up, then ` +
      `${options.seconds} s measured (throughput) or ${options.latencySeconds} s (latency); ` +
      `${options.reps} repetitions, interleaved; median shown. Throughput: each client keeps ` +
      `${options.window} ICE candidates in flight to its partner (offers: ${options.offerWindow} ` +
      'offer → answer exchange per pair); messages delivered end to end per second. Latency: ' +
      `${int(options.rate)} candidates/s in all, open loop (each due at a fixed time, ` +
      'round-robin over the clients), one-way from the due time to delivery (a late send counts).',
  );
  lines.push(
    `- Idle connections: opened in steps (${options.idleSteps.map(int).join(', ')}), by ` +
      'several load processes each on its own source address; the server RSS (VmRSS) read ' +
      `${options.settleSeconds} s after each step; the top step then held ${options.holdSeconds} s ` +
      'with the keep-alive each protocol asks (sscontrol `ping` twice per `welcome.heartbeatMs`, PeerJS ' +
      '`HEARTBEAT` every 5 s, bare: none).',
  );
  const redone = results.discardedRelay.length;
  lines.push(
    `- Foreign load: a relay cell during which other processes used more than ` +
      `${options.maxForeignCpu}% of a CPU is redone (at most ${options.retries} times): ${redone} redone.`,
  );
  lines.push('');

  const measured = (m: Measurement) => options.measurements.includes(m);
  for (const m of ['candidate', 'offer'] as const) {
    if (!measured(m)) continue;
    lines.push(
      m === 'candidate'
        ? `### Relay throughput: ICE candidates (messages delivered per second, median of ${options.reps})`
        : `### Relay throughput: SDP offers and answers (messages delivered per second, median of ${options.reps})`,
      '',
    );
    head(
      [
        'server',
        'msgs/s',
        'vs PeerJS',
        'vs bare',
        'server CPU %',
        'server CPU µs/msg',
        'load CPU %',
        'frame bytes in → out',
        'runs (msgs/s)',
      ],
      ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---'],
    );
    const of = (r: ServerRow) => throughput(results, r, m);
    for (const r of rows) {
      const c = of(r);
      const x = c?.run.result;
      const perMsg = x ? serverCpuUsPerMessage(x) : null;
      row([
        ROW_LABELS[r],
        c ? `**${int(c.value)}**` : 'failed',
        r === 'peerjs' ? '' : ratio(c?.value, of('peerjs')?.value),
        r === 'bare' ? '' : ratio(c?.value, of('bare')?.value),
        serverCpu(x?.cpu),
        perMsg === null ? '–' : fixed1(perMsg),
        x?.cpu ? fixed1(x.cpu.processes.load ?? 0) : '–',
        x ? `${int(x.frameBytes.sent)} → ${int(x.frameBytes.delivered)}` : '–',
        results.relay
          .filter((y) => y.row === r && y.measurement === m)
          .map((y) => (y.result ? int(y.result.perSecond) : 'failed'))
          .join(' / '),
      ]);
    }
    lines.push('');
  }

  if (measured('latency')) {
    lines.push(
      `### One-way latency at ${int(options.rate)} msgs/s (ms; run with the median p99)`,
      '',
    );
    head(
      [
        'server',
        'p50',
        'p90',
        'p99',
        'p99.9',
        'max',
        'p99 vs bare',
        'p99 vs PeerJS',
        'server CPU %',
        'send lag p99',
      ],
      ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
    );
    for (const r of rows) {
      const l = latency(results, r);
      const s = l?.run.result?.latency;
      row([
        ROW_LABELS[r],
        s ? ms(s.p50) : '–',
        s ? ms(s.p90) : '–',
        s ? `**${ms(s.p99)}**` : '–',
        s ? ms(s.p999) : '–',
        s ? ms(s.max) : '–',
        r === 'bare' ? '' : ratio(l?.value, latency(results, 'bare')?.value),
        r === 'peerjs' ? '' : ratio(l?.value, latency(results, 'peerjs')?.value),
        serverCpu(l?.run.result?.cpu),
        l?.run.result?.sendLag ? ms(l.run.result.sendLag.p99) : '–',
      ]);
    }
    lines.push('');
  }

  if (measured('idle')) {
    lines.push('### Idle connections: server memory', '');
    head(
      [
        'server',
        'KiB per connection (slope)',
        'KiB per connection (top − baseline)',
        'baseline RSS MiB',
        'connections at the top',
        'RSS at the top MiB',
        `after the ${options.holdSeconds} s hold`,
        'keep-alive CPU % (hold)',
        'errors',
      ],
      ['---', '---:', '---:', '---:', '---:', '---:', '---', '---:', '---:'],
    );
    for (const r of rows) {
      const run = results.idle.find((x) => x.row === r);
      const i = run?.result;
      const top = i?.steps[i.steps.length - 1];
      row([
        ROW_LABELS[r],
        i?.kibPerConnection == null
          ? run?.error
            ? 'failed'
            : '–'
          : `**${fixed1(i.kibPerConnection)}**`,
        i?.kibPerConnectionTop == null ? '–' : fixed1(i.kibPerConnectionTop),
        i ? fixed1(i.baselineRssKiB / 1024) : '–',
        top ? int(top.held) : '–',
        top ? fixed1(top.rssKiB / 1024) : '–',
        i?.afterHold
          ? `${int(i.afterHold.held)} held, ${fixed1(i.afterHold.rssKiB / 1024)} MiB`
          : '–',
        serverCpu(i?.holdCpu),
        i ? String(idleErrors(i)) : '–',
      ]);
    }
    lines.push('');
  }

  const t = targets(results);
  if (t.length > 0) {
    lines.push('### Targets (single-instance gateway)', '');
    head(['target', 'measured', 'met'], ['---', '---', '---']);
    for (const x of t) row([x.target, x.measured, x.met]);
    lines.push('');
  }

  const evidence = results.relay.filter((r) => r.gateway).concat();
  if (evidence.length > 0 || results.idle.some((r) => r.gateway)) {
    lines.push(
      '<details><summary>What the gateway recorded in each cell (its <code>/metrics</code>, ' +
        'the spans the OTLP sink received, its log)</summary>',
      '',
    );
    const keys = [
      ...new Set(
        [...results.relay, ...results.idle].flatMap((r) => Object.keys(r.gateway?.metrics ?? {})),
      ),
    ];
    head(
      ['cell', ...keys.map((k) => `\`${k}\``), 'spans exported', 'log warnings / errors'],
      ['---', ...keys.map(() => '---:'), '---:', '---'],
    );
    const cells: { label: string; g: GatewayEvidence }[] = [
      ...results.relay.flatMap((r) =>
        r.gateway ? [{ label: `${r.row} ${r.measurement} rep ${r.rep}`, g: r.gateway }] : [],
      ),
      ...results.idle.flatMap((r) => (r.gateway ? [{ label: `${r.row} idle`, g: r.gateway }] : [])),
    ];
    for (const c of cells) {
      row([
        c.label,
        ...keys.map((k) => (k in c.g.metrics ? int(c.g.metrics[k]!) : '–')),
        int(c.g.spansExported),
        `${c.g.logProblems.warnings} / ${c.g.logProblems.errors}` +
          (c.g.logProblems.first[0] ? ` (${c.g.logProblems.first[0].replaceAll('|', '/')})` : ''),
      ]);
    }
    const onlyProbe = cells.every((c) => c.g.spansExported <= 1);
    lines.push(
      '',
      'Every cell makes one plain HTTP request to the gateway, which its HTTP instrumentation ' +
        'traces, so that the sink shows the export works. ' +
        (onlyProbe
          ? 'No cell exported more than that one span: the gateway creates no spans for ' +
            'WebSocket handshakes, session requests or relayed messages.'
          : 'Spans beyond that one were created by the cell itself.'),
      '',
      '</details>',
      '',
    );
  }

  lines.push('<details><summary>Every run</summary>', '');
  head(
    [
      'server',
      'cell',
      'rep',
      'msgs/s',
      'p50 ms',
      'p99 ms',
      'server CPU %',
      'load CPU %',
      'other CPU %',
      'undelivered',
      'errors',
    ],
    ['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---'],
  );
  for (const r of results.relay) {
    const x = r.result;
    row([
      r.row,
      r.measurement,
      r.rep,
      x ? int(x.perSecond) : 'failed',
      x?.latency ? ms(x.latency.p50) : '–',
      x?.latency ? ms(x.latency.p99) : '–',
      serverCpu(x?.cpu),
      x?.cpu ? fixed1(x.cpu.processes.load ?? 0) : '–',
      x?.cpu ? fixed1(x.cpu.other) : '–',
      x ? int(x.undelivered) : '–',
      (r.error ?? (x && x.errors > 0 ? `${x.errors}: ${x.errorSamples[0] ?? ''}` : '0'))
        .replaceAll('|', '/')
        .replaceAll('\n', ' ')
        .slice(0, 200),
    ]);
  }
  lines.push('');
  for (const r of results.idle) {
    if (!r.result) {
      lines.push(`- ${r.row} idle: failed: ${(r.error ?? '').split('\n')[0]}`);
      continue;
    }
    const i = r.result;
    lines.push(
      `- ${r.row} idle: baseline ${fixed1(i.baselineRssKiB / 1024)} MiB, ${i.baselineFds} fds; ` +
        i.steps
          .map(
            (s) => `${int(s.held)} → ${fixed1(s.rssKiB / 1024)} MiB (${fixed1(s.openSeconds)} s)`,
          )
          .join('; ') +
        `; ${i.loadProcesses} load processes; ${i.failed} failed, ${i.dropped} dropped, ` +
        `${i.errors} errors` +
        (i.errorSamples.length > 0 ? ` (${i.errorSamples[0]!.replaceAll('|', '/')})` : ''),
    );
  }
  lines.push('', '</details>', '');
  return lines.join('\n');
}
