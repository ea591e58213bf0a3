/**
 * `npm run bench [-- --quick] [--workload name]... [--contender name]... [--out file]`
 *
 * Starts a private PostgreSQL, and for each workload: creates one slot per
 * contender, loads the workload once (so every contender drains exactly the
 * same WAL), runs the contenders one after another, drops the slots. Then
 * replays captured pgoutput frames through both decoders, prints the table
 * and writes `bench/results/<YYYY-MM-DD>[-quick].json`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS } from '../src/pipeline/pipeline-options.js';
import { buildChildren } from './child-build.js';
import { type RunHooks, runNodeContender } from './contender-runner.js';
import { snapshotCeiling, streamCeiling } from './contenders/ceiling.js';
import {
  CONTENDER_DESCRIPTIONS,
  CONTENDERS,
  type ContenderJob,
  type ContenderName,
  type ContenderResult,
  runsOn,
} from './contenders/contender.js';
import { emulatorLogin, emulatorUnavailable, loadSnowflakeEmulator } from './contenders/etl-modules.js';
import {
  type CapturedFrames,
  captureFrames,
  framesPath,
  type ReplayResult,
  replayPinned,
} from './decode-replay.js';
import { HarnessPostgres } from './harness-postgres.js';
import { writeAtFixedRate } from './latency-writer.js';
import { describeMachine, loadAverageNow } from './machine.js';
import { summarizeLatency } from './metrics.js';
import { BASELINE_PROTOCOL, etlProtocol, type PgoutputOptions } from './pgoutput-options.js';
import {
  type BenchReport,
  formatLegend,
  formatReplay,
  formatTable,
  formatTargets,
  type WorkloadReport,
  workloadReport,
  writeReport,
} from './report.js';
import { latencyDurationSec, QUICK_SCALE, type Workload, type WorkloadName, workloads } from './workloads.js';

/** Workloads whose frames are captured and replayed through both decoders. */
const REPLAYED_WORKLOADS: readonly WorkloadName[] = ['insert', 'update'];
/** Per-contender time limit: generous, a contender that needs it has a problem worth a failure line. */
const QUICK_TIMEOUT_MS = 90_000;
const FULL_TIMEOUT_MS = 15 * 60_000;
/** The throttled destination runs at this fraction of etl-source's rows/s on the same workload. */
const THROTTLE_FRACTION = 0.1;
/** Pause between a latency contender's walsender starting and the writer starting, so it is streaming. */
const LATENCY_SETTLE_MS = 500;
const SLOT_PREFIX = 'bench_';
/**
 * Scaled runs (quick: ÷ {@link QUICK_SCALE}) divide the pipeline's batch
 * size limits like the workloads: they then cut as many batches per workload
 * as a full run, instead of one batch that only the 1 s delay timer cuts.
 */
function scaledBatch(scale: number): ContenderJob['batch'] {
  if (scale === 1) return undefined;
  return {
    maxRows: Math.max(1, Math.round(DEFAULT_MAX_ROWS / scale)),
    maxBytes: Math.max(1, Math.round(DEFAULT_MAX_BYTES / scale)),
  };
}
/** Where `--cpu-prof` puts the contenders' profiles (git-ignored). */
const PROFILE_DIR = fileURLToPath(new URL('../.etl-stream/bench-profiles/', import.meta.url));

interface RunOptions {
  readonly quick: boolean;
  /** Rows of every workload are divided by this (1: full size). */
  readonly scale: number;
  readonly workloads: readonly WorkloadName[] | undefined;
  readonly contenders: readonly ContenderName[];
  readonly out: string | undefined;
  readonly timeoutMs: number;
  /** Directory for V8 CPU profiles of the Node contenders (`--cpu-prof`), or undefined. */
  readonly cpuProfileDir: string | undefined;
}

