/**
 * SIGKILL at random instants: a child process runs the pipeline (PostgreSQL →
 * DuckDB, state in PostgreSQL) while a workload of more than 100k row changes
 * runs against the source; the child is killed again and again — during the
 * initial snapshot and during the stream — and restarted each time. After a
 * final run to completion, every table in the DuckDB file equals the source
 * as PostgreSQL renders it, value by value: no missing row, no duplicate, no
 * stale value.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresState } from '../../../src/state/postgres-state-store.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { slotLsn, waitFor } from '../postgres-source/consumer.js';
import { type ChildScript, childScript } from './support/child-script.js';
import {
  CRASH_TABLES,
  createCrashTables,
  runCrashWorkload,
  type WorkloadResult,
} from './support/crash-workload.js';
import { aliasedRows, columnsOf, diffRows, duckdbSelect, NO_DIFF, sourceRows } from './support/tables.js';

const CHILD = fileURLToPath(new URL('./support/crash-child.ts', import.meta.url));
const KILLS = 11;
/** The first kills aim at the snapshot (it spans several runs: ~12 chunks of 3 000 rows). */
const SNAPSHOT_KILLS = 3;

let db: TestDatabase;
let work: string;
let child: ChildScript;
/** Every child started, so none outlives a failing test. */
const runs: Run[] = [];

beforeAll(async () => {
  db = await createTestDatabase('etl_pipe_crash');
  await createCrashTables(db);
  work = await mkdtemp(join(tmpdir(), 'etl-pipe-crash-'));
  child = await childScript(CHILD);
});
afterAll(async () => {
  for (const run of runs) if (!run.exited) run.proc.kill('SIGKILL');
  await Promise.all(runs.map((r) => r.exit));
  await db?.drop();
  await rm(work, { recursive: true, force: true });
  await child?.dispose();
});

interface Run {
  readonly proc: ChildProcess;
  /** The pipeline status the child last reported. */
  status: string;
  snapshotCommits: number;
  streamCommits: number;
  stderr: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: boolean;
}

function startChild(until?: bigint): Run {
  const proc = spawn(process.execPath, child.nodeArgs, {
    env: {
      ...process.env,
      ETL_CRASH_PG: db.url,
      ETL_CRASH_DUCKDB: join(work, 'crash.duckdb'),
      ETL_CRASH_TMP: work,
      ...(until === undefined ? {} : { ETL_CRASH_UNTIL: String(until) }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    proc,
    status: 'spawned',
    snapshotCommits: 0,
    streamCommits: 0,
    stderr: '',
    exited: false,
    exit: new Promise((resolve) =>
      proc.on('exit', (code, signal) => {
        run.exited = true;
        resolve({ code, signal });
      }),
    ),
  };
  runs.push(run);
  let pending = '';
  proc.stdout?.on('data', (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, a] = line.split(' ');
      if (kind === 'state') run.status = a ?? '';
      else if (kind === 'commit' && a === 'snap') run.snapshotCommits++;
      else if (kind === 'commit') run.streamCommits++;
    }
  });
  proc.stderr?.on('data', (d: Buffer) => {
    if (run.stderr.length < 20_000) run.stderr += d.toString();
  });
  return run;
}

const randomInt = (below: number) => Math.floor(Math.random() * below);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function slotExists(): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = 'etl_crash_duckdb'`);
  return rows.length > 0;
}

async function duckdbTables(): Promise<{
  rows: Map<string, ReturnType<typeof aliasedRows>>;
  watermark: bigint;
}> {
  const instance = await DuckDBInstance.create(join(work, 'crash.duckdb'));
  const connection = await instance.connect();
  try {
    const rows = new Map<string, ReturnType<typeof aliasedRows>>();
    for (const spec of CRASH_TABLES) {
      const columns = await columnsOf(db, spec.table);
      const result = await connection.runAndReadAll(duckdbSelect(spec, columns));
      rows.set(spec.table, aliasedRows(result.getRowObjectsJson(), columns));
    }
    const wm = await connection.runAndReadAll(
      `SELECT CAST(commit_lsn AS VARCHAR) AS lsn FROM main._etl_watermark WHERE pipeline = 'crash'`,
    );
    return { rows, watermark: BigInt(String(wm.getRowObjectsJson()[0]?.lsn ?? '0')) };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

it('ends equal to the source after SIGKILLs during the snapshot and the stream', async () => {
  const seed = randomInt(1_000_000);
  const kills: { round: number; phase: string; snapshotCommits: number; streamCommits: number }[] = [];
  let workload: Promise<WorkloadResult> | undefined;
  let snapshotDone = false;
  let workloadDone = false;
  for (let round = 0; round < KILLS; round++) {
    const run = startChild();
    if (!workload) {
      await waitFor(async () => run.exited || (await slotExists()), 30_000, 'the slot');
      workload = runCrashWorkload(db, { seed, paceMs: 10 });
      void workload.finally(() => {
        workloadDone = true;
      });
    }
    // A random instant: in the snapshot, a few chunks in; in the stream, after a commit; plus a random delay.
    if (round < SNAPSHOT_KILLS && !snapshotDone) {
      const chunks = 1 + randomInt(2);
      await waitFor(
        () => run.exited || run.snapshotCommits >= chunks || run.streamCommits > 0,
        60_000,
        'snapshot progress',
      );
      await sleep(randomInt(100));
    } else {
      // Once the workload is over there may be nothing left to stream: then any instant after start.
      const started = Date.now();
      await waitFor(
        () => run.exited || run.streamCommits > 0 || (workloadDone && Date.now() - started > 3_000),
        60_000,
        'a commit of the stream',
      );
      await sleep(randomInt(1_000));
    }
    const phase = run.status;
    run.proc.kill('SIGKILL');
    const exit = await run.exit;
    expect(exit, `round ${round} exited by itself: ${run.stderr}`).toEqual({ code: null, signal: 'SIGKILL' });
    kills.push({ round, phase, snapshotCommits: run.snapshotCommits, streamCommits: run.streamCommits });
    if (phase === 'streaming') snapshotDone = true;
  }
  const { changes, lastLsn } = await workload!;
  expect(changes).toBeGreaterThanOrEqual(100_000);

  const last = startChild(lastLsn);
  const exit = await last.exit;
  expect(exit, last.stderr).toEqual({ code: 0, signal: null });

  const context = `seed ${seed}, kills ${JSON.stringify(kills)}`;
  expect(kills.filter((k) => k.phase === 'snapshotting').length, context).toBeGreaterThanOrEqual(2);
  expect(kills.filter((k) => k.phase === 'streaming').length, context).toBeGreaterThanOrEqual(5);

  const destination = await duckdbTables();
  expect(destination.watermark).toBeGreaterThanOrEqual(lastLsn);
  // The final run stopped cleanly: the saved position is the slot's, at the destination's watermark.
  const store = postgresState({ connectionString: db.url });
  const saved = (await store.load('crash'))!;
  await store.close();
  expect(saved.checkpoint.commitLsn).toBe(destination.watermark);
  expect(saved.destinations).toEqual({ duckdb: destination.watermark });
  await waitFor(async () => (await slotLsn(db, 'etl_crash_duckdb')) === saved.checkpoint.lsn, 5_000, 'slot');
  for (const spec of CRASH_TABLES) {
    const expected = await sourceRows(db, spec, await columnsOf(db, spec.table));
    const got = destination.rows.get(spec.table)!;
    expect({ table: spec.table, ...diffRows(expected, got) }, context).toEqual({
      table: spec.table,
      ...NO_DIFF,
    });
    expect(got.length).toBe(expected.length);
  }
}, 180_000);
