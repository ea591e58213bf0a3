/**
 * The type matrix through the whole source: every type of DESIGN §4 (and
 * arrays of each) with its edge values, as snapshot rows (COPY) and as
 * streamed rows (pgoutput), in binary and in text mode, compared value by
 * value with PostgreSQL's own rendering of the same rows.
 */

import type { RecordBatch } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeOp, OP_COLUMN } from '../../../src/change/metadata-columns.js';
import type { PostgresSourceOptions } from '../../../src/postgres/postgres-options.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import {
  CORE,
  createMatrixSql,
  createMatrixTypes,
  expectedRows,
  type MatrixColumn,
  matrixProblems,
  matrixRows,
  OTHER,
} from '../decoder/type-matrix-cases.js';
import { TestConsumer } from './consumer.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_matrix');
  await createMatrixTypes((sql) => db.query(sql));
  await db.query(createMatrixSql('core', CORE));
  await db.query(createMatrixSql('other', OTHER));
  await db.query(`INSERT INTO core VALUES ${matrixRows(CORE).join(', ')}`);
  await db.query(`INSERT INTO other VALUES ${matrixRows(OTHER).join(', ')}`);
});

afterAll(async () => {
  await db?.drop();
});

/** The rows of `table` with op `op` in the batches, as one record batch (they come in one). */
function rowsWithOp(c: TestConsumer, table: string, op: number): RecordBatch {
  const found = c.pulled
    .map((b) => b.rowsOf(`public.${table}`)?.data)
    .filter(
      (rb): rb is RecordBatch => rb !== undefined && rb.numRows > 0 && rb.getChild(OP_COLUMN)?.get(0) === op,
    );
  expect(found, `one batch of ${table} rows with op ${op}`).toHaveLength(1);
  return found[0]!;
}

/**
 * Starts a source on `table` (snapshot of the rows there), then inserts the
 * matrix again with ids from `streamFrom` (streamed), and compares both.
 */
async function check(
  table: string,
  columns: MatrixColumn[],
  streamFrom: number,
  options: Partial<PostgresSourceOptions> & { slot: string },
  wire: 'true' | 'false',
): Promise<void> {
  const c = new TestConsumer(
    { connectionString: db.url, tables: [`public.${table}`], ...options },
    { batch: { maxRows: 100_000, maxBytes: 1 << 30, maxDelayMs: 50 }, apply: false },
  );
  try {
    await c.drainUntil(() => c.lastConfirmed !== undefined && c.lastConfirmed.snapshot === undefined);
    const snapshot = rowsWithOp(c, table, ChangeOp.Read);
    expect(
      matrixProblems(snapshot, columns, await expectedRows(db.url, table, columns, `id < ${streamFrom}`)),
    ).toEqual([]);
    await db.query(`INSERT INTO ${table} VALUES ${matrixRows(columns, streamFrom).join(', ')}`);
    await c.drainUntil(() =>
      c.pulled.some((b) => b.rowsOf(`public.${table}`)?.data.getChild(OP_COLUMN)?.get(0) === ChangeOp.Insert),
    );
    const streamed = rowsWithOp(c, table, ChangeOp.Insert);
    // The mode really used on the wire, as the walsender shows the command it runs.
    const { rows } = await db.query<{ query: string }>(
      `SELECT query FROM pg_stat_activity WHERE backend_type = 'walsender' AND query LIKE $1`,
      [`START_REPLICATION SLOT "${options.slot}"%`],
    );
    expect(rows.map((r) => r.query.includes(`binary '${wire}'`))).toEqual([true]);
    expect(
      matrixProblems(streamed, columns, await expectedRows(db.url, table, columns, `id >= ${streamFrom}`)),
    ).toEqual([]);
  } finally {
    await c.stop();
  }
}

describe('PostgresSource type matrix', () => {
  it('binary mode: snapshot rows and streamed rows equal PostgreSQL’s rendering', async () => {
    await check('core', CORE, 1000, { slot: 'matrix_bin', publication: 'matrix_bin', binary: true }, 'true');
  }, 60_000);

  it('text mode: snapshot rows and streamed rows equal PostgreSQL’s rendering', async () => {
    await check(
      'core',
      CORE,
      2000,
      { slot: 'matrix_text', publication: 'matrix_text', binary: false },
      'false',
    );
  }, 60_000);

  it('types without a binary decoder: text in both paths, equal to PostgreSQL’s rendering', async () => {
    await check('other', OTHER, 1000, { slot: 'matrix_other', publication: 'matrix_other' }, 'false');
  }, 60_000);
});
