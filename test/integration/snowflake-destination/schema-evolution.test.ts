import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DataType,
  Field,
  Int32,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Uint8,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChangeBatch } from '../../../src/change/change-batch.js';
import type { ColumnSchema, TableSchema } from '../../../src/change/table-schema.js';
import { snowflake } from '../../../src/destinations/snowflake/snowflake-destination.js';
import type { SnowflakeOptions } from '../../../src/destinations/snowflake/snowflake-options.js';
import type { DestinationContext } from '../../../src/pipeline/destination.js';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { emulatorTarget, rowsOf } from './support/emulator.js';

let emu: SnowflakeEmulator;
let dir: string;
const ctx: DestinationContext = { pipeline: 'evo', signal: new AbortController().signal, emit: () => {} };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etl-sfevo-'));
  emu = await startSnowflakeEmulator();
});
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  for (const t of ['T', 'T__ETL_STAGING'])
    await emu.query(`DROP TABLE IF EXISTS "DB"."PG"."${t}"`).catch(() => {});
});

const destination = (extra: Partial<SnowflakeOptions> = {}) =>
  snowflake(emulatorTarget(emu, { tempDir: dir, ...extra }));

function col(name: string, typeName: string, arrowType: DataType, key = false): ColumnSchema {
  return { name, typeOid: 0, typeName, typeModifier: -1, arrowType, nullable: !key, key };
}

function table(columns: ColumnSchema[]): TableSchema {
  return { id: 1, schema: 'public', name: 't', columns, primaryKey: ['id'], replicaIdentity: 'default' };
}

/** One insert per row; values given per column in order. */
function batch(t: TableSchema, rows: unknown[][], lsn: bigint): ChangeBatch {
  const unchanged = new List(new Field('item', new Utf8(), true));
  const fields = [
    ...t.columns.map((c) => new Field(c.name, c.arrowType, true)),
    new Field('_etl_op', new Uint8(), false),
    new Field('_etl_lsn', new Uint64(), false),
    new Field('_etl_seq', new Uint32(), false),
    new Field('_etl_unchanged', unchanged, true),
  ];
  const vectors = [
    ...t.columns.map((c, i) => vectorFromArray(rows.map((r) => r[i]) as never[], c.arrowType)),
    vectorFromArray(
      rows.map(() => 0),
      new Uint8(),
    ),
    vectorFromArray(
      rows.map(() => lsn),
      new Uint64(),
    ),
    vectorFromArray(
      rows.map((_, i) => i),
      new Uint32(),
    ),
    vectorFromArray(
      rows.map(() => null),
      unchanged,
    ),
  ];
  const data = makeData({
    type: new Struct(fields),
    length: rows.length,
    nullCount: 0,
    children: vectors.map((v) => v.data[0]!),
  });
  return new ChangeBatch({
    firstLsn: lsn,
    checkpoint: { lsn: lsn + 1n, commitLsn: lsn },
    transactions: 1,
    lastCommitTimeUs: 0n,
    entries: [{ kind: 'rows', table: t, data: new RecordBatch(new Schema(fields), data) }],
  });
}

/** The target table's columns as Snowflake describes them: name, DATA_TYPE, precision, scale. */
async function columns(): Promise<(string | null)[][]> {
  return rowsOf(
    emu,
    "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'PG' AND TABLE_NAME = 'T' ORDER BY ORDINAL_POSITION",
  );
}

const v1 = table([col('id', 'integer', new Int32(), true), col('note', 'text', new Utf8())]);

describe('schema evolution', () => {
  it('adds new columns, widens int4 to int8, keeps dropped columns', async () => {
    const dest = destination();
    await dest.open(ctx);
    await dest.write(batch(v1, [[1, 'one']], 10n), { signal: ctx.signal });
    const v2 = table([col('id', 'bigint', new Int64(), true), col('extra', 'text', new Utf8())]);
    await dest.write(batch(v2, [[2n, 'x']], 20n), { signal: ctx.signal });
    expect(await columns()).toEqual([
      ['ID', 'NUMBER', '19', '0'],
      ['NOTE', 'TEXT', null, null],
      ['_ETL_LSN', 'NUMBER', '20', '0'],
      ['_ETL_SYNCED_AT', 'TIMESTAMP_TZ', null, null],
      ['EXTRA', 'TEXT', null, null],
    ]);
    expect(
      await rowsOf(emu, 'SELECT CAST("ID" AS VARCHAR), "NOTE", "EXTRA" FROM "PG"."T" ORDER BY 1'),
    ).toEqual([
      ['1', 'one', null],
      ['2', null, 'x'],
    ]);
    await dest.close();
  });

  it('drops removed columns with droppedColumns: "drop"', async () => {
    const dest = destination({ droppedColumns: 'drop' });
    await dest.open(ctx);
    await dest.write(batch(v1, [[1, 'one']], 10n), { signal: ctx.signal });
    await dest.write(batch(table([col('id', 'integer', new Int32(), true)]), [[2]], 20n), {
      signal: ctx.signal,
    });
    expect((await columns()).map((c) => c[0])).toEqual(['ID', '_ETL_LSN', '_ETL_SYNCED_AT']);
    await dest.close();
  });

  it('a type Snowflake cannot convert in place fails naming the table and column', async () => {
    const dest = destination();
    await dest.open(ctx);
    await dest.write(batch(v1, [[1, 'one']], 10n), { signal: ctx.signal });
    const v3 = table([col('id', 'integer', new Int32(), true), col('note', 'integer', new Int32())]);
    const err = await dest.write(batch(v3, [[2, 5]], 20n), { signal: ctx.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'SNOWFLAKE',
      retryable: false,
      details: { table: 'public.t', column: 'NOTE' },
    });
    expect(String((err as Error).message)).toMatch(/Column "NOTE" of public\.t .*NUMBER\(10,0\).*VARCHAR/);
    await dest.close();
  });

  it('a table without a primary key is an error unless tablesWithoutKey: "append"', async () => {
    const dest = destination();
    await dest.open(ctx);
    const keyless = { ...v1, primaryKey: [], columns: v1.columns.map((c) => ({ ...c, key: false })) };
    await expect(dest.write(batch(keyless, [[1, 'a']], 10n), { signal: ctx.signal })).rejects.toMatchObject({
      code: 'PG_NO_REPLICA_IDENTITY',
      retryable: false,
      hint: expect.stringMatching(/tablesWithoutKey/),
    });
    await dest.close();
  });
});
