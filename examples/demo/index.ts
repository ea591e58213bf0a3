/**
 * `npm run demo`: PostgreSQL → pipeline → DuckDB, with live changes, then a
 * value-by-value comparison of every table, printed as a verdict.
 *
 * 1. PostgreSQL: `DATABASE_URL` when set (it must have wal_level = logical),
 *    else a private server started for this run and removed at the end.
 * 2. Demo tables (schema `etl_demo`) with a first set of rows.
 * 3. A pipeline streams them into a DuckDB file: the initial snapshot, then
 *    every change of a live workload (inserts, updates, deletes, updates that
 *    leave a TOASTed column untouched, a large transaction, ADD COLUMN and
 *    DROP COLUMN) while a status line shows rows/s, lag and batches.
 * 4. The workload stops; the demo waits until the slot has confirmed the
 *    last write, stops the pipeline (drained), and compares the tables value
 *    by value. Exit code 0 when they match, 1 when not, 130 on Ctrl-C.
 *
 * Run: npm run demo [-- --seconds N] [-- --duckdb PATH] [-- --corrupt]
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { duckdb, EtlError, Pipeline, postgres, postgresState } from 'etl-stream';
import type pg from 'pg';
import { compareTable, corruptDestination, type TableComparison } from './compare.js';
import {
  connect,
  createDemoSchema,
  DEMO_PUBLICATION,
  DEMO_SLOT,
  type DemoDatabase,
  DemoSetupError,
  dropDemoObjects,
  openDemoDatabase,
} from './database.js';
import { Meter } from './meter.js';
import { formatMs, Progress, stamp, wrap } from './progress.js';
import { describeTable, summariseStream, summariseWorkload, verdictLine } from './report.js';
import { DEMO_SCHEMA, DEMO_TABLES, runWorkload } from './workload.js';

const DEFAULT_SECONDS = 25;
const MAX_SECONDS = 60;
/** Changes per second the workload aims at: busy, and within what the pipeline keeps up with on 2 cores. */
const CHANGES_PER_SECOND = 2_500;
/** How long the pipeline may take to catch up once the workload stopped. */
const CATCH_UP_TIMEOUT_MS = 60_000;
const DEFAULT_DUCKDB_PATH = './.etl-stream/demo.duckdb';
const HELP = `npm run demo -- [options]

Streams a live PostgreSQL workload into DuckDB with etl-stream, then compares
every table value by value. Exit code 0 when PostgreSQL and DuckDB match.

  --seconds N    how long the live workload runs (default ${DEFAULT_SECONDS}, at most ${MAX_SECONDS})
  --duckdb PATH  the DuckDB file (default ${DEFAULT_DUCKDB_PATH}; replaced, and kept afterwards)
  --corrupt      change one value and delete one row in DuckDB before comparing, to see the check fail
  --help         this text

PostgreSQL: DATABASE_URL when set (it needs wal_level = logical; the demo works in
its own schema ${DEMO_SCHEMA}, slot ${DEMO_SLOT} and publication ${DEMO_PUBLICATION}, and drops them at the end),
otherwise a private PostgreSQL started from the machine's binaries for this run.`;

interface DemoOptions {
  readonly seconds: number;
  readonly duckdbPath: string;
  readonly corrupt: boolean;
}

function parseOptions(argv: string[]): DemoOptions | undefined {
  let values: { seconds?: string; duckdb?: string; corrupt?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seconds: { type: 'string' },
        duckdb: { type: 'string' },
        corrupt: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new DemoSetupError(`${(err as Error).message}\n\n${HELP}`);
  }
  if (values.help) return undefined;
  const seconds = values.seconds === undefined ? DEFAULT_SECONDS : Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > MAX_SECONDS) {
    throw new DemoSetupError(`--seconds must be a number from 1 to ${MAX_SECONDS}, got ${values.seconds}`);
  }
  return { seconds, duckdbPath: values.duckdb ?? DEFAULT_DUCKDB_PATH, corrupt: values.corrupt ?? false };
}

