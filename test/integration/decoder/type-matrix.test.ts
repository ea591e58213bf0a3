/**
 * Every type of DESIGN §4 (and arrays of each) with edge values, decoded from
 * a real pgoutput stream in text and binary mode, compared value by value with
 * PostgreSQL's own rendering of the same row. (The source's snapshot and
 * stream paths: test/integration/postgres-source/type-matrix.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryModeSupported } from '../../../src/arrow/column-codec.js';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { captureChanges } from './stream-helper.js';
import {
  CORE,
  createMatrixSql,
  createMatrixTypes,
  expectedRows,
  type MatrixColumn,
  matrixProblems,
  matrixRows,
  OTHER,
} from './type-matrix-cases.js';

let db: TestDatabase;
const oids: Record<string, number> = {};

async function createMatrix(table: string, columns: MatrixColumn[]): Promise<void> {
  await db.query(createMatrixSql(table, columns));
  const { rows } = await db.query<{ oid: number }>(`SELECT '${table}'::regclass::oid::int4 AS oid`);
  oids[table] = rows[0]!.oid;
}

beforeAll(async () => {
  db = await createTestDatabase();
  await createMatrixTypes((sql) => db.query(sql));
  await createMatrix('core', CORE);
  await createMatrix('other', OTHER);
  await db.query('CREATE PUBLICATION p_core FOR TABLE core');
  await db.query('CREATE PUBLICATION p_other FOR TABLE other');
});
afterAll(async () => {
  await db?.drop();
});

function compareBatch(
  batch: ChangeBatch,
  table: string,
  columns: MatrixColumn[],
  expected: Record<string, string | null>[],
) {
  const entry = batch.rowsOf(`public.${table}`);
  expect(entry, `rows of ${table}`).toBeDefined();
  expect(matrixProblems(entry!.data, columns, expected)).toEqual([]);
}

describe('type matrix', () => {
  it('inserts the edge values', async () => {
    await db.query(`SELECT pg_create_logical_replication_slot('m_text', 'pgoutput')`);
    await db.query(`SELECT pg_create_logical_replication_slot('m_bin', 'pgoutput')`);
    await db.query(`SELECT pg_create_logical_replication_slot('m_other', 'pgoutput')`);
    await db.query(`INSERT INTO core VALUES ${matrixRows(CORE).join(', ')}`);
    await db.query(`INSERT INTO other VALUES ${matrixRows(OTHER).join(', ')}`);
  });

  for (const binary of [false, true]) {
    it(`decodes every core type exactly in ${binary ? 'binary' : 'text'} mode`, async () => {
      const cap = await captureChanges({
        url: db.url,
        slot: binary ? 'm_bin' : 'm_text',
        publication: 'p_core',
        transactions: 1,
        binary,
        tables: [oids.core!],
      });
      const schema = cap.batches[0]!.rowsOf('public.core')!.table;
      expect(binaryModeSupported(schema.columns, cap.catalog)).toBe(true);
      const types = Object.fromEntries(schema.columns.map((c) => [c.name, String(c.arrowType)]));
      expect(types).toMatchObject({
        n38: 'Decimal[38e+10]',
        nu: 'Utf8',
        en: 'Utf8',
        tz: 'Timestamp<MICROSECOND, UTC>',
        ts: 'Timestamp<MICROSECOND>',
        d: 'Date32<DAY>',
        tm: 'Time64<MICROSECOND>',
        ai4x2: 'List<List<Int32>>',
        dn: 'Decimal[10e+2]',
        dp: 'Int32',
        by: 'Binary',
      });
      compareBatch(cap.batches[0]!, 'core', CORE, await expectedRows(db.url, 'core', CORE));
    });
  }

  it('decodes the other types as their PostgreSQL text (text mode only)', async () => {
    const cap = await captureChanges({
      url: db.url,
      slot: 'm_other',
      publication: 'p_other',
      transactions: 1,
      tables: [oids.other!],
    });
    const schema = cap.batches[0]!.rowsOf('public.other')!.table;
    expect(binaryModeSupported(schema.columns, cap.catalog)).toBe(false);
    compareBatch(cap.batches[0]!, 'other', OTHER, await expectedRows(db.url, 'other', OTHER));
  });
});
