/**
 * The behaviour every StateStore shares: run against memory, Postgres and
 * Redis stores by their test files.
 */
import { describe, expect, it } from 'vitest';
import { EtlError } from '../../../src/errors.js';
import type { PipelineState, StateStore } from '../../../src/state/state-store.js';

export const SAMPLE_STATE: PipelineState = {
  checkpoint: {
    lsn: 0x16b374d849n,
    commitLsn: 0x16b374d848n,
    snapshot: {
      consistentPoint: 0x1_0000_0000n,
      tables: {
        'public.orders': { status: 'copying', rows: 1200, lastKey: ['1200', null] },
        'public.items': { status: 'pending', rows: 0 },
      },
    },
  },
  destinations: { duckdb: 0x16b374d848n, 'big-one': 0xffff_ffff_ffff_fff0n },
  updatedAt: '2025-01-02T03:04:05.678Z',
};

/** Registers the shared tests; `open` gives a store whose pipelines start empty. */
export function stateStoreContract(label: string, open: () => Promise<StateStore>): void {
  describe(`${label}: StateStore contract`, () => {
    it('loads undefined for a pipeline never saved', async () => {
      const store = await open();
      expect(await store.load('never-saved')).toBeUndefined();
      await store.close();
    });

    it('saves and loads a state exactly (bigint LSNs, snapshot progress)', async () => {
      const store = await open();
      await store.save('p1', SAMPLE_STATE);
      expect(await store.load('p1')).toEqual(SAMPLE_STATE);
      const next: PipelineState = {
        checkpoint: { lsn: 0x17_0000_0001n, commitLsn: 0x17_0000_0000n },
        destinations: { duckdb: 0x17_0000_0000n },
        updatedAt: '2025-01-02T03:04:06.000Z',
      };
      await store.save('p1', next);
      expect(await store.load('p1')).toEqual(next);
      await store.close();
    });

    it('keeps pipelines apart and deletes one', async () => {
      const store = await open();
      const other = { ...SAMPLE_STATE, destinations: {} };
      await store.save('a', SAMPLE_STATE);
      await store.save('b', other);
      expect(await store.load('a')).toEqual(SAMPLE_STATE);
      expect(await store.load('b')).toEqual(other);
      await store.delete?.('a');
      expect(await store.load('a')).toBeUndefined();
      expect(await store.load('b')).toEqual(other);
      await store.close();
    });

    it('rejects use after close with LIFECYCLE', async () => {
      const store = await open();
      await store.close();
      await expect(store.load('p1')).rejects.toMatchObject({ code: 'LIFECYCLE' });
      await expect(store.load('p1')).rejects.toBeInstanceOf(EtlError);
    });
  });
}
