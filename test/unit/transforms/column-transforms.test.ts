import { Field, Uint32, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import type { ChangeEntry } from '../../../src/change/change-entry.js';
import { dropColumns } from '../../../src/transforms/drop-columns.js';
import { renameColumns } from '../../../src/transforms/rename-columns.js';
import { renameTables } from '../../../src/transforms/rename-tables.js';
import { selectColumns } from '../../../src/transforms/select-columns.js';
import type { TransformContext } from '../../../src/transforms/transform.js';
import {
  batchOf,
  beforeBatch,
  ChangeOp,
  fieldsOf,
  ITEMS,
  ORDERS,
  ordersChanges,
  rowsBatch,
  tableRows,
} from './orders-batch.js';

const ctx: TransformContext = { pipeline: 'test', signal: new AbortController().signal };
const META = ['_etl_op: Uint8', '_etl_lsn: Uint64', '_etl_seq: Uint32', '_etl_unchanged: List<Utf8>'];

function ordersBatch(extra: ChangeEntry[] = []) {
  return batchOf([{ kind: 'rows', table: ORDERS, data: rowsBatch(ORDERS, ordersChanges()) }, ...extra]);
}

describe('dropColumns', () => {
  it('removes the column from rows, TableSchema and _etl_unchanged; keeps metadata and checkpoint', async () => {
    const batch = ordersBatch();
    const out = await dropColumns({ 'public.orders': ['card_number'] })(batch, ctx);
    const entry = out.rowsOf('public.orders')!;
    expect(fieldsOf(entry.data)).toEqual([
      'id: Int64',
      'customer: Utf8',
      'total: Float64',
      'tags: List<Utf8>',
      ...META,
    ]);
    expect(entry.table.columns.map((c) => c.name)).toEqual(['id', 'customer', 'total', 'tags']);
    expect(entry.table.primaryKey).toEqual(['id']);
    expect(tableRows(entry.data)).toEqual([
      {
        id: 1n,
        customer: 'ann',
        total: 10.5,
        tags: ['a'],
        _etl_op: 0,
        _etl_lsn: 0x10n,
        _etl_seq: 0,
        _etl_unchanged: null,
      },
      {
        id: 2n,
        customer: 'bob',
        total: 200,
        tags: null,
        _etl_op: 0,
        _etl_lsn: 0x10n,
        _etl_seq: 1,
        _etl_unchanged: null,
      },
      {
        id: 1n,
        customer: 'ann b',
        total: 11,
        tags: null,
        _etl_op: 1,
        _etl_lsn: 0x20n,
        _etl_seq: 2,
        _etl_unchanged: ['tags'],
      },
      {
        id: 2n,
        customer: null,
        total: null,
        tags: null,
        _etl_op: 2,
        _etl_lsn: 0x20n,
        _etl_seq: 3,
        _etl_unchanged: null,
      },
    ]);
    expect(out.checkpoint).toBe(batch.checkpoint);
    expect(out.firstLsn).toBe(batch.firstLsn);
  });

  it('turns an unchanged list that becomes empty into null', async () => {
    const batch = batchOf([
      {
        kind: 'rows',
        table: ORDERS,
        data: rowsBatch(ORDERS, [
          {
            values: { id: 1n, customer: 'x' },
            op: ChangeOp.Update,
            lsn: 1n,
            seq: 0,
            unchanged: ['card_number'],
          },
        ]),
      },
    ]);
    const out = await dropColumns({ '*.orders': ['card_number'] })(batch, ctx);
    expect(tableRows(out.rowsOf('public.orders')!.data)[0]!._etl_unchanged).toBeNull();
  });

  it('updates schema-change and truncate entries and old row images', async () => {
    const previous = { ...ORDERS, columns: ORDERS.columns.slice(0, 4) };
    const before = beforeBatch(ORDERS, [
      { values: { id: 1n, customer: 'ann', card_number: '4111', total: 10.5 }, seq: 2 },
    ]);
    const batch = batchOf([
      { kind: 'schema', table: ORDERS, previous, lsn: 0x10n, seq: 0 },
      { kind: 'rows', table: ORDERS, data: rowsBatch(ORDERS, ordersChanges()), before },
      {
        kind: 'truncate',
        tables: [ORDERS, ITEMS],
        cascade: false,
        restartIdentity: false,
        lsn: 0x30n,
        seq: 9,
      },
    ]);
    const out = await dropColumns({ 'public.orders': ['card_number'] })(batch, ctx);
    const [schema, rows, truncate] = out.entries;
    expect(schema).toMatchObject({ kind: 'schema', lsn: 0x10n, seq: 0 });
    if (schema?.kind !== 'schema' || rows?.kind !== 'rows' || truncate?.kind !== 'truncate')
      throw new Error('kinds');
    expect(schema.table.columns.map((c) => c.name)).toEqual(['id', 'customer', 'total', 'tags']);
    expect(schema.previous?.columns.map((c) => c.name)).toEqual(['id', 'customer', 'total']);
    expect(truncate.tables.map((t) => t.columns.length)).toEqual([4, 2]);
    expect(truncate.tables[0]).toBe(rows.table);
    expect(tableRows(rows.before!)).toEqual([
      { id: 1n, customer: 'ann', total: 10.5, tags: null, _etl_seq: 2 },
    ]);
  });

  it('refuses to drop a key column, naming the table', async () => {
    await expect(async () =>
      dropColumns({ 'public.orders': ['id'] })(ordersBatch(), ctx),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('key column "id"'),
    });
  });

  it('leaves other tables and unknown columns alone (same batch back)', async () => {
    const batch = ordersBatch();
    expect(await dropColumns({ 'public.items': ['label'] })(batch, ctx)).toBe(batch);
    expect(await dropColumns({ 'public.orders': ['nope'] })(batch, ctx)).toBe(batch);
  });

  it('validates options naming the field', () => {
    expect(() => dropColumns({ orders: ['x'] })).toThrow(/dropColumns\["orders"\].*no schema/);
    expect(() => dropColumns({ 'public.orders': 'x' as never })).toThrow(/dropColumns\["public.orders"\]/);
  });
});