function parseOptions(argv: string[]): RunOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scale: { type: 'string' },
      workload: { type: 'string', multiple: true },
      contender: { type: 'string', multiple: true },
      out: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run bench -- [--quick] [--workload insert|update|toast|snapshot|latency]... ' +
        `[--contender ${CONTENDERS.join('|')}]... [--scale N] [--out path.json] [--cpu-prof]`,
    );
    process.exit(0);
  }
  const all = workloads({ quick: false, scale: 1 }).map((w) => w.name);
  const scale = values.scale === undefined ? (values.quick ? QUICK_SCALE : 1) : Number(values.scale);
  if (!Number.isInteger(scale) || scale < 1)
    throw new Error(`--scale ${values.scale}: expected an integer ≥ 1`);
  for (const w of values.workload ?? []) {
    if (!all.includes(w as WorkloadName))
      throw new Error(`--workload ${w}: expected one of ${all.join(', ')}`);
  }
  for (const c of values.contender ?? []) {
    if (!CONTENDERS.includes(c as ContenderName))
      throw new Error(`--contender ${c}: expected one of ${CONTENDERS.join(', ')}`);
  }
  return {
    quick: values.quick ?? false,
    scale,
    workloads: values.workload as WorkloadName[] | undefined,
    contenders: (values.contender as ContenderName[] | undefined) ?? [...CONTENDERS],
    out: values.out,
    timeoutMs: values.quick ? QUICK_TIMEOUT_MS : FULL_TIMEOUT_MS,
    cpuProfileDir: values['cpu-prof'] ? PROFILE_DIR : undefined,
  };
}

const RUN_STARTED_MS = performance.now();

/** A progress line on stderr, with the seconds since the run started. */
function log(message: string): void {
  const at = ((performance.now() - RUN_STARTED_MS) / 1000).toFixed(1).padStart(5);
  process.stderr.write(`[bench ${at} s] ${message}\n`);
}

function slotName(workload: Workload, contender: ContenderName | 'capture'): string {
  return `${SLOT_PREFIX}${workload.name}_${contender.replace('-', '_')}`;
}

/** Runs `statements` one by one, each in its own transaction. */
async function execute(pg: HarnessPostgres, statements: readonly string[]): Promise<void> {
  for (const s of statements) await pg.sql.query(s);
}

/** Why a contender is skipped, before spending a process on it; undefined when it can run. */
async function skipReason(contender: ContenderName): Promise<string | undefined> {
  return contender === 'etl-snowflake' ? emulatorUnavailable() : undefined;
}

function job(
  contender: ContenderName,
  workload: Workload,
  pg: HarnessPostgres,
  slot: string | undefined,
  etl: PgoutputOptions,
  opts: RunOptions,
  throttleRowsPerSec?: number,
): ContenderJob {
  const protocol = contender === 'baseline' ? BASELINE_PROTOCOL : etl;
  const { name, kind, table, publication, rows } = workload;
  return {
    contender,
    workload: { name, kind, table, publication, rows },
    ...(opts.scale === 1 ? {} : { batch: scaledBatch(opts.scale) }),
    url: pg.url,
    slot,
    protocol,
    ...(throttleRowsPerSec ? { throttleRowsPerSec } : {}),
    timeoutMs: opts.timeoutMs,
  };
}

/**
 * Runs a Node contender in its own process, profiled when `--cpu-prof` was
 * given. etl-snowflake gets a fresh Snowflake emulator, run here in the
 * harness process so that the contender's RSS and event-loop delay are its own.
 */
async function runNode(j: ContenderJob, opts: RunOptions, hooks: RunHooks = {}): Promise<ContenderResult> {
  if (opts.cpuProfileDir) mkdirSync(opts.cpuProfileDir, { recursive: true });
  const h = opts.cpuProfileDir ? { ...hooks, cpuProfileDir: opts.cpuProfileDir } : hooks;
  if (j.contender !== 'etl-snowflake') return runNodeContender(j, h);
  const emulator = await (await loadSnowflakeEmulator())();
  try {
    return await runNodeContender({ ...j, snowflake: emulatorLogin(emulator) }, h);
  } finally {
    await emulator.close();
  }
}

/**
 * Turns a latency run's arrivals into latencies from each row's commit
 * timestamp, and drops the raw arrivals (they are not kept in the report).
 */
