/**
 * The end-to-end setup: a PostgreSQL test database → `Pipeline` with
 * `postgres()` → `snowflake()` through the real `snowflake-sdk` → the
 * Snowflake emulator; plus waiting for the destination's watermark and
 * comparing whole tables.
 */
import './env.js';
import pg from 'pg';
import { expect } from 'vitest';
import { snowflake } from '../../../../src/destinations/snowflake/snowflake-destination.js';
import type { SnowflakeOptions } from '../../../../src/destinations/snowflake/snowflake-options.js';
import { Pipeline } from '../../../../src/pipeline/pipeline.js';
import type { PipelineOptions } from '../../../../src/pipeline/pipeline-options.js';
import type { PostgresSourceOptions } from '../../../../src/postgres/postgres-options.js';
import { postgres } from '../../../../src/postgres/postgres-source.js';
import { memoryState } from '../../../../src/state/memory-state-store.js';
import type { SnowflakeEmulator } from '../../../../src/testing/index.js';
import { columnsOf, diffRows, NO_DIFF, type SnowflakeTable, snowflakeRows, sourceRows } from './tables.js';

/** The Snowflake schema the tests' pipelines write to. */
export const TARGET_SCHEMA = 'PG';

/** `snowflake()` options that reach the emulator with its default user's password. */
export function emulatorDestination(
  emu: SnowflakeEmulator,
  extra: Partial<SnowflakeOptions> = {},
): SnowflakeOptions {
  return {
    account: emu.account,
    username: emu.user,
    password: emu.password,
    accessUrl: emu.accessUrl,
    database: emu.database,
    schema: TARGET_SCHEMA,
    warehouse: emu.warehouse,
    role: emu.role,
    statementTimeoutMs: 20_000,
    connectTimeoutMs: 20_000,
    ...extra,
  } as SnowflakeOptions;
}

/** A running pipeline with what it reported. */
export interface RunningPipeline {
  readonly pipeline: Pipeline;
  readonly name: string;
  /** The destination's default schema (where its watermark table is). */
  readonly schema: string;
  /** Every `error` event (fatal or not), as text. */
  readonly errors: string[];
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL → snowflake() → emulator (memory state: the destination's
 * watermark does the skipping) and resolves once the snapshot is applied.
 */
export async function startPipeline(opts: {
  readonly name: string;
  readonly url: string;
  readonly emu: SnowflakeEmulator;
  readonly tables: readonly string[];
  readonly destination?: Partial<SnowflakeOptions>;
  readonly source?: Partial<PostgresSourceOptions>;
  readonly pipeline?: Partial<PipelineOptions>;
}): Promise<RunningPipeline> {
  const pipeline = new Pipeline({
    name: opts.name,
    retry: { initialDelayMs: 20, maxDelayMs: 300 },
    ...opts.pipeline,
  })
    .from(
      postgres({
        connectionString: opts.url,
        tables: [...opts.tables],
        statusIntervalMs: 500,
        ...opts.source,
      }),
    )
    .to(snowflake(emulatorDestination(opts.emu, opts.destination)))
    .state(memoryState())
    .batch({ maxDelayMs: 20 });
  const errors: string[] = [];
  pipeline.on('error', ({ error, fatal }) =>
    errors.push(`${fatal ? 'fatal' : 'retried'}: ${error.toString()}`),
  );
  await pipeline.start();
  // Once streaming, the whole snapshot is applied: a transaction from now on is streamed, and
  // waiting for its LSN cannot end early on the watermark of a snapshot chunk (the consistent point).
  const started = Date.now();
  while (pipeline.status !== 'streaming') {
    if (Date.now() - started > 60_000 || pipeline.status === 'failed')
      throw new Error(
        `pipeline ${opts.name} is ${pipeline.status}, not streaming; errors: ${errors.join(' | ')}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
  const schema = opts.destination?.schema ?? TARGET_SCHEMA;
  return { pipeline, name: opts.name, schema, errors, stop: () => pipeline.stop() };
}

/**
 * Runs `sql` in one transaction and returns `pg_current_wal_insert_lsn()`
 * read just before COMMIT: at most the transaction's commit LSN and above
 * that of every transaction committed before; once the watermark reaches it,
 * this transaction is applied.
 */
export async function transactionAt(url: string, sql: string): Promise<bigint> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql);
    const { rows } = await client.query<{ lsn: string }>(
      `SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS lsn`,
    );
    await client.query('COMMIT');
    return BigInt(rows[0]!.lsn);
  } finally {
    await client.end();
  }
}

/** The pipeline's watermark in the emulator (commit LSN of its last applied batch). */
export async function watermark(
  emu: SnowflakeEmulator,
  pipeline: string,
  schema = TARGET_SCHEMA,
): Promise<bigint | undefined> {
  const rows = await emu
    .query(
      `SELECT CAST("COMMIT_LSN" AS VARCHAR) AS "L" FROM "${emu.database}"."${schema}"."_ETL_WATERMARKS" WHERE "PIPELINE" = '${pipeline}'`,
    )
    .catch(() => []);
  const v = rows[0]?.L;
  return v === undefined || v === null ? undefined : BigInt(v.split('.')[0]!);
}

/** Waits until the watermark reaches `lsn`; fails with the pipeline's errors after `timeoutMs`. */
export async function waitForWatermark(
  emu: SnowflakeEmulator,
  run: Pick<RunningPipeline, 'name' | 'errors'> & { readonly schema?: string },
  lsn: bigint,
  timeoutMs = 30_000,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    const w = await watermark(emu, run.name, run.schema);
    if (w !== undefined && w >= lsn) return;
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `watermark of ${run.name} is ${w ?? 'absent'}, waited for ${lsn}; errors: ${run.errors.join(' | ')}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Snowflake target of a source table under the default naming. */
export function targetOf(
  emu: SnowflakeEmulator,
  table: string,
  extra: Partial<SnowflakeTable> = {},
): SnowflakeTable {
  const name = table.split('.').pop()!;
  return { database: emu.database, schema: TARGET_SCHEMA, name: name.toUpperCase(), ...extra };
}

/** Asserts the Snowflake copy of `table` equals the source, every row and value. */
export async function expectTableEqual(
  url: string,
  emu: SnowflakeEmulator,
  table: string,
  target: SnowflakeTable = targetOf(emu, table),
  context?: () => string,
): Promise<void> {
  const columns = await columnsOf(url, table);
  const source = await sourceRows(url, table, columns);
  expect(source.length, `rows of ${table}`).toBeGreaterThan(0);
  const copy = await snowflakeRows(emu, target, columns);
  const diff = diffRows(columns, source, copy);
  expect({ table, ...diff }, diff === NO_DIFF ? undefined : context?.()).toEqual({ table, ...NO_DIFF });
  expect(copy.length).toBe(source.length);
}
