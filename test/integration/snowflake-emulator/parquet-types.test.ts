/**
 * A Parquet file written (by the project's encoder) from Arrow data holding
 * every type of DESIGN §4 is PUT through the driver, COPY'd with
 * MATCH_BY_COLUMN_NAME into a table of the Snowflake types §4 names, and
 * read back through the driver: each value compared with the Arrow input.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  makeData,
  makeVector,
  Table,
  TimeMicrosecond,
  TimestampMicrosecond,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ParquetEncoder } from '../../../src/arrow/parquet-encoder.js';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { type Conn, connect } from './driver.js';

let emu: SnowflakeEmulator;
let c: Conn;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etl-sfemu-types-'));
  emu = await startSnowflakeEmulator();
  c = await connect(emu);
});
afterAll(async () => {
  await c?.close();
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});

const micros = (type: TimeMicrosecond | TimestampMicrosecond, values: (bigint | null)[]) =>
  makeVector(
    makeData({
      type: type as TimestampMicrosecond,
      length: values.length,
      data: new BigInt64Array(values.map((v) => v ?? 0n)),
      nullBitmap: new Uint8Array([values.reduce((m, v, i) => m | (v === null ? 0 : 1 << i), 0)]),
      nullCount: values.filter((v) => v === null).length,
    }),
  );

const dec = new Decimal(2, 12, 128);
const dec38 = new Decimal(9, 38, 128);
/** Decimal128 words (little-endian 32-bit) of an unscaled value. */
function words(values: bigint[]): Uint32Array {
  const out = new Uint32Array(values.length * 4);
  values.forEach((v, i) => {
    let x = BigInt.asUintN(128, v);
    for (let w = 0; w < 4; w++) {
      out[i * 4 + w] = Number(x & 0xffffffffn);
      x >>= 32n;
    }
  });
  return out;
}
const enumType = new Dictionary(new Utf8(), new Int32());
const listType = new List(new Field('item', new Int64(), true));

/** name, Snowflake type (DESIGN §4), Arrow vector, and the text the driver must return per row. */
const cases: [string, string, Vector, (string | null)[]][] = [
  ['B', 'BOOLEAN', vectorFromArray([true, false, null], new Bool()), ['TRUE', 'FALSE', null]],
  ['I2', 'NUMBER(5,0)', vectorFromArray([-32768, 32767, null], new Int16()), ['-32768', '32767', null]],
  [
    'I4',
    'NUMBER(10,0)',
    vectorFromArray([-2147483648, 2147483647, null], new Int32()),
    ['-2147483648', '2147483647', null],
  ],
  [
    'I8',
    'NUMBER(19,0)',
    vectorFromArray([-9223372036854775808n, 9223372036854775807n, null], new Int64()),
    ['-9223372036854775808', '9223372036854775807', null],
  ],
  ['F4', 'FLOAT', vectorFromArray([1.5, -0.25, null], new Float32()), ['1.5', '-0.25', null]],
  [
    'F8',
    'FLOAT',
    vectorFromArray([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], new Float64()),
    ['NaN', 'inf', '-inf'],
  ],
  [
    'N',
    'NUMBER(12,2)',
    makeVector(makeData({ type: dec, length: 3, data: words([12345n, -1n, 999999999999n]) })),
    ['123.45', '-0.01', '9999999999.99'],
  ],
  [
    'N38',
    'NUMBER(38,9)',
    makeVector(
      makeData({ type: dec38, length: 3, data: words([99999999999999999999999999999999999999n, -1n, 0n]) }),
    ),
    ['99999999999999999999999999999.999999999', '-0.000000001', '0.000000000'],
  ],
  [
    'NU',
    'VARCHAR',
    vectorFromArray(['123456789012345678901234567890.123456789012', 'NaN', null], new Utf8()),
    ['123456789012345678901234567890.123456789012', 'NaN', null],
  ],
  [
    'T',
    'VARCHAR',
    vectorFromArray(['日本語 🚀 \'q\' "dq" \\ \n', '', null], new Utf8()),
    ['日本語 🚀 \'q\' "dq" \\ \n', '', null],
  ],
  ['E', 'VARCHAR', vectorFromArray(['happy', 'sad', null], enumType), ['happy', 'sad', null]],
  [
    'BYTES',
    'BINARY',
    vectorFromArray([new Uint8Array([0, 255, 1, 35]), new Uint8Array([]), null], new Binary()),
    ['00FF0123', '', null],
  ],
  [
    'D',
    'DATE',
    makeVector(makeData({ type: new DateDay(), length: 3, data: new Int32Array([19723, -1, -719162]) })),
    ['2024-01-01', '1969-12-31', '0001-01-01'],
  ],
  [
    'TM',
    'TIME(6)',
    micros(new TimeMicrosecond(), [3723000001n, 86399999999n, null]),
    ['01:02:03.000001', '23:59:59.999999', null],
  ],
  [
    'TS',
    'TIMESTAMP_NTZ(6)',
    micros(new TimestampMicrosecond(), [1704067200123456n, -1n, null]),
    ['2024-01-01 00:00:00.123456', '1969-12-31 23:59:59.999999', null],
  ],
  [
    'TZ',
    'TIMESTAMP_TZ(6)',
    micros(new TimestampMicrosecond('UTC'), [1704067200123456n, 0n, null]),
    ['2024-01-01 00:00:00.123456 +0000', '1970-01-01 00:00:00.000000 +0000', null],
  ],
  [
    'U',
    'VARCHAR(36)',
    vectorFromArray(
      ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', null, '00000000-0000-0000-0000-000000000000'],
      new Utf8(),
    ),
    ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', null, '00000000-0000-0000-0000-000000000000'],
  ],
  [
    'J',
    'VARIANT',
    vectorFromArray(['{"big": 12345678901234567890123, "a": [1, "x"]}', 'null', null], new Utf8()),
    ['"{\\"big\\": 12345678901234567890123, \\"a\\": [1, \\"x\\"]}"', '"null"', null],
  ],
  [
    'ARR',
    'ARRAY',
    vectorFromArray([[9223372036854775807n, null], [], null], listType),
    ['[9223372036854775807,null]', '[]', null],
  ],
  [
    'IV',
    'VARCHAR',
    vectorFromArray(['1 day 02:00:00', null, '-00:00:01'], new Utf8()),
    ['1 day 02:00:00', null, '-00:00:01'],
  ],
];