async function withLatency(
  pg: HarnessPostgres,
  w: Workload,
  result: ContenderResult,
): Promise<ContenderResult> {
  if (result.status !== 'ok' || !result.arrivals) return result;
  const { arrivals, ...rest } = result;
  if (arrivals.ids.length === 0) return rest;
  const committed = await pg.commitTimesMs(w.table, arrivals.ids);
  const latencies: number[] = [];
  arrivals.ids.forEach((id, i) => {
    const at = committed.get(id);
    if (at !== undefined) latencies.push(arrivals.atMs[i]! - at);
  });
  return { ...rest, latency: latencies.length > 0 ? summarizeLatency(latencies) : undefined };
}

/** Adds the walsender's CPU time to a successful result. */
function withWalsender(result: ContenderResult, walsenderCpuMs: number | undefined): ContenderResult {
  return result.status === 'ok' && walsenderCpuMs !== undefined ? { ...result, walsenderCpuMs } : result;
}

function describe(contender: ContenderName, r: ContenderResult): string {
  if (r.status !== 'ok') return `${contender}: ${r.status} (${r.reason})`;
  const rate = Math.round(r.rows / (r.elapsedMs / 1000)).toLocaleString('en-US');
  const latency = r.latency ? `, p99 ${r.latency.p99Ms?.toFixed(2)} ms` : '';
  return `${contender}: ${r.rows.toLocaleString('en-US')} rows in ${r.elapsedMs.toFixed(0)} ms (${rate} rows/s${latency})`;
}

/** A stream workload: slots, one load, contenders in turn, optional frame capture. */
async function streamWorkload(
  pg: HarnessPostgres,
  w: Workload,
  opts: RunOptions,
  replays: ReplayResult[],
): Promise<WorkloadReport> {
  await execute(pg, w.setup);
  const etl = await etlProtocol(pg.sql, w.table);
  const runnable = new Map<ContenderName, string | undefined>();
  for (const c of opts.contenders) if (runsOn(c, w.name)) runnable.set(c, await skipReason(c));
  const capture: CapturedFrames | undefined = REPLAYED_WORKLOADS.includes(w.name)
    ? {
        baseline: { path: framesPath(w, BASELINE_PROTOCOL), protocol: BASELINE_PROTOCOL },
        etl: { path: framesPath(w, etl), protocol: etl },
      }
    : undefined;
  const needsCapture =
    capture !== undefined && !(existsSync(capture.baseline.path) && existsSync(capture.etl.path));
  for (const [c, skip] of runnable) if (!skip) await pg.createSlot(slotName(w, c));
  if (needsCapture) await pg.createSlot(slotName(w, 'capture'));
  const startLsn = await pg.currentLsn();
  log(`${w.name}: loading ${w.description}`);
  const loadStarted = performance.now();
  await execute(pg, w.load);
  const endLsn = await pg.currentLsn();
  await pg.waitFlushed(endLsn);
  const bytes = await pg.walBytes(startLsn, endLsn);
  log(
    `${w.name}: loaded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s, ` +
      `${(bytes / 2 ** 20).toFixed(1)} MB of WAL up to ${endLsn}`,
  );
  const results = new Map<ContenderName, ContenderResult>();
  for (const [c, skip] of runnable) {
    let result: ContenderResult;
    const walsender = skip ? undefined : pg.watchWalsender(slotName(w, c));
    if (skip) result = { status: 'unavailable', reason: skip };
    else if (c === 'ceiling')
      result = await streamCeiling({
        program: pg.program('pg_recvlogical'),
        url: pg.url,
        slot: slotName(w, c),
        publication: w.publication,
        endLsn,
        protocol: etl,
        rows: w.rows,
        timeoutMs: opts.timeoutMs,
      });
    else if (c === 'etl-throttled') result = await throttledRun(pg, w, etl, opts, results.get('etl-source'));
    else result = await runNode(job(c, w, pg, slotName(w, c), etl, opts), opts);
    result = withWalsender(result, walsender?.stop());
    log(`${w.name}: ${describe(c, result)}`);
    results.set(c, result);
  }
  if (capture) {
    if (needsCapture) {
      for (const { path, protocol } of [capture.baseline, capture.etl]) {
        if (existsSync(path)) continue;
        const { frames } = await captureFrames(pg.url, slotName(w, 'capture'), w.publication, protocol, path);
        log(`${w.name}: captured ${frames.toLocaleString('en-US')} frames to ${path}`);
      }
    }
    const replay = await replayPinned(capture, w.name);
    log(formatReplay([replay]));
    replays.push(replay);
  }
  await pg.dropSlotsLike(`${SLOT_PREFIX}${w.name}_`);
  return workloadReport(
    { name: w.name, kind: w.kind, description: w.description, rows: w.rows, bytes, bytesOf: 'wal' },
    results,
  );
}

