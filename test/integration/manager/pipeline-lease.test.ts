/**
 * The pipeline's fencing check: with a lease, every save and every confirm
 * waits for `assertHeld()`; once the lease is lost nothing more is saved or
 * confirmed and the pipeline stops with `LEASE_LOST`.
 */
import { expect, it } from 'vitest';
import { memory } from '../../../src/destinations/memory-destination.js';
import { EtlError } from '../../../src/errors.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { memoryState } from '../../../src/state/memory-state-store.js';
import type { Lease } from '../../../src/state/state-store.js';
import { itemsBatch } from '../../support/batches.js';
import { ScriptedSource } from '../../support/scripted-source.js';

it('confirms only while the lease is held, then stops with LEASE_LOST', async () => {
  const batches = [1, 2, 3, 4].map((i) =>
    itemsBatch([{ id: i, label: `n${i}`, op: 3, lsn: BigInt(i * 10) }]),
  );
  const source = new ScriptedSource(batches);
  const inner = memoryState();
  const saved: bigint[] = [];
  const store = {
    ...inner,
    load: (p: string) => inner.load(p),
    close: () => inner.close(),
    save: async (p: string, s: Parameters<typeof inner.save>[1]) => {
      saved.push(s.checkpoint.lsn);
      await inner.save(p, s);
    },
  };
  let held = true;
  let checks = 0;
  const lease: Lease = {
    owner: 'w1',
    token: 7,
    renew: async () => {},
    assertHeld: async () => {
      checks++;
      // Two checks per batch (before the save, before the confirm). Lost between the third
      // batch's save and its confirm: that batch is saved but must not be confirmed.
      if (checks > 5) held = false;
      if (!held) throw new EtlError('LEASE_LOST', 'lease gone');
    },
    release: async () => {},
  };
  const pipeline = new Pipeline({ name: 'leased', lease }).from(source).to(memory()).state(store);
  await pipeline.start();
  await expect(pipeline.wait()).rejects.toMatchObject({ code: 'LEASE_LOST' });
  expect(source.confirmed.map((c) => c.lsn)).toEqual([11n, 21n]);
  expect(saved).toEqual([11n, 21n, 31n]);
  expect(pipeline.status).toBe('failed');
  expect(pipeline.confirmedLsn).toBe(21n);
});

it('refuses a lease without assertHeld', () => {
  expect(() => new Pipeline({ name: 'x', lease: {} as Lease })).toThrow(/lease/);
});