it('PUTs, COPYs and reads back every DESIGN §4 type with its values intact', async () => {
  const encoder = new ParquetEncoder({ threads: 1 });
  const table = new Table(
    Object.fromEntries([
      ['ROW_NO', vectorFromArray([1, 2, 3], new Int32())],
      ...cases.map(([n, , v]) => [n.toLowerCase(), v]),
    ]),
  );
  const file = join(dir, 'types.parquet');
  await writeFile(file, await encoder.encode(table));
  await encoder.close();

  await c.exec(
    `CREATE OR REPLACE TABLE matrix (ROW_NO NUMBER(10,0), ${cases.map(([n, t]) => `${n} ${t}`).join(', ')})`,
  );
  await c.exec('CREATE OR REPLACE STAGE types_stage');
  await c.exec(`PUT 'file://${file}' @types_stage/run1/ AUTO_COMPRESS = FALSE OVERWRITE = TRUE`);
  const copied = await c.exec(
    "COPY INTO matrix FROM @types_stage/run1/ FILES = ('types.parquet') FILE_FORMAT = (TYPE = PARQUET BINARY_AS_TEXT = FALSE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE",
  );
  expect(copied).toMatchObject([{ status: 'LOADED', rows_loaded: 3 }]);

  await c.exec(
    "ALTER SESSION SET TIME_OUTPUT_FORMAT = 'HH24:MI:SS.FF6', TIMESTAMP_NTZ_OUTPUT_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF6', " +
      "TIMESTAMP_TZ_OUTPUT_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF6 TZHTZM'",
  );
  const select = cases.map(([n, t]) => (t === 'VARIANT' || t === 'ARRAY' ? `TO_VARCHAR(${n}) AS ${n}` : n));
  const rows = await c.text(`SELECT ${select.join(', ')} FROM matrix ORDER BY ROW_NO`);
  expect(rows).toHaveLength(3);
  for (const [name, type, vector, expected] of cases) {
    for (let r = 0; r < 3; r++) {
      const got = rows[r]![name];
      const want = expected[r] ?? null;
      expect(
        got === 'NULL' ? null : got,
        `${name} ${type} row ${r + 1} (Arrow ${String(vector.get(r))})`,
      ).toBe(want);
    }
  }
  // Exact numbers also come back as JS values where they fit.
  const [first] = await c.exec('SELECT I4, F4, B FROM matrix WHERE ROW_NO = 1');
  expect(first).toEqual({ I4: -2147483648, F4: 1.5, B: true });
});