describe('selectColumns', () => {
  it('keeps only the listed columns in table order', async () => {
    const out = await selectColumns({ 'public.orders': ['total', 'id'] })(ordersBatch(), ctx);
    const entry = out.rowsOf('public.orders')!;
    expect(fieldsOf(entry.data)).toEqual(['id: Int64', 'total: Float64', ...META]);
    expect(tableRows(entry.data).map((r) => [r.id, r.total, r._etl_unchanged])).toEqual([
      [1n, 10.5, null],
      [2n, 200, null],
      [1n, 11, null],
      [2n, null, null],
    ]);
  });

  it('requires the key columns', async () => {
    await expect(async () =>
      selectColumns({ 'public.orders': ['total'] })(ordersBatch(), ctx),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});

describe('renameColumns', () => {
  it('renames columns, the primary key and names in _etl_unchanged', async () => {
    const out = await renameColumns({ 'public.orders': { id: 'order_id', tags: 'labels' } })(
      ordersBatch(),
      ctx,
    );
    const entry = out.rowsOf('public.orders')!;
    expect(entry.table.primaryKey).toEqual(['order_id']);
    expect(entry.table.columns.map((c) => [c.name, c.key])).toEqual([
      ['order_id', true],
      ['customer', false],
      ['card_number', false],
      ['total', false],
      ['labels', false],
    ]);
    expect(tableRows(entry.data)).toEqual([
      {
        order_id: 1n,
        customer: 'ann',
        card_number: '4111',
        total: 10.5,
        labels: ['a'],
        _etl_op: 0,
        _etl_lsn: 0x10n,
        _etl_seq: 0,
        _etl_unchanged: null,
      },
      {
        order_id: 2n,
        customer: 'bob',
        card_number: '5500',
        total: 200,
        labels: null,
        _etl_op: 0,
        _etl_lsn: 0x10n,
        _etl_seq: 1,
        _etl_unchanged: null,
      },
      {
        order_id: 1n,
        customer: 'ann b',
        card_number: null,
        total: 11,
        labels: null,
        _etl_op: 1,
        _etl_lsn: 0x20n,
        _etl_seq: 2,
        _etl_unchanged: ['card_number', 'labels'],
      },
      {
        order_id: 2n,
        customer: null,
        card_number: null,
        total: null,
        labels: null,
        _etl_op: 2,
        _etl_lsn: 0x20n,
        _etl_seq: 3,
        _etl_unchanged: null,
      },
    ]);
  });

  it('refuses two columns with the same name', async () => {
    await expect(async () =>
      renameColumns({ 'public.orders': { customer: 'total' } })(ordersBatch(), ctx),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('same name'),
    });
  });
});

describe('renameTables', () => {
  it('renames rows, schema and truncate entries; rowsOf finds the new name', async () => {
    const batch = ordersBatch([
      { kind: 'truncate', tables: [ORDERS], cascade: false, restartIdentity: false, lsn: 0x30n, seq: 9 },
    ]);
    const out = await renameTables({ 'public.orders': 'sales.shop_orders' })(batch, ctx);
    expect(out.rowsOf('public.orders')).toBeUndefined();
    const entry = out.rowsOf('sales.shop_orders')!;
    expect(entry.table).toMatchObject({ schema: 'sales', name: 'shop_orders', columns: ORDERS.columns });
    expect(entry.data).toBe(batch.rowsOf('public.orders')!.data);
    const truncate = out.entries[1];
    expect(truncate?.kind === 'truncate' && truncate.tables[0]?.name).toBe('shop_orders');
  });

  it('validates names', () => {
    expect(() => renameTables({ 'public.orders': 'orders' })).toThrow(/renameTables\["public.orders"\]/);
  });
});

it('Uint32 seq and Utf8 fields come through untouched', () => {
  // Guard for the helper itself: metadata fields are the expected types.
  const rb = rowsBatch(ITEMS, [{ values: { id: 1, label: 'a' }, op: ChangeOp.Insert, lsn: 1n, seq: 0 }]);
  expect(rb.schema.fields[3]).toEqual(new Field('_etl_lsn', rb.schema.fields[3]!.type, false));
  expect(rb.schema.fields[4]!.type).toEqual(new Uint32());
  expect(rb.schema.fields[1]!.type).toEqual(new Utf8());
});
