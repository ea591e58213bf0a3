import { describe, expect, it } from 'vitest';
import { filterRows } from '../../../src/transforms/filter-rows.js';
import { filterRowsBy } from '../../../src/transforms/filter-rows-by.js';
import { filterTables } from '../../../src/transforms/filter-tables.js';
import type { TransformContext } from '../../../src/transforms/transform.js';
import {
  batchOf,
  beforeBatch,
  ChangeOp,
  ITEMS,
  ORDERS,
  ordersChanges,
  rowsBatch,
  tableRows,
} from './orders-batch.js';

const ctx: TransformContext = { pipeline: 'test', signal: new AbortController().signal };

function twoTables() {
  const items = rowsBatch(ITEMS, [
    { values: { id: 7, label: 'x' }, op: ChangeOp.Insert, lsn: 0x10n, seq: 4 },
  ]);
  return batchOf([
    { kind: 'schema', table: ITEMS, previous: undefined, lsn: 0x10n, seq: 0 },
    { kind: 'rows', table: ORDERS, data: rowsBatch(ORDERS, ordersChanges()) },
    { kind: 'rows', table: ITEMS, data: items },
    { kind: 'truncate', tables: [ORDERS, ITEMS], cascade: false, restartIdentity: false, lsn: 0x30n, seq: 9 },
  ]);
}

describe('filterTables', () => {
  it('include: keeps matching tables, removes them from truncates, keeps the checkpoint', async () => {
    const batch = twoTables();
    const out = await filterTables({ include: ['public.ord*'] })(batch, ctx);
    expect(out.entries.map((e) => e.kind)).toEqual(['rows', 'truncate']);
    expect(out.rowsOf('public.orders')).toBe(batch.rowsOf('public.orders'));
    const truncate = out.entries[1];
    expect(truncate?.kind === 'truncate' && truncate.tables).toEqual([ORDERS]);
    expect(out.checkpoint).toBe(batch.checkpoint);
  });

  it('exclude everything: an empty batch with the same LSN range', async () => {
    const batch = twoTables();
    const out = await filterTables({ exclude: ['*'] })(batch, ctx);
    expect(out.entries).toEqual([]);
    expect([out.firstLsn, out.checkpoint, out.transactions]).toEqual([batch.firstLsn, batch.checkpoint, 1]);
  });

  it('returns the same batch when nothing is filtered', async () => {
    const batch = twoTables();
    expect(await filterTables({ include: ['public.*'], exclude: ['other.*'] })(batch, ctx)).toBe(batch);
  });

  it('validates options', () => {
    expect(() => filterTables({})).toThrow(/include/);
    expect(() => filterTables({ include: ['orders'] })).toThrow(/include\[0\].*no schema/);
  });
});

describe('filterRows', () => {
  const bigOrders = filterRows('public.orders', (cols, n) => {
    const total = cols.total!;
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) mask[i] = (total.get(i) ?? 0) > 100 ? 1 : 0;
    return mask;
  });

  it('drops failing inserts, turns failing updates into deletes, keeps deletes; other tables untouched', async () => {
    const batch = twoTables();
    const out = await bigOrders(batch, ctx);
    // id 1: insert 10.5 (dropped), update to 11 (left the filter: delete). id 2: insert 200 (kept), delete (kept).
    expect(tableRows(out.rowsOf('public.orders')!.data)).toEqual([
      {
        id: 2n,
        customer: 'bob',
        card_number: '5500',
        total: 200,
        tags: null,
        _etl_op: ChangeOp.Insert,
        _etl_lsn: 0x10n,
        _etl_seq: 1,
        _etl_unchanged: null,
      },
      {
        id: 1n,
        customer: 'ann b',
        card_number: null,
        total: 11,
        tags: null,
        _etl_op: ChangeOp.Delete,
        _etl_lsn: 0x20n,
        _etl_seq: 2,
        _etl_unchanged: ['card_number', 'tags'],
      },
      {
        id: 2n,
        customer: null,
        card_number: null,
        total: null,
        tags: null,
        _etl_op: ChangeOp.Delete,
        _etl_lsn: 0x20n,
        _etl_seq: 3,
        _etl_unchanged: null,
      },
    ]);
    expect(out.rowsOf('public.items')).toBe(batch.rowsOf('public.items'));
    expect(out.entries.map((e) => e.kind)).toEqual(['schema', 'rows', 'rows', 'truncate']);
  });

  it('removes the entry when no row is left, keeps old images of kept rows only', async () => {
    const before = beforeBatch(ORDERS, [
      { values: { id: 1n }, seq: 2 },
      { values: { id: 9n }, seq: 5 },
    ]);
    const inserts = rowsBatch(ORDERS, [
      { values: { id: 9n, total: 1 }, op: ChangeOp.Insert, lsn: 1n, seq: 0 },
      { values: { id: 1n, total: 500 }, op: ChangeOp.Update, lsn: 1n, seq: 2 },
    ]);
    const out = await bigOrders(batchOf([{ kind: 'rows', table: ORDERS, data: inserts, before }]), ctx);
    expect(tableRows(out.rowsOf('public.orders')!.before!).map((r) => r._etl_seq)).toEqual([2]);
    const none = await filterRows('public.orders', (_c, n) => new Array(n).fill(false))(
      batchOf([{ kind: 'rows', table: ORDERS, data: inserts.slice(0, 1) }]),
      ctx,
    );
    expect(none.entries).toEqual([]);
  });

  it('rejects a mask of the wrong length', async () => {
    await expect(async () =>
      filterRows('public.orders', () => [true])(twoTables(), ctx),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});

describe('filterRowsBy', () => {
  it('filters with a per-row predicate over exact values', async () => {
    const seen: unknown[] = [];
    const t = filterRowsBy('public.orders', (row) => {
      seen.push(row.id);
      return row.customer === 'bob';
    });
    const out = await t(twoTables(), ctx);
    expect(seen).toEqual([1n, 2n, 1n, 2n]);
    expect(tableRows(out.rowsOf('public.orders')!.data).map((r) => [r.id, r._etl_op])).toEqual([
      [2n, ChangeOp.Insert],
      [1n, ChangeOp.Delete],
      [2n, ChangeOp.Delete],
    ]);
  });
});
