/**
 * The type matrix of DESIGN §4: every type (and arrays of each) with edge
 * values, and the test-side comparison of decoded Arrow values with
 * PostgreSQL's own rendering of the same rows. Shared by the decoder test
 * (pgoutput, text and binary) and the source test (snapshot and stream).
 */
import type { RecordBatch } from 'apache-arrow';
import pg from 'pg';
import { compareScalar, flattenList, parseArrayDims } from './pg-rendering.js';

/** One column of the matrix: its type and the SQL expressions of its values (row i gets values[i] or NULL). */
export interface MatrixColumn {
  name: string;
  type: string;
  values: string[];
  array?: boolean;
}

export const CORE: MatrixColumn[] = [
  { name: 'b', type: 'bool', values: ['true', 'false'] },
  { name: 'i2', type: 'int2', values: ['-32768', '32767', '0'] },
  { name: 'i4', type: 'int4', values: ['-2147483648', '2147483647', '0'] },
  {
    name: 'i8',
    type: 'int8',
    values: ['-9223372036854775808', '9223372036854775807', '0', '9007199254740993'],
  },
  {
    name: 'f4',
    type: 'float4',
    values: ["'NaN'", "'Infinity'", "'-Infinity'", '3.4028235e38', '1.17549435e-38', '0.1', "'-0'", '1e-45'],
  },
  {
    name: 'f8',
    type: 'float8',
    values: ["'NaN'", "'Infinity'", "'-Infinity'", '1.7976931348623157e308', '5e-324', '0.1', "'-0'", '2.5'],
  },
  {
    name: 'n38',
    type: 'numeric(38,10)',
    values: [
      '0',
      '1234567890123456789012345678.1234567890',
      '-9999999999999999999999999999.9999999999',
      '0.0000000001',
      '-1.5',
    ],
  },
  { name: 'n10', type: 'numeric(10,2)', values: ['1.10', '-0.50', '12345678.90', '0', '0.01'] },
  { name: 'n5', type: 'numeric(5,0)', values: ['12345', '-99999', '0'] },
  {
    name: 'n380',
    type: 'numeric(38,0)',
    values: ['99999999999999999999999999999999999999', '-99999999999999999999999999999999999999', '10000'],
  },
  { name: 'n65', type: 'numeric(6,5)', values: ['0.00001', '-9.99999'] },
  {
    name: 'nu',
    type: 'numeric',
    values: [
      "'1e-30'",
      "repeat('9', 1000)::numeric",
      "'NaN'",
      "'Infinity'",
      "'-Infinity'",
      "'-0.000100'",
      "'12.3400'",
      '0',
      "'123456789012345678901234567890.5'",
      "'100000000'",
    ],
  },
  {
    name: 't',
    type: 'text',
    values: [
      "''",
      "'emoji 😀 and 𝄞 clef'",
      "E'quote \" backslash \\\\ tab\\t nl\\n'",
      "repeat('x', 1048576)",
      "'ünïcödé'",
    ],
  },
  { name: 'vc', type: 'varchar(10)', values: ["'abc'", "''"] },
  { name: 'bp', type: 'char(5)', values: ["'ab'", "'abcde'"] },
  { name: 'nm', type: 'name', values: ["'some_name'"] },
  { name: 'ci', type: 'citext', values: ["'MiXeD'"] },
  { name: 'en', type: 'mood', values: ["'happy'", "'sad'"] },
  { name: 'by', type: 'bytea', values: ["'\\x'", "'\\x00ff10'", "decode(repeat('00ff', 524288), 'hex')"] },
  {
    name: 'd',
    type: 'date',
    values: [
      "'2024-02-29'",
      "'0044-03-15 BC'",
      "'9999-12-31'",
      "'0001-01-01'",
      "'1970-01-01'",
      "'4713-01-01 BC'",
      "'1969-12-31'",
      "'2000-02-29'",
      "'1900-03-01'",
      "'200000-06-30'",
      "'0001-12-31 BC'",
    ],
  },
  { name: 'tm', type: 'time', values: ["'00:00:00'", "'23:59:59.999999'", "'24:00:00'", "'12:34:56.5'"] },
  {
    name: 'ts',
    type: 'timestamp',
    values: [
      "'2024-02-29 12:00:00.123456'",
      "'0044-03-15 01:02:03.000001 BC'",
      "'9999-12-31 23:59:59.999999'",
      "'1970-01-01 00:00:00'",
      "'1969-12-31 23:59:59.999999'",
      "'200000-01-01 00:00:00'",
      "'4713-01-01 00:00:00 BC'",
      "'2000-01-01 00:00:00'",
    ],
  },
  {
    name: 'tz',
    type: 'timestamptz',
    values: [
      "'2024-02-29 12:00:00.123456+00'",
      "'0044-03-15 01:02:03.000001+00 BC'",
      "'9999-12-31 23:59:59.999999+00'",
      "'1969-12-31 23:59:59.999999+00'",
      "'2020-01-01 12:00:00+05:53:28'",
      "'2000-01-01 00:00:00+14'",
      "'200000-01-01 00:00:00-03'",
    ],
  },
  {
    name: 'u',
    type: 'uuid',
    values: [
      "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
      "'00000000-0000-0000-0000-000000000000'",
      "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
    ],
  },
  {
    name: 'j',
    type: 'json',
    values: [`'{"a": 18446744073709551617, "b": [1, 2.50], "s": "😀"}'`, `'"x"'`, "'null'", "'  [1,2] '"],
  },
  {
    name: 'jb',
    type: 'jsonb',
    values: [
      `'{"big": 18446744073709551617, "n": 9007199254740993, "f": 1.50, "neg": -1e400}'`,
      "'[]'",
      `'"😀"'`,
    ],
  },
  { name: 'dn', type: 'dom_num', values: ['3.14', '-0.10'] },
  { name: 'dp', type: 'posint', values: ['42'] },
  // Arrays of each.
  { name: 'ai4', type: 'int4[]', array: true, values: ["'{1,NULL,3}'", "'{}'", "'[0:1]={7,8}'", "'{NULL}'"] },
  {
    name: 'ai4x2',
    type: 'int4[][]',
    array: true,
    values: ["'{{1,NULL},{3,4}}'", "'{}'", "'{{5}}'", "'[2:3][1:1]={{1},{2}}'"],
  },
  { name: 'atx', type: 'text[]', array: true, values: [`'{"a b","c\\"d",NULL,"NULL","",x,"😀"," sp "}'`] },
  { name: 'atx2', type: 'text[][]', array: true, values: [`'{{a,NULL},{"}",","}}'`] },
  { name: 'an', type: 'numeric(10,2)[]', array: true, values: ["'{1.10,NULL,-0.50}'"] },
  { name: 'anu', type: 'numeric[]', array: true, values: ["'{1e-30,NaN,12.3400,-Infinity}'"] },
  { name: 'ab', type: 'bool[]', array: true, values: ["'{t,f,NULL}'"] },
  { name: 'ai8', type: 'int8[]', array: true, values: ["'{9223372036854775807,-9223372036854775808}'"] },
  { name: 'ai2', type: 'int2[]', array: true, values: ["'{1,-1}'"] },
  { name: 'af4', type: 'float4[]', array: true, values: ["'{NaN,Infinity,0.1}'"] },
  { name: 'af8', type: 'float8[]', array: true, values: ["'{NaN,-Infinity,1.7976931348623157e308}'"] },
  { name: 'ad', type: 'date[]', array: true, values: [`'{2024-02-29,"0044-03-15 BC",NULL}'`] },
  {
    name: 'ats',
    type: 'timestamp[]',
    array: true,
    values: [`'{"2024-02-29 12:00:00.123456","0044-03-15 01:02:03 BC"}'`],
  },
  { name: 'atz', type: 'timestamptz[]', array: true, values: [`'{"2024-02-29 12:00:00.123456+00"}'`] },
  { name: 'atm', type: 'time[]', array: true, values: ["'{12:00:00,24:00:00}'"] },
  { name: 'au', type: 'uuid[]', array: true, values: ["'{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11,NULL}'"] },
  {
    name: 'ajb',
    type: 'jsonb[]',
    array: true,
    values: [`ARRAY['{"a": 18446744073709551617}'::jsonb, NULL]`],
  },
  { name: 'aj', type: 'json[]', array: true, values: [`ARRAY['{"x": [1, "}"]}'::json]`] },
  { name: 'aby', type: 'bytea[]', array: true, values: ["ARRAY['\\x00ff'::bytea, NULL, '\\x'::bytea]"] },
  { name: 'avc', type: 'varchar[]', array: true, values: [`'{abc,"d e"}'`] },
  { name: 'aen', type: 'mood[]', array: true, values: ["'{happy,NULL,sad}'"] },
  { name: 'abp', type: 'char(3)[]', array: true, values: ["'{a,bc}'"] },
  { name: 'aci', type: 'citext[]', array: true, values: [`'{MiXeD,NULL,"😀"}'`] },
  { name: 'anm', type: 'name[]', array: true, values: ["'{a_name,b}'"] },
  { name: 'adn', type: 'dom_num[]', array: true, values: ["'{3.14,NULL,-0.10}'"] },
  {
    name: 'an38',
    type: 'numeric(38,10)[]',
    array: true,
    values: ["'{0.0000000001,-9999999999999999999999999999.9999999999}'"],
  },
  { name: 'avc2', type: 'varchar(10)[][]', array: true, values: [`'{{a,NULL},{"",b}}'`] },
];

