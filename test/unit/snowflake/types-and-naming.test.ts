import {
  Binary,
  Bool,
  DateDay,
  Decimal,
  Field,
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
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import type { ColumnSchema } from '../../../src/change/table-schema.js';
import { listToJsonText } from '../../../src/destinations/snowflake/json-text.js';
import { Naming } from '../../../src/destinations/snowflake/naming.js';
import {
  parseSnowflakeType,
  renderType,
  snowflakeTypeOf,
  typeChange,
} from '../../../src/destinations/snowflake/snowflake-type.js';
import { copyIntoSql, putSql, qualified, quoteIdent } from '../../../src/destinations/snowflake/sql.js';
import { ITEMS } from '../../support/batches.js';

function col(typeName: string, arrowType: ColumnSchema['arrowType']): ColumnSchema {
  return { name: 'c', typeOid: 0, typeName, typeModifier: -1, arrowType, nullable: true, key: false };
}

describe('Snowflake types (DESIGN §4)', () => {
  it('maps every Arrow type of the source', () => {
    const cases: [string, ColumnSchema['arrowType'], string][] = [
      ['boolean', new Bool(), 'BOOLEAN'],
      ['smallint', new Int16(), 'NUMBER(5,0)'],
      ['integer', new Int32(), 'NUMBER(10,0)'],
      ['bigint', new Int64(), 'NUMBER(19,0)'],
      ['double precision', new Float64(), 'FLOAT'],
      ['numeric(12,2)', new Decimal(2, 12, 128), 'NUMBER(12,2)'],
      ['numeric', new Utf8(), 'VARCHAR'],
      ['text', new Utf8(), 'VARCHAR'],
      ['uuid', new Utf8(), 'VARCHAR(36)'],
      ['jsonb', new Utf8(), 'VARIANT'],
      ['json', new Utf8(), 'VARIANT'],
      ['bytea', new Binary(), 'BINARY'],
      ['date', new DateDay(), 'DATE'],
      ['time without time zone', new TimeMicrosecond(), 'TIME(6)'],
      ['timestamp without time zone', new TimestampMicrosecond(), 'TIMESTAMP_NTZ(6)'],
      ['timestamp with time zone', new TimestampMicrosecond('UTC'), 'TIMESTAMP_TZ(6)'],
      ['integer[]', new List(new Field('item', new Int32(), true)), 'ARRAY'],
      ['interval', new Utf8(), 'VARCHAR'],
    ];
    for (const [name, type, expected] of cases)
      expect(renderType(snowflakeTypeOf(col(name, type)))).toBe(expected);
  });

  it('widens only where Snowflake can in place', () => {
    const n = (p: number, s = 0) => ({ base: 'NUMBER' as const, precision: p, scale: s });
    expect(typeChange(n(10), n(19))).toEqual({ kind: 'widen', to: n(19) });
    expect(typeChange(n(19), n(10))).toEqual({ kind: 'none' });
    expect(typeChange(n(10), n(12, 2)).kind).toBe('incompatible');
    expect(typeChange({ base: 'VARCHAR', length: 10 }, { base: 'VARCHAR' }).kind).toBe('widen');
    expect(typeChange({ base: 'VARCHAR' }, { base: 'VARCHAR', length: 36 }).kind).toBe('none');
    expect(typeChange(n(10), { base: 'VARCHAR' }).kind).toBe('incompatible');
    expect(typeChange({ base: 'TIMESTAMP_NTZ' }, { base: 'TIMESTAMP_TZ' }).kind).toBe('incompatible');
  });

  it('reads INFORMATION_SCHEMA types', () => {
    expect(parseSnowflakeType('NUMBER', 38, 0)).toEqual({ base: 'NUMBER', precision: 38, scale: 0 });
    expect(parseSnowflakeType('TEXT', null, null, 16777216)).toEqual({ base: 'VARCHAR' });
    expect(parseSnowflakeType('DECIMAL(12,2)')).toEqual({ base: 'NUMBER', precision: 12, scale: 2 });
    expect(parseSnowflakeType('TIMESTAMP_TZ')).toMatchObject({ base: 'TIMESTAMP_TZ' });
    expect(parseSnowflakeType('GEOGRAPHY')).toEqual({ base: 'OTHER' });
  });
});

describe('array values as JSON text', () => {
  it('keeps int8 and numeric digits, timestamps, nulls and nesting exact', () => {
    const table = new Table({
      i8: makeVector(
        makeData({
          type: new List(new Field('item', new Int64(), true)),
          length: 1,
          valueOffsets: new Int32Array([0, 2]),
          child: makeData({
            type: new Int64(),
            length: 2,
            data: new BigInt64Array([9223372036854775807n, -1n]),
          }),
        }),
      ),
      ts: makeVector(
        makeData({
          type: new List(new Field('item', new TimestampMicrosecond('UTC'), true)),
          length: 1,
          valueOffsets: new Int32Array([0, 1]),
          child: makeData({
            type: new TimestampMicrosecond('UTC'),
            length: 1,
            data: new BigInt64Array([1704067200123456n]),
          }),
        }),
      ),
      d: makeVector(
        makeData({
          type: new List(new Field('item', new Decimal(2, 38, 128), true)),
          length: 1,
          valueOffsets: new Int32Array([0, 2]),
          child: makeData({
            type: new Decimal(2, 38, 128),
            length: 2,
            data: new Uint32Array([12345, 0, 0, 0, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]),
          }),
        }),
      ),
    });
    expect(listToJsonText(table.getChild('i8')!.data[0]!, 0, 'bigint[]')).toBe('[9223372036854775807,-1]');
    expect(listToJsonText(table.getChild('ts')!.data[0]!, 0, 'timestamptz[]')).toBe(
      '["2024-01-01T00:00:00.123456Z"]',
    );
    expect(listToJsonText(table.getChild('d')!.data[0]!, 0, 'numeric[]')).toBe('[123.45,-0.01]');
  });
});

describe('naming policy', () => {
  it('applies case, prefix and schema map', () => {
    const n = new Naming('PG', { tablePrefix: 'src_', schemas: { sales: 'SALES_RAW' } });
    expect(n.table({ schema: 'public', name: 'Orders' })).toEqual({
      schema: 'PG',
      name: 'SRC_ORDERS',
      staging: 'SRC_ORDERS__ETL_STAGING',
    });
    expect(n.table({ schema: 'sales', name: 'x' }).schema).toBe('SALES_RAW');
    expect(new Naming('PG', { case: 'preserve' }).column('MixedCase')).toBe('MixedCase');
    expect(new Naming('PG', { case: 'lower' }).column('MixedCase')).toBe('mixedcase');
  });

  it('refuses two columns that map to one name, and metadata names', () => {
    const clash = { ...ITEMS, columns: [...ITEMS.columns, { ...ITEMS.columns[1]!, name: 'Label' }] };
    expect(() => new Naming('PG').columns(clash)).toThrow(/"Label".*also maps to/);
    const reserved = { ...ITEMS, columns: [...ITEMS.columns, { ...ITEMS.columns[1]!, name: '_etl_lsn' }] };
    expect(() => new Naming('PG').columns(reserved)).toThrow(/reserved for metadata/);
  });
});

describe('SQL text', () => {
  it('quotes every identifier with one function', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(qualified({ database: 'D', schema: 's"x', name: 'T' })).toBe('"D"."s""x"."T"');
  });

  it('PUTs Parquet uncompressed and COPYs by column name with FORCE', () => {
    const stage = { database: 'DB', schema: 'PG', name: '_ETL_STAGE' };
    expect(putSql('/tmp/x/t0.parquet', stage, 'p/1_A-ff')).toBe(
      `PUT 'file:///tmp/x/t0.parquet' @"DB"."PG"."_ETL_STAGE"/p/1_A-ff AUTO_COMPRESS=FALSE OVERWRITE=TRUE`,
    );
    expect(copyIntoSql({ ...stage, name: 'T__ETL_STAGING' }, stage, 'p/1/', ['t0.parquet'])).toMatch(
      /FILES = \('t0.parquet'\) FILE_FORMAT = \(TYPE = PARQUET BINARY_AS_TEXT = FALSE\) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE FORCE = TRUE$/,
    );
    expect(() => putSql("/tmp/it's/t.parquet", stage, 'p')).toThrow(/Unexpected characters/);
  });
});
