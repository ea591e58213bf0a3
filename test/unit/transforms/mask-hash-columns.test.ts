import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashColumns } from '../../../src/transforms/hash-columns.js';
import { maskColumns } from '../../../src/transforms/mask-columns.js';
import type { TransformContext } from '../../../src/transforms/transform.js';
import {
  batchOf,
  beforeBatch,
  fieldsOf,
  ORDERS,
  ordersChanges,
  rowsBatch,
  tableRows,
} from './orders-batch.js';

const ctx: TransformContext = { pipeline: 'test', signal: new AbortController().signal };
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function ordersBatch() {
  const before = beforeBatch(ORDERS, [{ values: { id: 2n, customer: 'bob', card_number: '5500' }, seq: 3 }]);
  return batchOf([{ kind: 'rows', table: ORDERS, data: rowsBatch(ORDERS, ordersChanges()), before }]);
}

describe('maskColumns', () => {
  it('replaces values with fixed text (nulls stay null) or with null, in rows and old images', async () => {
    const out = await maskColumns({ 'public.orders': { card_number: '****', total: null } })(
      ordersBatch(),
      ctx,
    );
    const entry = out.rowsOf('public.orders')!;
    expect(tableRows(entry.data).map((r) => [r.id, r.card_number, r.total, r._etl_unchanged])).toEqual([
      [1n, '****', null, null],
      [2n, '****', null, null],
      [1n, null, null, ['card_number', 'tags']],
      [2n, null, null, null],
    ]);
    expect(tableRows(entry.before!)).toEqual([
      { id: 2n, customer: 'bob', card_number: '****', total: null, tags: null, _etl_seq: 3 },
    ]);
    const card = entry.table.columns.find((c) => c.name === 'card_number')!;
    expect(card).toMatchObject({ typeName: 'text', typeOid: 25 });
    expect(entry.table.columns.find((c) => c.name === 'total')).toMatchObject({
      typeName: 'double precision',
      nullable: true,
    });
    expect(fieldsOf(entry.data).slice(0, 4)).toEqual([
      'id: Int64',
      'customer: Utf8',
      'card_number: Utf8',
      'total: Float64',
    ]);
  });

  it('changes the type of a non-text column masked with text', async () => {
    const out = await maskColumns({ 'public.orders': { total: 'hidden' } })(ordersBatch(), ctx);
    const entry = out.rowsOf('public.orders')!;
    expect(fieldsOf(entry.data)[3]).toBe('total: Utf8');
    expect(entry.table.columns[3]).toMatchObject({ name: 'total', typeName: 'text' });
    expect(tableRows(entry.data).map((r) => r.total)).toEqual(['hidden', 'hidden', 'hidden', null]);
  });

  it('refuses key columns', async () => {
    await expect(async () =>
      maskColumns({ 'public.orders': { id: 'x' } })(ordersBatch(), ctx),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      hint: expect.stringContaining('hashColumns'),
    });
  });
});

describe('hashColumns', () => {
  it('replaces values with the sha256 hex of their exact text, salted; works on keys', async () => {
    const out = await hashColumns({ 'public.orders': ['id', 'card_number', 'tags'] }, { salt: 's1' })(
      ordersBatch(),
      ctx,
    );
    const entry = out.rowsOf('public.orders')!;
    expect(tableRows(entry.data).map((r) => [r.id, r.card_number, r.tags, r.customer])).toEqual([
      [sha('s11'), sha('s14111'), sha('s1["a"]'), 'ann'],
      [sha('s12'), sha('s15500'), null, 'bob'],
      [sha('s11'), null, null, 'ann b'],
      [sha('s12'), null, null, null],
    ]);
    expect(tableRows(entry.before!)[0]).toMatchObject({ id: sha('s12'), card_number: sha('s15500') });
    expect(entry.table.columns[0]).toMatchObject({ name: 'id', key: true, typeName: 'text' });
    expect(entry.table.primaryKey).toEqual(['id']);
  });

  it('is stable without salt: equal values give equal hashes across batches', async () => {
    const t = hashColumns({ '*.orders': ['card_number'] });
    const a = tableRows((await t(ordersBatch(), ctx)).rowsOf('public.orders')!.data);
    const b = tableRows((await t(ordersBatch(), ctx)).rowsOf('public.orders')!.data);
    expect(a[0]!.card_number).toBe(sha('4111'));
    expect(a).toEqual(b);
  });
});