/** etl-source again, into a destination that only lets through a tenth of what etl-source managed. */
async function throttledRun(
  pg: HarnessPostgres,
  w: Workload,
  etl: PgoutputOptions,
  opts: RunOptions,
  source: ContenderResult | undefined,
): Promise<ContenderResult> {
  if (source?.status !== 'ok')
    return {
      status: 'unavailable',
      reason: 'needs an etl-source result on the same workload to set its rate',
    };
  const rate = Math.max(1, Math.round((source.rows / (source.elapsedMs / 1000)) * THROTTLE_FRACTION));
  // At a tenth of the speed the run lasts ten times longer: allow for it.
  const slow = { ...opts, timeoutMs: opts.timeoutMs + (source.elapsedMs / THROTTLE_FRACTION) * 2 };
  const result = await runNode(
    job('etl-throttled', w, pg, slotName(w, 'etl-throttled'), etl, slow, rate),
    opts,
  );
  return result.status === 'ok' ? { ...result, note: `throttled to ${rate} rows/s` } : result;
}

/** The snapshot workload: a loaded table read whole by each contender. */
async function snapshotWorkload(pg: HarnessPostgres, w: Workload, opts: RunOptions): Promise<WorkloadReport> {
  log(`${w.name}: loading ${w.description}`);
  await execute(pg, w.setup);
  const etl = await etlProtocol(pg.sql, w.table);
  const bytes = await pg.tableBytes(w.table);
  const results = new Map<ContenderName, ContenderResult>();
  for (const c of opts.contenders.filter((x) => runsOn(x, w.name))) {
    const skip = await skipReason(c);
    let result: ContenderResult;
    if (skip) result = { status: 'unavailable', reason: skip };
    else if (c === 'ceiling')
      result = await snapshotCeiling({
        program: pg.program('psql'),
        url: pg.url,
        table: w.table,
        rows: w.rows,
        timeoutMs: opts.timeoutMs,
      });
    // etl-stream creates its own slot here: the snapshot is taken from the slot's exported snapshot.
    else result = await runNode(job(c, w, pg, slotName(w, c), etl, opts), opts);
    log(`${w.name}: ${describe(c, result)}`);
    results.set(c, result);
  }
  await pg.dropSlotsLike(`${SLOT_PREFIX}${w.name}_`);
  return workloadReport(
    { name: w.name, kind: w.kind, description: w.description, rows: w.rows, bytes, bytesOf: 'table' },
    results,
  );
}

/** The latency workload: each contender streams while the fixed-rate writer runs. */
async function latencyWorkload(pg: HarnessPostgres, w: Workload, opts: RunOptions): Promise<WorkloadReport> {
  await execute(pg, w.setup);
  const etl = await etlProtocol(pg.sql, w.table);
  const seconds = latencyDurationSec(opts.quick);
  const results = new Map<ContenderName, ContenderResult>();
  // The ceiling writes to /dev/null and cannot say when a row arrived; latency is measured for Node contenders.
  for (const c of opts.contenders.filter((x) => x !== 'ceiling' && runsOn(x, w.name))) {
    const skip = await skipReason(c);
    let result: ContenderResult;
    if (skip) result = { status: 'unavailable', reason: skip };
    else {
      const slot = slotName(w, c);
      await pg.createSlot(slot);
      let written = 0;
      const walsender = pg.watchWalsender(slot);
      result = await runNode(job(c, w, pg, slot, etl, opts), opts, {
        onReady: async () => {
          // Ready means started; the replication connection may still be on its way.
          await pg.waitSlotActive(slot, opts.timeoutMs);
          await new Promise((r) => setTimeout(r, LATENCY_SETTLE_MS));
          written = (await writeAtFixedRate(pg, w, seconds)).rows;
          return written;
        },
      });
      result = await withLatency(pg, w, withWalsender(result, walsender.stop()));
      if (result.status === 'ok')
        result = { ...result, note: `writer ${Math.round(written / seconds)} tx/s` };
      await pg.dropSlot(slot);
    }
    log(`${w.name}: ${describe(c, result)}`);
    results.set(c, result);
  }
  return workloadReport(
    { name: w.name, kind: w.kind, description: w.description, rows: w.rows, bytes: 0, bytesOf: 'wal' },
    results,
  );
}

