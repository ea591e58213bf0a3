/**
 * etl-stream end to end: the same pipeline as {@link etlSource}, into the
 * embedded DuckDB destination or into the Snowflake emulator. Rows are
 * counted as each destination write resolves (durable).
 *
 * Time inside `write` is split without changing the destinations: Parquet
 * encoding is timed around `ParquetEncoder.prototype.encode` (this is a
 * contender's own child process, so the wrap touches nothing else), and
 * the Snowflake destination's statements are timed by their step through
 * its session seam: `put` is upload, the others (COPY, MERGE, watermark,
 * COMMIT, cleanup) apply. DuckDB has no upload: apply is the rest of its
 * write (staging the Parquet file, MERGE, watermark, COMMIT).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParquetEncoder } from '../../src/arrow/parquet-encoder.js';
import { duckdb } from '../../src/destinations/duckdb/duckdb-destination.js';
import { SnowflakeDestination } from '../../src/destinations/snowflake/snowflake-destination.js';
import { connectSession } from '../../src/destinations/snowflake/snowflake-driver.js';
import {
  resolveSnowflakeOptions,
  type SnowflakeOptions,
} from '../../src/destinations/snowflake/snowflake-options.js';
import type { SnowflakeSession } from '../../src/destinations/snowflake/snowflake-session.js';
import type { Destination } from '../../src/pipeline/destination.js';
import type { NodeContender } from './contender.js';
import { runPipeline } from './etl-source.js';
import { PhaseTimer } from './phase-timer.js';
import type { RowGoal } from './row-goal.js';

export const etlDuckdb: NodeContender = async (run) => {
  const timer = new PhaseTimer();
  const encoded = timeParquetEncoding(timer);
  const dir = mkdtempSync(join(tmpdir(), 'etl-bench-duckdb-'));
  try {
    const destination = duckdb({ path: join(dir, 'bench.duckdb'), tempDir: dir });
    return await runPipeline(run, counting(applyIsTheRest(destination, timer, encoded), run.goal), timer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/** Into the Snowflake emulator the harness started (`job.snowflake`). */
export const etlSnowflake: NodeContender = async (run) => {
  const emulator = run.job.snowflake;
  if (!emulator) throw new Error('etl-snowflake needs the Snowflake emulator the harness starts');
  const timer = new PhaseTimer();
  timeParquetEncoding(timer);
  const options: SnowflakeOptions = {
    accessUrl: emulator.accessUrl,
    account: emulator.account,
    username: emulator.user,
    password: emulator.password,
    database: emulator.database,
    schema: emulator.schema,
    warehouse: emulator.warehouse,
    role: emulator.role,
    driverLog: 'off',
  };
  const resolved = resolveSnowflakeOptions(options);
  const destination = new SnowflakeDestination(options, {
    connect: async (signal) => timedSession(await connectSession(resolved, signal), timer),
  });
  return runPipeline(run, counting(destination, run.goal), timer);
};

/** Wraps a destination so rows count once its write resolved (durable). */
function counting(inner: Destination, goal: RowGoal): Destination {
  return {
    name: inner.name,
    ...(inner.open ? { open: (ctx) => inner.open!(ctx) } : {}),
    ...(inner.committedLsn ? { committedLsn: (pipeline) => inner.committedLsn!(pipeline) } : {}),
    async write(batch, opts) {
      await inner.write(batch, opts);
      goal.add(batch.numRows);
    },
    close: () => inner.close(),
  };
}

/**
 * Times every Parquet encoding of this process as `encode`; returns a reader
 * of the total so far. Writes are never concurrent for one destination, so
 * the difference across a write is that write's encoding.
 */
function timeParquetEncoding(timer: PhaseTimer): () => number {
  let total = 0;
  const encode = ParquetEncoder.prototype.encode;
  ParquetEncoder.prototype.encode = async function (this: ParquetEncoder, ...args) {
    const started = performance.now();
    try {
      return await encode.apply(this, args);
    } finally {
      const ms = performance.now() - started;
      total += ms;
      timer.add('encode', ms);
    }
  };
  return () => total;
}

/** Counts what a write spent outside Parquet encoding as `apply` (an embedded database uploads nothing). */
function applyIsTheRest(inner: Destination, timer: PhaseTimer, encoded: () => number): Destination {
  return {
    name: inner.name,
    ...(inner.open ? { open: (ctx) => inner.open!(ctx) } : {}),
    ...(inner.committedLsn ? { committedLsn: (pipeline) => inner.committedLsn!(pipeline) } : {}),
    async write(batch, opts) {
      const started = performance.now();
      const encodedBefore = encoded();
      try {
        await inner.write(batch, opts);
      } finally {
        timer.add('apply', performance.now() - started - (encoded() - encodedBefore));
      }
    },
    close: () => inner.close(),
  };
}

/** Statements that set a session up; neither upload nor apply. */
const SETUP_STEPS = new Set(['connect']);

/** Times a Snowflake session's statements by step: `put` as upload, the rest of a write as apply. */
function timedSession(session: SnowflakeSession, timer: PhaseTimer): SnowflakeSession {
  const execute = session.execute.bind(session);
  session.execute = (sql, binds, ctx, signal) => {
    if (SETUP_STEPS.has(ctx.step)) return execute(sql, binds, ctx, signal);
    return timer.time(ctx.step === 'put' ? 'upload' : 'apply', () => execute(sql, binds, ctx, signal));
  };
  return session;
}
