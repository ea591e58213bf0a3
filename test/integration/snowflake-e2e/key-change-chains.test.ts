/**
 * Chains of key changes of rows whose 100 KB TOASTed `doc` is left untouched,
 * end to end into the emulator (real PostgreSQL → Pipeline → `snowflake()`
 * through the real snowflake-sdk). Under REPLICA IDENTITY DEFAULT each key
 * change is a Delete of the old key and an Update of the new key listing
 * `doc` in `_etl_unchanged`; in a chain 1 → 2 → 3 inside one batch, key 2's
 * only change is itself such an Update and the target has no key 2, so the
 * value must be followed back through the chain to key 1. The pipeline cuts
 * batches after 1 s, so back-to-back transactions share a batch (asserted).
 * A jsonb `meta` is TOASTed the same way. Two pipelines, hard and soft
 * deletes, into two schemas. After each step both copies equal PostgreSQL
 * value by value (soft: the live rows), and no `doc` or `meta` is NULL.
 */
import './support/env.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { snowflake } from '../../../src/destinations/snowflake/snowflake-destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { memoryState } from '../../../src/state/memory-state-store.js';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import {
  emulatorDestination,
  expectTableEqual,
  TARGET_SCHEMA,
  targetOf,
  transactionAt,
  waitForWatermark,
} from './support/harness.js';

/** A distinct ~100 KB text per seed, not compressible into the row (md5 chains). */
const BIG = (seed: string) =>
  `(SELECT string_agg(md5(${seed} || ':' || i), '') FROM generate_series(1, 3200) AS s(i))`;

const SOFT_SCHEMA = 'PG_SOFT';
let db: TestDatabase;
let emu: SnowflakeEmulator;
const runs: { name: string; schema: string; pipeline: Pipeline; errors: string[]; batches: ChangeBatch[] }[] =
  [];

