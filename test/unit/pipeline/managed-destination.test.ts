import { describe, expect, it } from 'vitest';
import { ChangeBatch } from '../../../src/change/change-batch.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import { memory } from '../../../src/destinations/memory-destination.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { ManagedDestination } from '../../../src/pipeline/managed-destination.js';
import { resolvePipelineOptions } from '../../../src/pipeline/pipeline-options.js';
import { itemsBatch } from '../../support/batches.js';

const signal = new AbortController().signal;
const ctx = { pipeline: 'p', signal, emit: () => {} };
const options = resolvePipelineOptions({ name: 'p' });
const ins = (id: number, lsn: bigint) => ({ id, label: `v${id}`, op: ChangeOp.Insert, lsn });

/** A chunk of a large transaction committing at `commitLsn`, or its final chunk. */
function chunk(ids: number[], commitLsn: bigint, partial: boolean): ChangeBatch {
  const b = itemsBatch(ids.map((id) => ins(id, commitLsn)));
  return new ChangeBatch({ ...b, checkpoint: { lsn: commitLsn + 1n, commitLsn }, partial });
}

describe('ManagedDestination', () => {
  it('writes the final chunk of a large transaction even when nothing of it is left, so held chunks apply', async () => {
    const inner = memory();
    const m = new ManagedDestination(inner, options, () => {});
    await m.open(ctx, undefined);
    await m.write(chunk([1, 2], 0x100n, true), signal);
    // The rest of the transaction had nothing for this destination (filtered out by a transform).
    await m.write(chunk([], 0x100n, false), signal);
    expect(inner.rows('public.items').map((r) => r.id)).toEqual([1, 2]);
    expect(await inner.committedLsn()).toBe(0x100n);
    expect(m.appliedCommitLsn).toBe(0x100n);
  });

  it('skips empty batches without writing, and saves only what it wrote as applied', async () => {
    const calls: bigint[] = [];
    const inner: Destination = {
      name: 'rec',
      write: async (b) => void calls.push(b.commitLsn),
      close: async () => {},
    };
    const m = new ManagedDestination(inner, options, () => {});
    await m.open(ctx, 0x50n);
    expect(m.durableCommitLsn).toBe(0x50n); // no watermark of its own: the saved position is all there is
    await m.write(chunk([1], 0x100n, false), signal);
    await m.write(chunk([], 0x200n, false), signal);
    expect(calls).toEqual([0x100n]);
    expect(m.durableCommitLsn).toBe(0x200n);
    expect(m.appliedCommitLsn).toBe(0x100n);
  });

  it('trusts a destination watermark over the saved position, so replays it lost come again', async () => {
    const inner = memory();
    await inner.open(ctx);
    await inner.write(chunk([1], 0x100n, false));
    const m = new ManagedDestination(inner, options, () => {});
    // The state store remembers 0x200 for it; the destination itself has 0x100.
    await m.open(ctx, 0x200n);
    expect(m.keepsWatermark).toBe(true);
    expect(m.watermark).toBe(0x100n);
    await m.write(chunk([2], 0x200n, false), signal);
    expect(inner.rows('public.items').map((r) => r.id)).toEqual([1, 2]);
  });
});