const out = process.stdout;
/** Set when stdout's reader went away. */
let muted = false;
/** Prints a line, wrapped to the terminal, continued lines indented by `indent`. */
const say = (line = '', indent = 0) => void (muted || out.write(`${wrap(line, indent)}\n`));

/** Work to undo at the end, last first, whatever happened. */
class Cleanup {
  readonly #steps: { what: string; run: () => Promise<unknown> }[] = [];
  add(what: string, run: () => Promise<unknown>): void {
    this.#steps.push({ what, run });
  }
  /** Runs every step; returns false when one failed. */
  async run(): Promise<boolean> {
    let ok = true;
    for (const step of this.#steps.reverse()) {
      try {
        await step.run();
      } catch (err) {
        ok = false;
        say(`cleanup: ${step.what} failed: ${(err as Error).message}`);
      }
    }
    return ok;
  }
}

/** Rejects when `signal` aborts, else settles like `promise`. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The demo's pipeline: what an application would write. */
function demoPipeline(db: DemoDatabase, duckdbPath: string): Pipeline {
  return new Pipeline({ name: 'demo' }) // slot and publication: etl_demo
    .from(
      postgres({
        connectionString: db.url,
        tables: DEMO_TABLES,
        heartbeat: { intervalMs: 1_000 }, // lets the slot move past WAL of other tables when idle
      }),
    )
    .to(duckdb({ path: duckdbPath }))
    .state(postgresState({ connectionString: db.url, schema: DEMO_SCHEMA }))
    .batch({ maxDelayMs: 200 });
}

/** Polls the slot until it confirmed `target` (an LSN); returns the confirmed LSN. */
async function waitForSlot(watcher: pg.Client, target: string, signal: AbortSignal): Promise<string> {
  const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
  for (;;) {
    const { rows } = await watcher.query<{ done: boolean; confirmed: string }>(
      'SELECT confirmed_flush_lsn >= $1::pg_lsn AS done, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $2',
      [target, DEMO_SLOT],
    );
    if (rows[0]?.done) return rows[0].confirmed;
    if (Date.now() > deadline) {
      throw new DemoSetupError(
        `The pipeline did not catch up within ${CATCH_UP_TIMEOUT_MS / 1000} s (slot at ${rows[0]?.confirmed}, last write at ${target}).`,
      );
    }
    await unlessAborted(new Promise((r) => setTimeout(r, 50)), signal);
  }
}