/**
 * Whether other work shared the machine: load at start (before the run's own
 * processes) of half the CPUs or more, or at the end beyond what the run
 * itself adds (a walsender and a client: about one and a half CPUs).
 */
function busyMachine(m: BenchReport['machine']): boolean {
  const load = m.loadAverage;
  return load !== undefined && (load.atStart >= m.cpus / 2 || load.atEnd >= m.cpus + 1);
}

/** `quick`, `full`, or `full ÷ 5` for a scaled full run. */
function runKind(opts: RunOptions): string {
  if (opts.quick) return opts.scale === QUICK_SCALE ? 'quick' : `quick ÷ ${opts.scale}`;
  return opts.scale === 1 ? 'full' : `full ÷ ${opts.scale}`;
}

/** Results of quick and scaled runs never overwrite a full run's. */
function resultSuffix(opts: RunOptions): string {
  if (opts.quick) return '-quick';
  return opts.scale === 1 ? '' : `-scale${opts.scale}`;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const started = new Date();
  const loadAtStart = loadAverageNow();
  const selected = workloads({ quick: opts.quick, scale: opts.scale }).filter(
    (w) => !opts.workloads || opts.workloads.includes(w.name),
  );
  const unbundled = await buildChildren();
  if (unbundled) log(`child processes run through tsx (slower to start): ${unbundled}`);
  log(`starting PostgreSQL (${runKind(opts)} run)`);
  const pg = await HarnessPostgres.start();
  const reports: WorkloadReport[] = [];
  const replays: ReplayResult[] = [];
  try {
    for (const w of selected) {
      if (w.kind === 'stream') reports.push(await streamWorkload(pg, w, opts, replays));
      else if (w.kind === 'snapshot') reports.push(await snapshotWorkload(pg, w, opts));
      else reports.push(await latencyWorkload(pg, w, opts));
    }
  } finally {
    await pg.dropSlotsLike(SLOT_PREFIX).catch(() => {});
    await pg.stop();
  }
  const date = started.toISOString().slice(0, 10);
  const report: BenchReport = {
    date,
    startedAt: started.toISOString(),
    durationSec: Math.round((Date.now() - started.getTime()) / 1000),
    quick: opts.quick,
    scale: opts.scale,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: describeMachine(pg.serverVersion, loadAtStart),
    contenders: CONTENDER_DESCRIPTIONS,
    workloads: reports,
    decodeReplay: replays,
  };
  const out =
    opts.out ?? fileURLToPath(new URL(`./results/${date}${resultSuffix(opts)}.json`, import.meta.url));
  writeReport(report, out);
  const m = report.machine;
  console.log(
    `\netl-stream benchmark, ${runKind(opts)} run, ${date}: ${m.cpus} CPUs (${m.cpuModel}), ` +
      `${m.memoryGiB} GiB, PostgreSQL ${m.postgres}, Node ${m.node}; ` +
      `load average ${m.loadAverage?.atStart} at start, ${m.loadAverage?.atEnd} at end\n`,
  );
  if (busyMachine(m))
    console.log(
      `Note: the machine was busy with other work during this run (load ${m.loadAverage?.atStart} at start on ${m.cpus} CPUs); ` +
        'the numbers are not representative. When neither CPU % column (client, walsender) is near 100 %, both were waiting for a CPU.\n',
    );
  console.log(formatTable(report));
  if (replays.length > 0) console.log(`\n${formatReplay(replays)}`);
  console.log(`\nTargets (issue #7):\n${formatTargets(report)}`);
  console.log(`\nContenders:\n${formatLegend()}`);
  console.log(`\nWrote ${out} (${report.durationSec} s)`);
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
