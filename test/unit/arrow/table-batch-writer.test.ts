import { DateDay, Decimal, Field, Int32, List, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { readRow } from '../../../src/arrow/row-reader.js';
import { TableBatchWriter } from '../../../src/arrow/table-batch-writer.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import type { TableSchema } from '../../../src/change/table-schema.js';
import { EtlError } from '../../../src/errors.js';
import { TypeCatalog } from '../../../src/postgres/type-catalog.js';

const catalog = new TypeCatalog();
const enc = (s: string | null) => (s === null ? null : new TextEncoder().encode(s));

const TABLE: TableSchema = {
  id: 1,
  schema: 'public',
  name: 't',
  replicaIdentity: 'default',
  primaryKey: ['id'],
  columns: [
    {
      name: 'id',
      typeOid: 23,
      typeName: 'integer',
      typeModifier: -1,
      arrowType: new Int32(),
      nullable: false,
      key: true,
    },
    {
      name: 'label',
      typeOid: 25,
      typeName: 'text',
      typeModifier: -1,
      arrowType: new Utf8(),
      nullable: true,
      key: false,
    },
    {
      name: 'amount',
      typeOid: 1700,
      typeName: 'numeric(10,2)',
      typeModifier: (10 << 16) + 2 + 4,
      arrowType: new Decimal(2, 10, 128),
      nullable: true,
      key: false,
    },
    {
      name: 'grid',
      typeOid: 1007,
      typeName: 'integer[]',
      typeModifier: -1,
      arrowType: new List(new Field('item', new List(new Field('item', new Int32(), true)), true)),
      nullable: true,
      key: false,
    },
    {
      name: 'day',
      typeOid: 1082,
      typeName: 'date',
      typeModifier: -1,
      arrowType: new DateDay(),
      nullable: true,
      key: false,
    },
  ],
};

function writer(unrepresentable: 'fail' | 'null' = 'fail', onUnrepresentable?: () => void) {
  return new TableBatchWriter(TABLE, { catalog, binary: false, unrepresentable, onUnrepresentable });
}

describe('TableBatchWriter', () => {
  it('grows past its initial capacity and hands out exact rows', () => {
    const w = writer();
    for (let i = 0; i < 1000; i++) {
      w.appendRow(
        [
          enc(String(i)),
          enc(i % 3 ? `l${i}` : null),
          enc(`${i}.05`),
          enc(`{{${i},NULL},{1,2}}`),
          enc('2024-02-29'),
        ],
        ChangeOp.Insert,
        7n,
        i,
      );
    }
    const data = w.flush();
    expect(data.numRows).toBe(1000);
    expect(readRow(data, 998)).toEqual({
      id: 998,
      label: 'l998',
      amount: '998.05',
      grid: [
        [998, null],
        [1, 2],
      ],
      day: '2024-02-29',
      _etl_op: ChangeOp.Insert,
      _etl_lsn: 7n,
      _etl_seq: 998,
      _etl_unchanged: null,
    });
    expect(readRow(data, 300).label).toBeNull();
    expect(readRow(data, 257).id).toBe(257);
  });

  it('flushes a prefix and keeps the rest; truncates', () => {
    const w = writer();
    for (let i = 0; i < 5; i++)
      w.appendRow([enc(String(i)), enc(`x${i}`), null, enc('{}'), null], ChangeOp.Update, 1n, i);
    const first = w.flushImages(2).data;
    expect([0, 1].map((i) => readRow(first, i).id)).toEqual([0, 1]);
    expect(w.rows).toBe(3);
    w.truncate(2, 0);
    w.appendRow([enc('9'), enc('nine'), enc('1.00'), enc('{{1}}'), null], ChangeOp.Delete, 2n, 9);
    const rest = w.flush();
    expect(
      [0, 1, 2].map((i) => [readRow(rest, i).id, readRow(rest, i).label, readRow(rest, i).grid]),
    ).toEqual([
      [2, 'x2', []],
      [3, 'x3', []],
      [9, 'nine', [[1]]],
    ]);
  });

  it('keeps nulls exact when they appear late, in a kept tail, or only in truncated rows', () => {
    const w = writer();
    const label = (i: number) => (i === 400 || i === 1400 ? null : `l${i}`);
    for (let i = 0; i < 1500; i++)
      w.appendRow([enc(String(i)), enc(label(i)), null, null, null], ChangeOp.Insert, 1n, i);
    // The first null is row 400, after the first growth; the prefix [0, 300) has none.
    const prefix = w.flushImages(300).data;
    expect(prefix.getChild('label')!.nullCount).toBe(0);
    expect(readRow(prefix, 299).label).toBe('l299');
    // Rows 300.. stay: the nulls at 400 and 1400 move with them.
    const middle = w.flushImages(1000).data;
    expect(middle.getChild('label')!.nullCount).toBe(1);
    expect(Array.from({ length: 1000 }, (_, i) => readRow(middle, i).label)).toEqual(
      Array.from({ length: 1000 }, (_, i) => label(300 + i)),
    );
    // Rows 1300..1499 kept, 1400 null; truncating it away leaves no null at all.
    expect(w.rows).toBe(200);
    w.truncate(100, 0);
    w.appendRow([enc('5000'), enc('after'), null, null, null], ChangeOp.Insert, 2n, 5000);
    const tail = w.flush();
    expect(tail.getChild('label')!.nullCount).toBe(0);
    expect(tail.numRows).toBe(101);
    expect(readRow(tail, 99).label).toBe('l1399');
    expect(readRow(tail, 100)).toMatchObject({ id: 5000, label: 'after', _etl_lsn: 2n });
    // A fully flushed writer is reused: values and validity start clean.
    w.appendRow([enc('1'), null, enc('1.50'), null, enc('2024-01-01')], ChangeOp.Update, 3n, 1);
    w.appendRow([enc('2'), enc('two'), null, null, null], ChangeOp.Update, 3n, 2);
    const again = w.flush();
    expect([readRow(again, 0), readRow(again, 1)]).toMatchObject([
      { id: 1, label: null, amount: '1.50', day: '2024-01-01' },
      { id: 2, label: 'two', amount: null, day: null },
    ]);
    expect(again.getChild('label')!.nullCount).toBe(1);
  });

  it("applies the 'fail' policy to NaN decimals, infinite dates and arrays of the wrong dimension", () => {
    const row = (amount: string | null, grid: string | null, day: string | null) => [
      enc('1'),
      null,
      enc(amount),
      enc(grid),
      enc(day),
    ];
    expect(() => writer().appendRow(row('NaN', null, null), ChangeOp.Insert, 1n, 0)).toThrowError(
      expect.objectContaining({
        code: 'VALUE_UNREPRESENTABLE',
        details: { table: 'public.t', column: 'amount' },
      }),
    );
    expect(() => writer().appendRow(row(null, null, 'infinity'), ChangeOp.Insert, 1n, 0)).toThrow(EtlError);
    expect(() => writer().appendRow(row(null, '{1,2}', null), ChangeOp.Insert, 1n, 0)).toThrow(/dimension/);
  });

  it("applies the 'null' policy: writes null and reports each value", () => {
    const seen: string[] = [];
    const w = writer('null', (info?: unknown) => seen.push(String((info as { column: string }).column)));
    const w2 = new TableBatchWriter(TABLE, {
      catalog,
      binary: false,
      unrepresentable: 'null',
      onUnrepresentable: (i) => seen.push(`${i.column}: ${i.reason}`),
    });
    w2.appendRow([enc('1'), null, enc('Infinity'), enc('{1}'), enc('-infinity')], ChangeOp.Insert, 1n, 0);
    w2.appendRow([enc('2'), null, enc('2.50'), enc('{{3}}'), enc('2000-01-01')], ChangeOp.Insert, 1n, 1);
    const data = w2.flush();
    expect([readRow(data, 0).amount, readRow(data, 0).grid, readRow(data, 0).day]).toEqual([
      null,
      null,
      null,
    ]);
    expect([readRow(data, 1).amount, readRow(data, 1).grid, readRow(data, 1).day]).toEqual([
      '2.50',
      [[3]],
      '2000-01-01',
    ]);
    expect(seen).toHaveLength(3);
    expect(seen[0]).toMatch(/^amount: numeric Infinity/);
    expect(w.rows).toBe(0);
  });
});