export const OTHER: MatrixColumn[] = [
  { name: 'iv', type: 'interval', values: ["'1 year 2 mons 3 days 04:05:06.789'", "'-1 days'"] },
  { name: 'ttz', type: 'timetz', values: ["'12:00:00+02'"] },
  { name: 'ip', type: 'inet', values: ["'192.168.0.1/24'", "'::1'"] },
  { name: 'cd', type: 'cidr', values: ["'10.0.0.0/8'"] },
  { name: 'mac', type: 'macaddr', values: ["'08:00:2b:01:02:03'"] },
  { name: 'mo', type: 'money', values: ["'12.34'"] },
  { name: 'r', type: 'int4range', values: ["'[1,10)'", "'empty'"] },
  { name: 'bt', type: 'bit(4)', values: ["B'1010'"] },
  { name: 'vb', type: 'varbit', values: ["B'101'"] },
  { name: 'x', type: 'xml', values: ["'<a>x</a>'"] },
  { name: 'tv', type: 'tsvector', values: ["'a fat cat'"] },
  { name: 'pt', type: 'point', values: ["'(1,2)'"] },
  { name: 'bx', type: 'box', values: ["'(1,1),(0,0)'"] },
  { name: 'aiv', type: 'interval[]', array: true, values: [`'{"1 day",NULL}'`] },
  { name: 'abx', type: 'box[]', array: true, values: ["ARRAY['(1,1),(0,0)'::box, '(3,3),(2,2)'::box]"] },
  { name: 'aip', type: 'inet[]', array: true, values: ["'{192.168.0.1,NULL}'"] },
  { name: 'attz', type: 'timetz[]', array: true, values: ["'{12:00:00+02,NULL}'"] },
  { name: 'acd', type: 'cidr[]', array: true, values: ["'{10.0.0.0/8}'"] },
  { name: 'amac', type: 'macaddr[]', array: true, values: ["'{08:00:2b:01:02:03}'"] },
  { name: 'amo', type: 'money[]', array: true, values: ["'{12.34,-1}'"] },
  { name: 'ar', type: 'int4range[]', array: true, values: [`'{"[1,10)",empty}'`] },
  { name: 'abt', type: 'bit(4)[]', array: true, values: ["ARRAY[B'1010', B'0101']"] },
  { name: 'avb', type: 'varbit[]', array: true, values: ["ARRAY[B'1', NULL]"] },
  { name: 'ax', type: 'xml[]', array: true, values: ["ARRAY['<a>x</a>'::xml]"] },
  { name: 'atv', type: 'tsvector[]', array: true, values: ["ARRAY['a fat cat'::tsvector]"] },
  { name: 'apt', type: 'point[]', array: true, values: [`'{"(1,2)","(3,4)"}'`] },
];

