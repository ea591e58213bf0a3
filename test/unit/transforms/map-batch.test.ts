import { describe, expect, it } from 'vitest';
import { ChangeBatch } from '../../../src/change/change-batch.js';
import { mapBatch } from '../../../src/transforms/map-batch.js';
import type { TransformContext } from '../../../src/transforms/transform.js';
import { batchOf, ChangeOp, ITEMS, rowsBatch } from './orders-batch.js';

const ctx: TransformContext = { pipeline: 'test', signal: new AbortController().signal };
const batch = () =>
  batchOf([
    {
      kind: 'rows',
      table: ITEMS,
      data: rowsBatch(ITEMS, [{ values: { id: 1, label: 'a' }, op: ChangeOp.Insert, lsn: 1n, seq: 0 }]),
    },
  ]);

describe('mapBatch', () => {
  it('accepts entries or a batch built with withEntries, async too', async () => {
    const b = batch();
    const out1 = await mapBatch(() => [])(b, ctx);
    expect(out1.entries).toEqual([]);
    expect(out1.checkpoint).toBe(b.checkpoint);
    const out2 = await mapBatch(async (x) => x.withEntries(x.entries.slice()))(b, ctx);
    expect(out2.entries).toEqual(b.entries);
  });

  it('refuses a result with another checkpoint or no batch at all', async () => {
    const other = new ChangeBatch({ ...batch(), checkpoint: { lsn: 5n, commitLsn: 4n } });
    await expect(async () => mapBatch(() => other)(batch(), ctx)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    await expect(async () => mapBatch(() => null as never)(batch(), ctx)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});
