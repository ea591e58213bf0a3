import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import type { Checkpoint } from '../../../src/change/checkpoint.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { ChangeOp, rowsOf, slotLsn, TestConsumer } from './consumer.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_snap');
  await db.query(
    `CREATE TABLE small (id int PRIMARY KEY, v int NOT NULL, label text, at timestamptz DEFAULT now())`,
  );
  await db.query(`INSERT INTO small SELECT g, 0, 'row ' || g FROM generate_series(1, 20000) g`);
  await db.query(`CREATE TABLE big (id int8 PRIMARY KEY, v int NOT NULL, label text)`);
  await db.query(`INSERT INTO big SELECT g, 0, 'r' || g FROM generate_series(1, 1000000) g`);
  await db.query(`CREATE TABLE heap (a int, b text)`);
  await db.query(`INSERT INTO heap SELECT g, 'h' || g FROM generate_series(1, 5000) g`);
  await db.query('VACUUM ANALYZE small, big, heap');
});

afterAll(async () => {
  await db?.drop();
});

/** Applies batches in order with a watermark; counts, per id, the rows that made it (reads and inserts). */
function appearances(batches: readonly ChangeBatch[], table: string): Map<number, number> {
  let watermark = -1n;
  const seen = new Map<number, number>();
  for (const b of batches) {
    const fresh = watermark < 0n ? b : b.after(watermark);
    for (const r of rowsOf([fresh], table)) {
      if (r.op === ChangeOp.Insert || r.op === ChangeOp.Read) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
    }
    if (!b.partial && b.commitLsn > watermark) watermark = b.commitLsn;
  }
  return seen;
}

/** Applies `big` rows (id → v, -1 when absent) in order, skipping replays by watermark. */
function applyBig(state: Int32Array, batches: readonly ChangeBatch[]): void {
  let watermark = -1n;
  for (const b of batches) {
    const fresh = watermark < 0n ? b : b.after(watermark);
    const e = fresh.rowsOf('public.big');
    if (e) {
      const ids = e.data.getChild('id')!;
      const vs = e.data.getChild('v')!;
      const ops = e.data.getChild('_etl_op')!;
      for (let i = 0; i < e.data.numRows; i++) {
        const id = Number(ids.get(i));
        state[id] = ops.get(i) === ChangeOp.Delete ? -1 : (vs.get(i) as number);
      }
    }
    if (!b.partial && b.commitLsn > watermark) watermark = b.commitLsn;
  }
}