/** The types the matrix needs (run once per database). */
export async function createMatrixTypes(query: (sql: string) => Promise<unknown>): Promise<void> {
  await query('CREATE EXTENSION IF NOT EXISTS citext');
  await query(`CREATE TYPE mood AS ENUM ('happy', 'sad')`);
  await query('CREATE DOMAIN dom_num AS numeric(10,2)');
  await query('CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)');
}

/** `CREATE TABLE table (id int PRIMARY KEY, <columns>)`. */
export function createMatrixSql(table: string, columns: readonly MatrixColumn[]): string {
  return `CREATE TABLE ${table} (id int PRIMARY KEY, ${columns.map((c) => `"${c.name}" ${c.type}`).join(', ')})`;
}

/** `VALUES` rows of the matrix, ids from `firstId`. */
export function matrixRows(columns: readonly MatrixColumn[], firstId = 0): string[] {
  const n = Math.max(...columns.map((c) => c.values.length));
  const rows: string[] = [];
  for (let i = 0; i < n; i++)
    rows.push(`(${[String(firstId + i), ...columns.map((c) => c.values[i] ?? 'NULL')].join(', ')})`);
  return rows;
}

/**
 * PostgreSQL's own text of every value of `table` (output functions, no
 * parsing by node-pg), rows with `where` ordered by id; arrays as their
 * dimensions and elements.
 */