async function main(argv: string[], halt: AbortSignal): Promise<number> {
  const opts = parseOptions(argv);
  if (!opts) {
    say(HELP);
    return 0;
  }
  const startedAt = Date.now();
  const cleanup = new Cleanup();
  // Aborted by Ctrl-C or by a fatal pipeline error: every wait below gives up.
  const abort = new AbortController();
  const onHalt = () => abort.abort(new Error('interrupted'));
  halt.addEventListener('abort', onHalt, { once: true });
  let fatal: EtlError | undefined;
  try {
    say('etl-stream demo: PostgreSQL → pipeline → DuckDB, with live changes, then a value-by-value check');
    say();
    // Not abandoned on Ctrl-C: a server still starting would outlive us. It starts in a few seconds.
    const db = await openDemoDatabase();
    cleanup.add('stopping the private PostgreSQL', () => db.close());
    abort.signal.throwIfAborted();
    say(`  PostgreSQL  ${db.description}`, 14);
    await createDemoSchema(db.url);
    if (!db.isPrivate)
      cleanup.add('dropping the demo slot, publication and schema', () => dropDemoObjects(db.url));
    rmSync(opts.duckdbPath, { force: true });
    rmSync(`${opts.duckdbPath}.wal`, { force: true });
    mkdirSync(dirname(opts.duckdbPath), { recursive: true });
    say(`  tables      ${DEMO_TABLES.join(', ')}: 2,000 customers and 5,000 orders to start with`, 14);
    say(`  DuckDB      ${opts.duckdbPath}`, 14);
    say(
      `  workload    ${opts.seconds} s on 2 connections: inserts, updates, deletes, updates that leave a TOASTed column untouched, a large transaction, ADD COLUMN, DROP COLUMN`,
      14,
    );
    say();

    const pipeline = demoPipeline(db, opts.duckdbPath);
    const meter = new Meter(pipeline);
    let phase = 'starting';
    let progress: Progress | undefined;
    // Event lines are stamped with the time since the workload started; start-up notes are grouped.
    let workloadStartedAt: number | undefined;
    const startupNotes: string[] = [];
    const log = (line: string) => {
      if (abort.signal.aborted) return; // stopping: what fails now is a consequence
      if (workloadStartedAt === undefined) return void startupNotes.push(line);
      const text = wrap(`${stamp(workloadStartedAt)}  ${line}`, 8);
      progress ? progress.log(text) : say(text);
    };
    pipeline.on('state', ({ status }) => {
      if (phase !== 'catching up') phase = status;
    });
    pipeline.on('error', ({ error, fatal: isFatal, component }) => {
      if (!isFatal) return log(`retrying (${component}): ${error.message}`);
      fatal ??= error;
      abort.abort(error);
    });
    pipeline.on('alert', (a) => log(`${a.severity}: ${a.message}`));
    pipeline.on('schema', ({ table, previous }) => {
      if (!previous) return;
      const before = new Set(previous.columns.map((c) => c.name));
      const after = new Set(table.columns.map((c) => c.name));
      const added = [...after].filter((c) => !before.has(c)).map((c) => `+${c}`);
      const dropped = [...before].filter((c) => !after.has(c)).map((c) => `-${c}`);
      log(`  → the pipeline applies it: ${table.schema}.${table.name} ${[...added, ...dropped].join(' ')}`);
    });
    cleanup.add('stopping the pipeline', () => pipeline.stop({ drain: false, timeoutMs: 5_000 }));
    await pipeline.start(); // bounded (connects and checks); stopping it half-started would race it
    abort.signal.throwIfAborted();
    say(
      `Pipeline started (slot ${DEMO_SLOT}): snapshot first, then changes.${startupNotes.length ? ' Its start-up checks noted, as expected here:' : ''}`,
    );
    for (const note of startupNotes.splice(0)) say(`  - ${note}`, 4);
    say();

    // Write once the slot exists and the snapshot is under way: every change then streams.
    const snapshotStarted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new DemoSetupError('The snapshot did not start within 60 s.')),
        CATCH_UP_TIMEOUT_MS,
      );
      pipeline.once('snapshot:progress', () => resolve(clearTimeout(timer)));
    });
    await unlessAborted(snapshotStarted, abort.signal);
    const clients: pg.Client[] = [];
    cleanup.add('closing connections', () => Promise.all(clients.map((c) => c.end().catch(() => {}))));
    for (let i = 0; i < 3; i++) clients.push(await connect(db.url, 'PostgreSQL'));
    const [watcher, ...workers] = clients as [pg.Client, ...pg.Client[]];

    // Lag in bytes as the server sees it: its current WAL position minus the slot's confirmed one.
    let lagBytes: number | undefined;
    const pollLag = async () => {
      const { rows } = await watcher.query<{ lag: number | null }>(
        'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag FROM pg_replication_slots WHERE slot_name = $1',
        [DEMO_SLOT],
      );
      const lag = rows[0]?.lag;
      lagBytes = lag === undefined || lag === null ? undefined : Math.max(0, lag);
    };
    const lagTimer = setInterval(() => void pollLag().catch(() => {}), 500);
    cleanup.add('lag poller', async () => clearInterval(lagTimer));

    workloadStartedAt = Date.now();
    progress = new Progress({
      out,
      startedAt: workloadStartedAt,
      durationMs: opts.seconds * 1000,
      read: () => ({ phase, rows: meter.rows, batches: meter.batches, lagBytes, lagMs: meter.lagMs }),
    });
    progress.start();
    cleanup.add('progress line', async () => progress?.stop());
    const stats = await unlessAborted(
      runWorkload({
        clients: workers,
        durationMs: opts.seconds * 1000,
        signal: abort.signal,
        changesPerSecond: CHANGES_PER_SECOND,
        onEvent: log,
      }),
      abort.signal,
    );
    const workloadMs = Date.now() - workloadStartedAt;

    // Caught up: the slot confirmed a position at or past the last write.
    phase = 'catching up';
    const target = (await watcher.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))
      .rows[0]!.lsn;
    const catchUpStarted = Date.now();
    const confirmed = await waitForSlot(watcher, target, abort.signal);
    const catchUpMs = Date.now() - catchUpStarted;
    clearInterval(lagTimer);
    progress.stop();
    progress = undefined;
    say();
    say(summariseWorkload(stats, workloadMs));
    say(summariseStream(meter, stats));
    say(
      `Caught up ${formatMs(catchUpMs)} after the last write: the slot confirmed ${confirmed}, at or past the last write (${target}).`,
    );
    const stopStarted = Date.now();
    await unlessAborted(pipeline.stop({ drain: true }), abort.signal);
    say(`Pipeline stopped (drained) in ${formatMs(Date.now() - stopStarted)}.`);
    say();

    // The check, on a fresh handle of the DuckDB file the pipeline closed.
    const reader = duckdb({ path: opts.duckdbPath });
    cleanup.add('closing the DuckDB file', () => reader.close());
    await reader.open({ pipeline: 'demo', signal: abort.signal, emit: () => {} });
    const duckQuery = (sql: string, params?: readonly string[]) => reader.query(sql, params);
    if (opts.corrupt) say(await corruptDestination(duckQuery, DEMO_SCHEMA));
    say(
      'Comparing PostgreSQL and DuckDB value by value. Each side renders every column as canonical text in its own SQL (numerics exact, timestamps in UTC with microseconds, jsonb in its normal form); rows are matched by primary key:',
    );
    const source = await connect(db.url, 'PostgreSQL');
    cleanup.add('closing the comparison connection', () => source.end());
    const results: TableComparison[] = [];
    for (const table of DEMO_TABLES) {
      const result = await compareTable(source, duckQuery, table);
      results.push(result);
      say(describeTable(result), 6);
    }
    say();
    const verdict = verdictLine(results);
    say(verdict);
    say(
      `Took ${formatMs(Date.now() - startedAt)}. The DuckDB file stays at ${opts.duckdbPath}; ` +
        (db.isPrivate
          ? 'the private PostgreSQL is removed now.'
          : `schema ${DEMO_SCHEMA}, slot ${DEMO_SLOT} and publication ${DEMO_PUBLICATION} are dropped now.`),
    );
    return verdict.startsWith('VERDICT: MATCH') ? 0 : 1;
  } catch (err) {
    if (fatal) say(`\nThe pipeline failed: ${fatal.toString()}`);
    else if (halt.aborted) say('Interrupted: no verdict.');
    else if (err instanceof DemoSetupError) say(`\n${err.message}`);
    else if (err instanceof EtlError) say(`\n${err.toString()}`);
    else say(`\nThe demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return halt.aborted ? 130 : 1;
  } finally {
    halt.removeEventListener('abort', onHalt);
    if (!(await cleanup.run())) process.exitCode = 1;
  }
}

// Ctrl-C (or SIGTERM): stop everything and clean up; a second one exits at once.
const halt = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (++signals > 1) process.exit(130);
  out.write(
    `\n${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping and cleaning up (again to quit at once)...\n`,
  );
  halt.abort(new Error(signal));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// Output piped into a reader that went away (`npm run demo | head`): stop and clean up like Ctrl-C, silently.
out.on('error', (err: NodeJS.ErrnoException) => {
  if (muted) return;
  if (err.code !== 'EPIPE') throw err;
  muted = true;
  halt.abort(err);
});

const code = await main(process.argv.slice(2), halt.signal).catch((err) => {
  say(err instanceof DemoSetupError ? err.message : String(err));
  return 1;
});
process.exitCode = process.exitCode || code;
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