describe('PostgresSource initial snapshot', () => {
  it('is consistent with the stream: rows written during the snapshot appear exactly once', async () => {
    const c = new TestConsumer(
      { connectionString: db.url, tables: ['public.small'], slot: 'snap_small', snapshotChunkRows: 2_000 },
      { batch: { maxDelayMs: 20 } },
    );
    try {
      const first = await c.next();
      await c.commit(first!);
      expect(first!.checkpoint.snapshot?.tables['public.small']?.status).toBe('copying');
      // Writes while the snapshot is being copied: inserts past the end, updates and deletes across the key range.
      await db.query(`INSERT INTO small SELECT g, 1, 'during' FROM generate_series(20001, 20500) g`);
      await db.query(`UPDATE small SET v = 2 WHERE id % 100 = 0`);
      await db.query(`DELETE FROM small WHERE id % 333 = 0`);
      await db.query(`INSERT INTO small VALUES (333, 3, 're-inserted')`);
      const { rows: expected } = await db.query<{ id: number; v: number }>(
        `SELECT id, v FROM small ORDER BY id`,
      );
      await c.drainUntil(() => {
        const got = c.dest.rows('public.small');
        return (
          got.length === expected.length &&
          got.every((r, i) => r.id === expected[i]!.id && r.v === expected[i]!.v)
        );
      });
      const seen = appearances(c.pulled, 'public.small');
      for (const id of [20001, 20250, 20500, 1, 19999]) expect(seen.get(id)).toBe(1);
      expect(seen.get(333)).toBe(2); // read by the snapshot, deleted, inserted again
      const progress = c.events.filter((e) => e.type === 'snapshot:progress');
      expect(progress.at(-1)?.payload).toEqual({ table: 'public.small', rows: 20_000, done: true });
    } finally {
      await c.stop();
    }
  });

  it('resumes a killed 1M-row snapshot without re-reading finished chunks; snapshot + stream equal the table', async () => {
    const options = {
      connectionString: db.url,
      tables: ['public.big', 'public.heap'],
      slot: 'snap_big',
      snapshotChunkRows: 100_000,
      appendOnly: true,
    };
    const c1 = new TestConsumer(options, { batch: { maxDelayMs: 20 }, apply: false });
    const readFirst = new Set<number>();
    let saved: Checkpoint | undefined;
    try {
      for (let i = 0; i < 3; i++) {
        const b = (await c1.next(60_000))!;
        for (const r of rowsOf([b], 'public.big')) readFirst.add(r.id);
        saved = b.checkpoint; // "saved in the state store" once durable
      }
      // One more chunk is read but never saved: the crash comes before it is durable.
      await c1.next(60_000);
    } finally {
      await c1.stop();
    }
    expect(readFirst.size).toBe(300_000);
    expect(saved?.snapshot?.tables['public.big']).toMatchObject({
      status: 'copying',
      rows: 300_000,
      lastKey: ['300000'],
    });
    // The slot did not move during the snapshot.
    expect(await slotLsn(db, 'snap_big')).toBe(saved!.snapshot!.consistentPoint);

    // Changes while the pipeline is down, both in finished and in remaining chunks.
    await db.query(`UPDATE big SET v = 1 WHERE id IN (5, 150000, 500000, 999999)`);
    await db.query(`DELETE FROM big WHERE id IN (6, 600000)`);
    await db.query(`INSERT INTO big VALUES (1000001, 7, 'new')`);
    await db.query(`INSERT INTO heap VALUES (-1, 'new')`);

    const c2 = new TestConsumer(options, { batch: { maxDelayMs: 20 }, resumeFrom: saved, apply: false });
    const idsSecond = new Uint8Array(1_000_002);
    let readSecond = 0;
    try {
      await c2.drainUntil(
        () => c2.lastConfirmed !== undefined && c2.lastConfirmed.snapshot === undefined,
        120_000,
      );
      for (const b of c2.pulled) {
        for (const r of rowsOf([b], 'public.big')) {
          if (r.op !== ChangeOp.Read) continue;
          readSecond++;
          idsSecond[r.id] = 1;
        }
      }
      // Only the remaining chunks were read again: ids 300001.. (minus the one deleted meanwhile, plus the new one).
      expect(readSecond).toBe(1_000_001 - 300_000 - 1);
      for (const id of [1, 300_000]) expect(idsSecond[id]).toBe(0);
      for (const id of [300_001, 999_999, 1_000_001]) expect(idsSecond[id]).toBe(1);
      // 7 full chunks, the empty one that ends the table, and the heap table's page-range chunks.
      const bigChunks = c2.source.snapshotChunks;
      expect(bigChunks).toBeGreaterThanOrEqual(8);

      // The stream replays the changes made since the consistent point: finished chunks (run 1) +
      // remaining chunks and the stream (run 2), applied with a watermark, equal the table.
      await c2.drainUntil(() =>
        c2.pulled.some((b) =>
          rowsOf([b], 'public.big').some((r) => r.op === ChangeOp.Insert && r.id === 1_000_001),
        ),
      );
      const state = new Int32Array(1_000_002).fill(-1);
      applyBig(state, c1.pulled.slice(0, 3));
      applyBig(state, c2.pulled);
      const { rows } = await db.query<{ id: string; v: number }>(`SELECT id::text AS id, v FROM big`);
      const expected = new Int32Array(1_000_002).fill(-1);
      for (const r of rows) expected[Number(r.id)] = r.v;
      let diff = 0;
      for (let i = 0; i < expected.length; i++) if (expected[i] !== state[i]) diff++;
      expect(diff).toBe(0);
      // heap (no key): read by ctid pages, every row once, plus the insert.
      const heapReads = rowsOf(c2.pulled, 'public.heap', 'a').filter((r) => r.op === ChangeOp.Read);
      expect(heapReads).toHaveLength(5001);
      expect(new Set(heapReads.map((r) => r.id)).size).toBe(5001);
    } finally {
      await c2.stop();
    }
  }, 180_000);
});
