/**
 * Every Arrow type the source produces (DESIGN §4) goes through staging,
 * Parquet, COPY and the MERGE conversions, and reads back value for value
 * through the real snowflake-sdk into the Snowflake emulator.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Binary,
  Bool,
  type DataType,
  DateDay,
  Decimal,
  Dictionary,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  List,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  TimeMicrosecond,
  TimestampMicrosecond,
  Uint8,
  Uint32,
  Uint64,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChangeBatch } from '../../../src/change/change-batch.js';
import type { ColumnSchema, TableSchema } from '../../../src/change/table-schema.js';
import { snowflake } from '../../../src/destinations/snowflake/snowflake-destination.js';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { emulatorTarget, rowsOf } from './support/emulator.js';

let emu: SnowflakeEmulator;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etl-sftypes-'));
  emu = await startSnowflakeEmulator();
});
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});

const micros = (type: DataType, values: bigint[], valid = values.map(() => true)) =>
  makeVector(
    makeData({
      type: type as TimestampMicrosecond,
      length: values.length,
      data: new BigInt64Array(values),
      nullBitmap: new Uint8Array([valid.reduce((m, v, i) => m | (v ? 1 << i : 0), 0)]),
      nullCount: valid.filter((v) => !v).length,
    }),
  );

const decimal = new Decimal(2, 12, 128);
const enumType = new Dictionary(new Utf8(), new Int32());
const columns: [string, string, DataType, Vector][] = [
  ['id', 'integer', new Int32(), vectorFromArray([1, 2], new Int32())],
  ['b', 'boolean', new Bool(), vectorFromArray([true, null], new Bool())],
  ['i2', 'smallint', new Int16(), vectorFromArray([-32768, 32767], new Int16())],
  ['i8', 'bigint', new Int64(), vectorFromArray([9223372036854775807n, -9223372036854775808n], new Int64())],
  ['f4', 'real', new Float32(), vectorFromArray([1.5, -0.25], new Float32())],
  [
    'f8',
    'double precision',
    new Float64(),
    vectorFromArray([Number.NaN, Number.POSITIVE_INFINITY], new Float64()),
  ],
  [
    'n',
    'numeric(12,2)',
    decimal,
    makeVector(
      makeData({
        type: decimal,
        length: 2,
        data: new Uint32Array([12345, 0, 0, 0, 4294967295, 4294967295, 4294967295, 4294967295]),
      }),
    ),
  ],
  [
    'nu',
    'numeric',
    new Utf8(),
    vectorFromArray(['123456789012345678901234567890.123456789', null], new Utf8()),
  ],
  ['t', 'text', new Utf8(), vectorFromArray(['日本語 🚀 \'quote\' "dq"', ''], new Utf8())],
  ['u', 'uuid', new Utf8(), vectorFromArray(['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', null], new Utf8())],
  [
    'j',
    'jsonb',
    new Utf8(),
    vectorFromArray(['{"big": 12345678901234567890123, "a": [1, "x"]}', 'null'], new Utf8()),
  ],
  [
    'by',
    'bytea',
    new Binary(),
    vectorFromArray([new Uint8Array([0, 255, 1, 35]), new Uint8Array([])], new Binary()),
  ],
  [
    'd',
    'date',
    new DateDay(),
    makeVector(makeData({ type: new DateDay(), length: 2, data: new Int32Array([19723, -1]) })),
  ],
  [
    'tm',
    'time without time zone',
    new TimeMicrosecond(),
    micros(new TimeMicrosecond(), [3723000001n, 86399999999n]),
  ],
  [
    'ts',
    'timestamp without time zone',
    new TimestampMicrosecond(),
    micros(new TimestampMicrosecond(), [1704067200123456n, -1n]),
  ],
  [
    'tz',
    'timestamp with time zone',
    new TimestampMicrosecond('UTC'),
    micros(new TimestampMicrosecond('UTC'), [1704067200123456n, 0n], [true, false]),
  ],
  [
    'arr',
    'bigint[]',
    new List(new Field('item', new Int64(), true)),
    vectorFromArray([[9223372036854775807n, null], []], new List(new Field('item', new Int64(), true))),
  ],
  ['e', 'mood', enumType, vectorFromArray(['happy', 'sad'], enumType)],
  ['iv', 'interval', new Utf8(), vectorFromArray(['1 day 02:00:00', null], new Utf8())],
];

it('round-trips the type matrix value for value', async () => {
  const cols: ColumnSchema[] = columns.map(([name, typeName, arrowType]) => ({
    name,
    typeOid: 0,
    typeName,
    typeModifier: -1,
    arrowType,
    nullable: name !== 'id',
    key: name === 'id',
  }));
  const table: TableSchema = {
    id: 9,
    schema: 'public',
    name: 'matrix',
    columns: cols,
    primaryKey: ['id'],
    replicaIdentity: 'default',
  };
  const unchanged = new List(new Field('item', new Utf8(), true));
  const fields = [
    ...cols.map((c) => new Field(c.name, c.arrowType, true)),
    new Field('_etl_op', new Uint8()),
    new Field('_etl_lsn', new Uint64()),
    new Field('_etl_seq', new Uint32()),
    new Field('_etl_unchanged', unchanged, true),
  ];
  const vectors = [
    ...columns.map((c) => c[3]),
    vectorFromArray([0, 0], new Uint8()),
    vectorFromArray([7n, 7n], new Uint64()),
    vectorFromArray([0, 1], new Uint32()),
    vectorFromArray([null, null], unchanged),
  ];
  const data = makeData({
    type: new Struct(fields),
    length: 2,
    nullCount: 0,
    children: vectors.map((v) => v.data[0]!),
  });
  const batch = new ChangeBatch({
    firstLsn: 7n,
    checkpoint: { lsn: 8n, commitLsn: 7n },
    transactions: 1,
    lastCommitTimeUs: 0n,
    entries: [{ kind: 'rows', table, data: new RecordBatch(new Schema(fields), data) }],
  });
  const dest = snowflake(emulatorTarget(emu, { tempDir: dir }));
  const signal = new AbortController().signal;
  await dest.open({ pipeline: 'types', signal, emit: () => {} });
  await dest.write(batch, { signal });
  await dest.close();
  const select = columns.map(([name]) =>
    name === 'by'
      ? `HEX_ENCODE("BY")`
      : name === 'tz'
        ? `TO_VARCHAR("TZ", 'YYYY-MM-DD HH24:MI:SS.FF6')`
        : `CAST("${name.toUpperCase()}" AS VARCHAR)`,
  );
  const r = await rowsOf(emu, `SELECT ${select.join(', ')} FROM "PG"."MATRIX" ORDER BY "ID"`);
  const rows = r.map((row) => Object.fromEntries(row.map((v, i) => [columns[i]![0], v])));
  expect(rows[0]).toEqual({
    id: '1',
    b: 'true',
    i2: '-32768',
    i8: '9223372036854775807',
    f4: '1.5',
    f8: 'nan',
    n: '123.45',
    nu: '123456789012345678901234567890.123456789',
    t: '日本語 🚀 \'quote\' "dq"',
    u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    j: '{"big": 12345678901234567890123, "a": [1, "x"]}', // JSON text intact, big number exact
    by: '00FF0123',
    d: '2024-01-01',
    tm: '01:02:03.000001',
    ts: '2024-01-01 00:00:00.123456',
    tz: '2024-01-01 00:00:00.123456',
    arr: '[9223372036854775807,null]',
    e: 'happy',
    iv: '1 day 02:00:00',
  });
  expect(rows[1]).toEqual({
    id: '2',
    b: null,
    i2: '32767',
    i8: '-9223372036854775808',
    f4: '-0.25',
    f8: 'inf',
    n: '-0.01',
    nu: null,
    t: '',
    u: null,
    j: 'null',
    by: '',
    d: '1969-12-31',
    tm: '23:59:59.999999',
    ts: '1969-12-31 23:59:59.999999',
    tz: null,
    arr: '[]',
    e: 'sad',
    iv: null,
  });
});
