/**
 * The source issue's type matrix end to end: every DESIGN §4 type and arrays
 * of each, with edge values, from PostgreSQL through the pipeline and the
 * real snowflake-sdk into the emulator — once through the initial snapshot
 * and once through the replication stream — compared value by value with
 * PostgreSQL's own rendering; the Snowflake column types DESIGN §4 names; and
 * the documented behaviour for values a Snowflake column cannot hold:
 * unconstrained numerics (1000 digits, NaN, ±Infinity) land as exact text in
 * a VARCHAR, and the time 24:00:00 stops the pipeline with an error naming
 * the table and column instead of being changed.
 */
import './support/env.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtlError } from '../../../src/errors.js';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import {
  expectTableEqual,
  type RunningPipeline,
  startPipeline,
  TARGET_SCHEMA,
  transactionAt,
  waitForWatermark,
  watermark,
} from './support/harness.js';
import { CORE, createMatrixTypes, type MatrixColumn, OTHER, rowsOf } from './support/matrix.js';

let db: TestDatabase;
let emu: SnowflakeEmulator;
let run: RunningPipeline | undefined;

async function createMatrix(table: string, columns: readonly MatrixColumn[]): Promise<void> {
  const defs = columns.map((c) => `"${c.name}" ${c.type}`).join(', ');
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, ${defs})`);
}

beforeAll(async () => {
  db = await createTestDatabase('etl_sfe2e_types');
  emu = await startSnowflakeEmulator();
  await createMatrixTypes(db);
  await createMatrix('core', CORE);
  await createMatrix('other', OTHER);
  await db.query('CREATE TABLE clock (id int PRIMARY KEY, t time)');
  // Rows present at start travel through the snapshot.
  await db.query(`INSERT INTO core VALUES ${rowsOf(CORE, 0).join(', ')}`);
  await db.query(`INSERT INTO other VALUES ${rowsOf(OTHER, 0).join(', ')}`);
});
afterAll(async () => {
  await run?.stop().catch(() => {});
  await emu?.close();
  await db?.drop();
});

/** DESIGN §4's Snowflake type of every matrix column, as INFORMATION_SCHEMA reports it. */
const DECLARED: Record<string, string> = {
  ID: 'NUMBER(10,0)',
  B: 'BOOLEAN',
  I2: 'NUMBER(5,0)',
  I4: 'NUMBER(10,0)',
  I8: 'NUMBER(19,0)',
  F4: 'FLOAT',
  F8: 'FLOAT',
  N38: 'NUMBER(38,10)',
  N10: 'NUMBER(10,2)',
  N5: 'NUMBER(5,0)',
  N380: 'NUMBER(38,0)',
  N65: 'NUMBER(6,5)',
  NU: 'TEXT',
  T: 'TEXT',
  VC: 'TEXT',
  BP: 'TEXT',
  NM: 'TEXT',
  CI: 'TEXT',
  EN: 'TEXT',
  BY: 'BINARY',
  D: 'DATE',
  TM: 'TIME(6)',
  TS: 'TIMESTAMP_NTZ(6)',
  TZ: 'TIMESTAMP_TZ(6)',
  U: 'TEXT(36)',
  J: 'VARIANT',
  JB: 'VARIANT',
  DN: 'NUMBER(10,2)',
  DP: 'NUMBER(10,0)',
};
for (const c of CORE) if (c.array) DECLARED[c.name.toUpperCase()] = 'ARRAY';

async function declaredTypes(table: string): Promise<Record<string, string>> {
  const rows = await emu.query(
    `SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH, DATETIME_PRECISION
       FROM "${emu.database}".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = '${TARGET_SCHEMA}' AND TABLE_NAME = '${table}'`,
  );
  return Object.fromEntries(
    rows.map((r) => {
      const t = r.DATA_TYPE ?? '';
      const shown =
        t === 'NUMBER'
          ? `NUMBER(${r.NUMERIC_PRECISION},${r.NUMERIC_SCALE})`
          : t === 'TEXT' && r.CHARACTER_MAXIMUM_LENGTH !== '16777216'
            ? `TEXT(${r.CHARACTER_MAXIMUM_LENGTH})`
            : /^(TIME|TIMESTAMP)/.test(t)
              ? `${t}(${r.DATETIME_PRECISION})`
              : t;
      return [r.COLUMN_NAME ?? '', shown];
    }),
  );
}

describe('type matrix into Snowflake', () => {
  it('snapshot and stream: every table equals the source value by value', async () => {
    run = await startPipeline({
      name: 'types',
      url: db.url,
      emu,
      tables: ['public.core', 'public.other', 'public.clock'],
    });
    // Rows changed after start travel through the stream (binary mode for core, text for other).
    const last = await transactionAt(
      db.url,
      `INSERT INTO core VALUES ${rowsOf(CORE, 100).join(', ')}; INSERT INTO other VALUES ${rowsOf(OTHER, 100).join(', ')}`,
    );
    await waitForWatermark(emu, run, last);
    await expectTableEqual(db.url, emu, 'public.core');
    await expectTableEqual(db.url, emu, 'public.other');
    expect(run.errors).toEqual([]);
  });

  it('creates every column with the Snowflake type of DESIGN §4', async () => {
    const declared = await declaredTypes('CORE');
    const userColumns = Object.fromEntries(
      Object.entries(declared).filter(([name]) => !name.startsWith('_ETL_')),
    );
    expect(userColumns).toEqual(DECLARED);
    expect(declared).toMatchObject({ _ETL_LSN: 'NUMBER(20,0)', _ETL_SYNCED_AT: 'TIMESTAMP_TZ(6)' });
  });

  it('keeps unconstrained numerics Snowflake NUMBER cannot hold as their exact text', async () => {
    const rows = await emu.query(
      `SELECT "ID", "NU" FROM "${emu.database}"."${TARGET_SCHEMA}"."CORE" WHERE "ID" IN (0, 1, 2, 3, 4, 101) ORDER BY "ID"`,
    );
    expect(rows).toEqual([
      { ID: '0', NU: `0.${'0'.repeat(29)}1` },
      { ID: '1', NU: '9'.repeat(1000) },
      { ID: '2', NU: 'NaN' },
      { ID: '3', NU: 'Infinity' },
      { ID: '4', NU: '-Infinity' },
      { ID: '101', NU: '9'.repeat(1000) },
    ]);
  });

  it('stops with an error naming the table and column on a time Snowflake cannot hold (24:00:00)', async () => {
    const active = run!;
    const fine = await transactionAt(db.url, `INSERT INTO clock VALUES (1, '23:59:59.999999')`);
    await waitForWatermark(emu, active, fine);
    const failed = active.pipeline.wait().then(
      () => undefined,
      (err: unknown) => err as EtlError,
    );
    const midnight = await transactionAt(db.url, `INSERT INTO clock VALUES (2, '24:00:00')`);
    const err = await Promise.race([
      failed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the pipeline did not stop on 24:00:00')), 30_000),
      ),
    ]);
    expect(err?.code).toBe('VALUE_UNREPRESENTABLE');
    expect(err?.message).toContain('"t" of public.clock');
    expect(err?.message).toContain('24:00:00');
    expect(err?.retryable).toBe(false);
    // Nothing of that transaction was applied, and the earlier one stays.
    expect((await watermark(emu, 'types'))! < midnight).toBe(true);
    expect(
      await emu.query(
        `SELECT CAST("ID" AS VARCHAR) AS "ID", "T" FROM "${emu.database}"."${TARGET_SCHEMA}"."CLOCK" ORDER BY "ID"`,
      ),
    ).toEqual([{ ID: '1', T: '86399.999999000' }]);
  });
});