/** PostgreSQL → snowflake() → emulator, batches cut after 1 s; resolves once streaming. */
async function start(name: string, schema: string, deletes: 'hard' | 'soft'): Promise<void> {
  const errors: string[] = [];
  const batches: ChangeBatch[] = [];
  const pipeline = new Pipeline({ name, retry: { initialDelayMs: 20, maxDelayMs: 300 } })
    .from(postgres({ connectionString: db.url, tables: ['public.docs'], statusIntervalMs: 500 }))
    .to(snowflake(emulatorDestination(emu, { schema, deletes })))
    .state(memoryState())
    .batch({ maxDelayMs: 1000 });
  pipeline.on('error', ({ error, fatal }) => errors.push(`${fatal ? 'fatal' : 'retried'}: ${error}`));
  pipeline.on('batch', ({ batch }) => batches.push(batch));
  runs.push({ name, schema, pipeline, errors, batches });
  await pipeline.start();
  const started = Date.now();
  while (pipeline.status !== 'streaming') {
    if (Date.now() - started > 60_000 || pipeline.status === 'failed')
      throw new Error(`pipeline ${name} is ${pipeline.status}; errors: ${errors.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  db = await createTestDatabase('etl_sfe2e_key_chains');
  emu = await startSnowflakeEmulator();
  await db.query(`
    CREATE TABLE docs (id int PRIMARY KEY, name text NOT NULL, doc text, meta jsonb);
    ALTER TABLE docs ALTER COLUMN doc SET STORAGE EXTERNAL, ALTER COLUMN meta SET STORAGE EXTERNAL;
    INSERT INTO docs SELECT g, 'n' || g, ${BIG("'d' || g")}, jsonb_build_object('g', g, 'big', ${BIG("'m' || g")})
      FROM generate_series(1, 20) g;
  `);
  await start('chains_hard', TARGET_SCHEMA, 'hard');
  await start('chains_soft', SOFT_SCHEMA, 'soft');
});

afterAll(async () => {
  for (const r of runs) await r.pipeline.stop();
  await emu?.close();
  await db?.drop();
});

/** Runs each of `sqls` as its own transaction, back to back, and waits until the last is applied. */
async function steps(...sqls: string[]): Promise<bigint[]> {
  const lsns: bigint[] = [];
  for (const sql of sqls) lsns.push(await transactionAt(db.url, sql));
  for (const r of runs) await waitForWatermark(emu, r, lsns.at(-1)!);
  return lsns;
}

/** Both copies equal the source value by value (the soft copy: its live rows); no doc or meta is NULL. */
async function expectEqualToSource(): Promise<void> {
  await expectTableEqual(db.url, emu, 'public.docs');
  await expectTableEqual(
    db.url,
    emu,
    'public.docs',
    targetOf(emu, 'public.docs', { schema: SOFT_SCHEMA, where: 'NOT "_ETL_DELETED"' }),
  );
  for (const r of runs) {
    const nulls = await emu.query(
      `SELECT CAST(COUNT(*) AS VARCHAR) AS "N" FROM "${emu.database}"."${r.schema}"."DOCS" WHERE "DOC" IS NULL OR "META" IS NULL`,
    );
    expect(nulls[0]?.N, r.name).toBe('0');
    expect(r.errors).toEqual([]);
  }
}

/** The batch (of the hard pipeline) that carried the transaction `transactionAt` returned `lsn` for: the first to commit at or after it. */
function batchOf(lsn: bigint): ChangeBatch {
  const after = runs[0]!.batches.filter((b) => b.commitLsn >= lsn);
  if (after.length === 0) throw new Error(`no batch carried ${lsn}`);
  return after.reduce((a, b) => (b.commitLsn < a.commitLsn ? b : a));
}

it('the doc is TOASTed out of line (the premise), and the snapshot is copied', async () => {
  const { rows } = await db.query<{ n: number; ext: number; meta: number }>(
    'SELECT length(doc) AS n, pg_column_size(doc) AS ext, pg_column_size(meta) AS meta FROM docs WHERE id = 1',
  );
  expect(rows[0]!.n).toBe(102_400);
  expect(rows[0]!.ext).toBeGreaterThan(100_000); // EXTERNAL: stored uncompressed, out of line
  expect(rows[0]!.meta).toBeGreaterThan(100_000);
  await steps(`UPDATE docs SET name = name WHERE id = 20`);
  await expectEqualToSource();
});

it('a chain 1 → 2 → 3 in one transaction', async () => {
  await steps('UPDATE docs SET id = 102 WHERE id = 1; UPDATE docs SET id = 103 WHERE id = 102');
  await expectEqualToSource();
});

it('a chain 1 → 2 → 3 → 4 across transactions of the same batch', async () => {
  const [first, , last] = await steps(
    'UPDATE docs SET id = 202 WHERE id = 2',
    'UPDATE docs SET id = 203 WHERE id = 202',
    `UPDATE docs SET id = 204, name = 'renamed' WHERE id = 203`,
  );
  expect(batchOf(first!)).toBe(batchOf(last!));
  await expectEqualToSource();
});

it('a swap through a spare key, in one transaction and across transactions of one batch', async () => {
  await steps(
    `UPDATE docs SET id = 999 WHERE id = 3; UPDATE docs SET id = 3 WHERE id = 4;
     UPDATE docs SET id = 4 WHERE id = 999`,
  );
  await expectEqualToSource();
  const [first, , last] = await steps(
    'UPDATE docs SET id = 998 WHERE id = 5',
    'UPDATE docs SET id = 5 WHERE id = 6',
    'UPDATE docs SET id = 6 WHERE id = 998',
  );
  expect(batchOf(first!)).toBe(batchOf(last!));
  await expectEqualToSource();
});

it('a chain whose first link takes a key another row just left, and a later update of the end', async () => {
  await steps(
    'UPDATE docs SET id = 307 WHERE id = 7; UPDATE docs SET id = 7 WHERE id = 8',
    'UPDATE docs SET id = 308 WHERE id = 7; UPDATE docs SET id = 309 WHERE id = 308',
    `UPDATE docs SET name = 'end' WHERE id = 309`,
  );
  await expectEqualToSource();
});
