import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Binary,
  Bool,
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
  TimeMicrosecond,
  TimestampMicrosecond,
  Utf8,
} from 'apache-arrow';
import { afterAll, expect, it } from 'vitest';
import { duckdb } from '../../../src/destinations/duckdb/duckdb-destination.js';
import { batch, change, col, rows, table } from './change-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'etl-duckdb-types-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ALL_TYPES = table('public', 'all_types', [
  col('id', 'integer', new Int32(), true),
  col('b', 'boolean', new Bool()),
  col('i2', 'smallint', new Int16()),
  col('i8', 'bigint', new Int64()),
  col('f4', 'real', new Float32()),
  col('f8', 'double precision', new Float64()),
  col('n', 'numeric(38,6)', new Decimal(6, 38, 128)),
  col('t', 'text', new Utf8()),
  col('mood', 'mood', new Dictionary(new Utf8(), new Int32())),
  col('bin', 'bytea', new Binary()),
  col('d', 'date', new DateDay()),
  col('tm', 'time', new TimeMicrosecond()),
  col('ts', 'timestamp', new TimestampMicrosecond()),
  col('tstz', 'timestamptz', new TimestampMicrosecond('UTC')),
  col('ints', 'integer[]', new List(new Field('item', new Int32(), true))),
  col('texts', 'text[]', new List(new Field('item', new Utf8(), true))),
]);

it('maps every DESIGN §4 type and keeps values exact', async () => {
  const dest = duckdb({ path: join(dir, 'types.duckdb') });
  await dest.open({ pipeline: 'types', signal: new AbortController().signal, emit: () => {} });
  const full = {
    id: 1,
    b: true,
    i2: -32768,
    i8: 9223372036854775807n,
    f4: 1.5,
    f8: Number.NaN,
    n: '-12345678901234567890123456789012.123456',
    t: 'héllo "quoted"',
    mood: 'happy',
    bin: new Uint8Array([0, 255, 16]),
    d: Date.UTC(2024, 1, 29),
    tm: 86_399_999_999n,
    ts: 1_700_000_000_123_456n,
    tstz: -1n,
    ints: [1, null, 3],
    texts: ['a', 'b'],
  };
  await dest.write(batch(1n, 2n, [rows(ALL_TYPES, [change.ins(2n, full), change.ins(2n, { id: 2 })])]), {
    signal: new AbortController().signal,
  });
  const types = await dest.query(
    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'all_types' ORDER BY column_index",
  );
  expect(Object.fromEntries(types.map((r) => [r.column_name, r.data_type]))).toEqual({
    id: 'INTEGER',
    b: 'BOOLEAN',
    i2: 'SMALLINT',
    i8: 'BIGINT',
    f4: 'FLOAT',
    f8: 'DOUBLE',
    n: 'DECIMAL(38,6)',
    t: 'VARCHAR',
    mood: 'VARCHAR',
    bin: 'BLOB',
    d: 'DATE',
    tm: 'TIME',
    ts: 'TIMESTAMP',
    tstz: 'TIMESTAMP WITH TIME ZONE',
    ints: 'INTEGER[]',
    texts: 'VARCHAR[]',
    _etl_lsn: 'UBIGINT',
    _etl_synced_at: 'TIMESTAMP WITH TIME ZONE',
  });
  const values = await dest.query(
    `SET TimeZone = 'UTC'; SELECT id, b, i2, i8::VARCHAR AS i8, f4, f8::VARCHAR AS f8, n::VARCHAR AS n, t, mood, hex(bin) AS bin,
       d::VARCHAR AS d, tm::VARCHAR AS tm, ts::VARCHAR AS ts, tstz::VARCHAR AS tstz, ints, texts
     FROM public.all_types ORDER BY id`,
  );
  expect(values).toEqual([
    {
      id: 1,
      b: true,
      i2: -32768,
      i8: '9223372036854775807',
      f4: 1.5,
      f8: 'nan',
      n: '-12345678901234567890123456789012.123456',
      t: 'héllo "quoted"',
      mood: 'happy',
      bin: '00FF10',
      d: '2024-02-29',
      tm: '23:59:59.999999',
      ts: '2023-11-14 22:13:20.123456',
      tstz: '1969-12-31 23:59:59.999999+00',
      ints: [1, null, 3],
      texts: ['a', 'b'],
    },
    {
      id: 2,
      b: null,
      i2: null,
      i8: null,
      f4: null,
      f8: null,
      n: null,
      t: null,
      mood: null,
      bin: null,
      d: null,
      tm: null,
      ts: null,
      tstz: null,
      ints: null,
      texts: null,
    },
  ]);
  await dest.close();
});
