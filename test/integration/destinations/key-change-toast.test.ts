/**
 * Key changes of rows whose TOASTed column is left untouched, on a real
 * PostgreSQL through a real Pipeline into DuckDB and memory. Under REPLICA
 * IDENTITY DEFAULT, `UPDATE t SET id = 2 WHERE id = 1` does not resend the
 * 100 KB `doc` (stored out of line): the decoder emits a Delete of the old
 * key and an Update of the new key listing `doc` in `_etl_unchanged`, and a
 * destination must take `doc` from the old key's row — from an earlier
 * change of the batch, or from what it already holds. Both destinations
 * must end equal to PostgreSQL, value by value, after every step.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DuckDBDestination, duckdb } from '../../../src/destinations/duckdb/duckdb-destination.js';
import { type MemoryDestination, memory } from '../../../src/destinations/memory-destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { MemoryStateStore } from '../../../src/state/memory-state-store.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { transactionAt } from '../pipeline/support/scenario.js';
import {
  type Column,
  columnsOf,
  diffRows,
  duckdbSelect,
  memoryRows,
  NO_DIFF,
  sourceRows,
  type TableSpec,
} from '../pipeline/support/tables.js';
import { waitFor } from '../postgres-source/consumer.js';

/** A distinct ~100 KB text per seed, not compressible by pglz into the row (md5 chains). */
const BIG = (seed: string) =>
  `(SELECT string_agg(md5(${seed} || ':' || i), '') FROM generate_series(1, 3200) AS s(i))`;

const DOCS: TableSpec = { table: 'public.docs', key: 'id', md5: ['doc'] };

let db: TestDatabase;
let work: string;
let duck: DuckDBDestination;
let mem: MemoryDestination;
let pipeline: Pipeline;
let columns: Column[];

beforeAll(async () => {
  db = await createTestDatabase('etl_key_change_toast');
  await db.query(`
    CREATE TABLE docs (id int PRIMARY KEY, name text NOT NULL, doc text);
    ALTER TABLE docs ALTER COLUMN doc SET STORAGE EXTERNAL;
    INSERT INTO docs SELECT g, 'n' || g, ${BIG("'d' || g")} FROM generate_series(1, 20) g;
  `);
  columns = await columnsOf(db, DOCS.table);
  work = await mkdtemp(join(tmpdir(), 'etl-key-change-toast-'));
  duck = duckdb({ path: join(work, 'dest.duckdb'), tempDir: work });
  mem = memory();
  pipeline = new Pipeline({ name: 'keys' })
    .from(postgres({ connectionString: db.url, tables: [DOCS.table], statusIntervalMs: 200 }))
    .to(duck, mem)
    .state(new MemoryStateStore())
    .batch({ maxDelayMs: 20 });
  await pipeline.start();
  await waitFor(() => mem.rows(DOCS.table).length === 20, 30_000, 'the snapshot');
});

afterAll(async () => {
  await pipeline?.stop();
  await db?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs `sql` as one transaction and waits until both destinations applied it. */
async function step(sql: string): Promise<void> {
  const at = await transactionAt(db.url, sql);
  await waitFor(
    async () =>
      ((await duck.committedLsn('keys')) ?? 0n) >= at && ((await mem.committedLsn('keys')) ?? 0n) >= at,
    20_000,
    `applied: ${sql}`,
  );
}

/** Both destinations hold what PostgreSQL holds, every value (doc by md5), the whole table. */
async function expectEqualToSource(): Promise<void> {
  const expected = await sourceRows(db, DOCS, columns);
  const fromDuck = (await duck.query(duckdbSelect(DOCS, columns))).map((o) =>
    columns.map((_, i) => (o[`c${i}`] === null ? null : String(o[`c${i}`]))),
  );
  expect({
    memory: diffRows(expected, memoryRows(mem, DOCS, columns)),
    duckdb: diffRows(expected, fromDuck),
  }).toEqual({ memory: NO_DIFF, duckdb: NO_DIFF });
}

it('the doc is TOASTed out of line and not resent by a key change (the premise)', async () => {
  const { rows } = await db.query<{ n: number; ext: number }>(
    `SELECT length(doc) AS n, pg_column_size(doc) AS ext FROM docs WHERE id = 1`,
  );
  expect(rows[0]!.n).toBe(102_400);
  expect(rows[0]!.ext).toBeGreaterThan(100_000); // EXTERNAL: stored uncompressed, out of line
  await expectEqualToSource();
});

it('a key change alone', async () => {
  await step('UPDATE docs SET id = 101 WHERE id = 1');
  await expectEqualToSource();
});

it('a key change, then an update of another column of the new key, in one transaction', async () => {
  await step(`UPDATE docs SET id = 102 WHERE id = 2; UPDATE docs SET name = 'renamed' WHERE id = 102`);
  await expectEqualToSource();
});

it('two key changes of the same row in one transaction (1 → 2 → 3)', async () => {
  await step('UPDATE docs SET id = 103 WHERE id = 3; UPDATE docs SET id = 203 WHERE id = 103');
  await expectEqualToSource();
});

it('a key change in one batch, then an update of the new key in a later batch', async () => {
  await step('UPDATE docs SET id = 104 WHERE id = 4');
  await step(`UPDATE docs SET name = 'later' WHERE id = 104`);
  await expectEqualToSource();
});

it('the old key inserted or updated earlier in the same transaction, then moved', async () => {
  await step(`INSERT INTO docs VALUES (30, 'new', ${BIG("'fresh'")}); UPDATE docs SET id = 130 WHERE id = 30;
              UPDATE docs SET doc = ${BIG("'rewritten'")} WHERE id = 5; UPDATE docs SET id = 105 WHERE id = 5;
              UPDATE docs SET name = 'touched' WHERE id = 6; UPDATE docs SET id = 106 WHERE id = 6`);
  await expectEqualToSource();
});

it('a chain with a key reused, a swap through a free key, and a renumbering of many rows', async () => {
  // 7 → 107, then 8 takes the freed key 7; 9 and 10 swap through 999; 11..20 all move in one statement.
  await step(`UPDATE docs SET id = 107 WHERE id = 7; UPDATE docs SET id = 7 WHERE id = 8;
              UPDATE docs SET id = 999 WHERE id = 9; UPDATE docs SET id = 9 WHERE id = 10;
              UPDATE docs SET id = 10 WHERE id = 999;
              UPDATE docs SET id = id + 1000 WHERE id BETWEEN 11 AND 20`);
  await expectEqualToSource();
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM docs WHERE doc IS NULL');
  expect(rows[0]!.n).toBe('0');
  expect(await duck.query('SELECT count(*)::INT AS n FROM public.docs WHERE doc IS NULL')).toEqual([
    { n: 0 },
  ]);
});

it('a delete of one row, then an update of another existing row (not a key change), in one transaction', async () => {
  // Delete at seq n, Update at n + 1 of the same transaction, doc untouched: the updated key existed right before.
  await step(`DELETE FROM docs WHERE id = 101; UPDATE docs SET name = 'kept' WHERE id = 102`);
  await expectEqualToSource();
  // The updated key is new in the batch (inserted earlier in the transaction), not in the target.
  await step(`INSERT INTO docs VALUES (40, 'n40', ${BIG("'forty'")}); DELETE FROM docs WHERE id = 104;
              UPDATE docs SET name = 'kept too' WHERE id = 40`);
  await expectEqualToSource();
});
