import { Int32 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { memory } from '../../../src/destinations/memory-destination.js';
import { batch, ChangeOp, change, col, DOCS, rows, schemaChange, table } from './change-builder.js';
import { SCENARIO } from './scenario.js';

const signal = new AbortController().signal;

describe('memory destination: the scenario, table by table', () => {
  const dest = memory();
  const deliver = async (batch: ChangeBatch) => {
    const applied = await dest.committedLsn('orders');
    await dest.write(applied === undefined ? batch : batch.after(applied));
  };

  it('applies every step like a database would', async () => {
    await dest.open({ pipeline: 'orders', signal, emit: () => {} });
    await deliver(SCENARIO.b1);
    expect(dest.rows('public.docs')).toEqual([
      { id: 1n, title: 't1', body: 'b1' },
      { id: 2n, title: 't2', body: 'b2' },
      { id: 3n, title: 't3', body: 'b3' },
    ]);
    expect(dest.rows('public.events')).toEqual([{ msg: 'e1', _etl_op: ChangeOp.Insert, _etl_lsn: 0x110n }]);

    await deliver(SCENARIO.b2);
    expect(dest.rows('public.docs')).toEqual([
      { id: 1n, title: 'T1', body: 'b1' },
      { id: 3n, title: 't3b', body: 'b3b' },
      { id: 4n, title: 'y2', body: 'b4' },
    ]);

    await deliver(SCENARIO.b3);
    expect(dest.rows('public.docs')).toEqual([
      { id: 1n, title: 'T1x', body: 'B1new' },
      { id: 3n, title: 't3b', body: 'b3b' },
      { id: 4n, title: 'y2', body: 'b4' },
    ]);
    expect(dest.rows('public.events')).toEqual([{ msg: 'e3', _etl_op: ChangeOp.Insert, _etl_lsn: 0x310n }]);

    await deliver(SCENARIO.b4);
    expect(dest.rows('public.docs')).toEqual([{ id: 7n, title: 't7b', body: 'b7' }]);

    await deliver(SCENARIO.b5);
    expect(dest.rows('public.docs')).toEqual([
      { id: 7n, title: 't7b', body: 'b7', rating: 3 },
      { id: 8n, title: 't8', body: 'b8', rating: 5 },
    ]);

    // Replays: through after() nothing is left; written directly, the destination skips them itself.
    expect(SCENARIO.b4.after((await dest.committedLsn('orders'))!).entries).toEqual([]);
    await dest.write(SCENARIO.b2);
    expect(dest.rows('public.docs')).toHaveLength(2);

    await dest.write(SCENARIO.b6a);
    expect(dest.rows('public.docs').map((r) => r.id)).toEqual([7n, 8n]);
    expect(await dest.committedLsn()).toBe(0x510n);
    await dest.write(SCENARIO.b6b);
    expect(dest.rows('public.docs')).toEqual([
      { id: 7n, title: 't7b', body: 'b7', rating: 3 },
      { id: 8n, title: 't8', body: 'b8', rating: 5 },
      { id: 9n, title: 't9b', body: 'b9', rating: 2 },
    ]);
    expect(await dest.committedLsn()).toBe(0x610n);
    expect(dest.batches).toHaveLength(8);
    expect(dest.tableNames()).toEqual(['public.docs', 'public.events']);
  });

  it('follows columns dropped and added: a table that lost two columns and gained one keeps the new one', async () => {
    const d = memory();
    await d.open({ pipeline: 'p', signal, emit: () => {} });
    await d.write(batch(0x10n, 0x10n, [rows(DOCS, [change.ins(0x10n, { id: 1n, title: 't', body: 'b' })])]));
    // ALTER TABLE docs DROP COLUMN title, DROP COLUMN body, ADD COLUMN score int
    const v2 = table('public', 'docs', [DOCS.columns[0]!, col('score', 'integer', new Int32())]);
    await d.write(
      batch(0x20n, 0x20n, [
        schemaChange(v2, DOCS, 0x20n, 0),
        rows(v2, [change.ins(0x20n, { id: 2n, score: 7 }), change.upd(0x20n, { id: 1n, score: 3 })], [1, 2]),
      ]),
    );
    // Dropped columns stay (null in rows written after the drop), like in a database target.
    expect(d.rows('public.docs')).toEqual([
      { id: 1n, score: 3, title: 't', body: 'b' },
      { id: 2n, score: 7, title: null, body: null },
    ]);
  });

  it('rejects writes after close', async () => {
    const d = memory({ name: 'm' });
    await d.close();
    await expect(d.write(SCENARIO.b1)).rejects.toMatchObject({ code: 'LIFECYCLE' });
    expect(() => memory({ name: '' })).toThrow(/`name`/);
  });
});