export async function expectedRows(
  url: string,
  table: string,
  columns: readonly MatrixColumn[],
  where = 'true',
): Promise<Record<string, string | null>[]> {
  const client = new pg.Client({
    connectionString: url,
    types: { getTypeParser: () => (v: string) => v },
  });
  await client.connect();
  try {
    const select = columns.map((c) =>
      c.array
        ? `array_dims("${c.name}") AS "${c.name}__dims", (SELECT json_agg(CASE WHEN x IS NULL THEN NULL ELSE format('%s', x) END ORDER BY o) FROM unnest("${c.name}") WITH ORDINALITY AS u(x, o)) AS "${c.name}__elems", "${c.name}" IS NULL AS "${c.name}__null"`
        : `"${c.name}"`,
    );
    const { rows } = await client.query(
      `SELECT ${select.join(', ')} FROM ${table} WHERE ${where} ORDER BY id`,
    );
    return rows as Record<string, string | null>[];
  } finally {
    await client.end();
  }
}

/** Every value of `rb` that differs from PostgreSQL's rendering `expected` (same rows, same order), described. */
export function matrixProblems(
  rb: RecordBatch,
  columns: readonly MatrixColumn[],
  expected: readonly Record<string, string | null>[],
): string[] {
  const problems: string[] = [];
  if (rb.numRows !== expected.length) return [`${rb.numRows} rows, want ${expected.length}`];
  for (const col of columns) {
    const data = rb.getChild(col.name)!.data[0]!;
    expected.forEach((row, i) => {
      if (!col.array) {
        const p = compareScalar(data, i, row[col.name] ?? null);
        if (p) problems.push(`${col.name}[${i}] (${col.type}): ${p}`);
        return;
      }
      const isNull = row[`${col.name}__null`] === 't';
      if (isNull) {
        if (data.getValid(i)) problems.push(`${col.name}[${i}]: expected NULL array`);
        return;
      }
      if (!data.getValid(i)) {
        problems.push(`${col.name}[${i}]: got NULL array`);
        return;
      }
      const { dims, leaf, indexes } = flattenList(data, i);
      const wantDims = parseArrayDims(row[`${col.name}__dims`] ?? null);
      if (JSON.stringify(dims) !== JSON.stringify(wantDims))
        problems.push(`${col.name}[${i}]: dims ${JSON.stringify(dims)} != ${JSON.stringify(wantDims)}`);
      const elems = (JSON.parse(row[`${col.name}__elems`] ?? '[]') ?? []) as (string | null)[];
      if (elems.length !== indexes.length)
        problems.push(`${col.name}[${i}]: ${indexes.length} elements, want ${elems.length}`);
      elems.forEach((e, k) => {
        const p = compareScalar(leaf, indexes[k]!, e);
        if (p) problems.push(`${col.name}[${i}][${k}] (${col.type}): ${p}`);
      });
    });
  }
  return problems;
}
