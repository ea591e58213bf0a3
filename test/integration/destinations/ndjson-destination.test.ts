import { PassThrough } from 'node:stream';
import { Decimal, Int64, Utf8 } from 'apache-arrow';
import { expect, it } from 'vitest';
import { ndjson } from '../../../src/destinations/console-destination.js';
import { batch, change, col, rows, schemaChange, table, truncate } from './change-builder.js';

const T = table('public', 'orders', [
  col('id', 'bigint', new Int64(), true),
  col('total', 'numeric(20,2)', new Decimal(2, 20, 128)),
  col('note', 'text', new Utf8()),
]);

it('writes one exact JSON line per change, truncate and schema change', async () => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  const dest = ndjson({ stream });
  await dest.write(
    batch(0x10n, 0x20n, [
      schemaChange(T, undefined, 0x10n, 0),
      rows(
        T,
        [
          change.ins(0x10n, { id: 9007199254740993n, total: '123456789012345678.91', note: 'a' }),
          change.upd(0x20n, { id: 9007199254740993n, total: '-0.05' }, ['note']),
          change.del(0x20n, { id: 1n }),
        ],
        1,
      ),
      truncate([T], 0x20n, 4),
    ]),
  );
  expect(
    text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l)),
  ).toEqual([
    {
      op: 'schema',
      table: 'public.orders',
      lsn: '0/10',
      seq: 0,
      columns: [
        { name: 'id', type: 'bigint', key: true },
        { name: 'total', type: 'numeric(20,2)', key: false },
        { name: 'note', type: 'text', key: false },
      ],
    },
    {
      op: 'insert',
      table: 'public.orders',
      lsn: '0/10',
      seq: 1,
      row: { id: '9007199254740993', total: '123456789012345678.91', note: 'a' },
    },
    {
      op: 'update',
      table: 'public.orders',
      lsn: '0/20',
      seq: 2,
      row: { id: '9007199254740993', total: '-0.05', note: null },
      unchanged: ['note'],
    },
    { op: 'delete', table: 'public.orders', lsn: '0/20', seq: 3, row: { id: '1', total: null, note: null } },
    { op: 'truncate', table: 'public.orders', lsn: '0/20', seq: 4 },
  ]);
  await dest.close();
  await expect(dest.write(batch(1n, 2n, []))).rejects.toMatchObject({ code: 'LIFECYCLE' });
});
