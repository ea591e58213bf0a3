import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { minLsn } from '../../../src/lsn.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { ChangeOp, currentLsn, rowsOf, slotLsn, TestConsumer, waitFor } from './consumer.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_stream');
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, label text, amount numeric(12,2))`);
  await db.query(`CREATE TABLE other (id int PRIMARY KEY, note text)`);
  await db.query(`INSERT INTO items SELECT g, 'seed ' || g, g FROM generate_series(1, 100) g`);
});

afterAll(async () => {
  await db?.drop();
});

describe('PostgresSource streaming', () => {
  it('snapshots, then yields whole transactions; the slot never passes an unconfirmed change', async () => {
    const c = new TestConsumer(
      { connectionString: db.url, tables: ['public.items'], slot: 'stream_a', statusIntervalMs: 200 },
      { batch: { maxRows: 25, maxDelayMs: 20 } },
    );
    try {
      // Snapshot: 100 seed rows, then the final snapshot batch.
      await c.drainUntil(() => c.lastConfirmed !== undefined && c.lastConfirmed.snapshot === undefined);
      expect(c.dest.rows('public.items')).toHaveLength(100);
      const afterSnapshot = await slotLsn(db, 'stream_a');

      // Ten transactions of 10 rows each (a batch holds whole transactions only).
      for (let t = 0; t < 10; t++) {
        await db.query(
          `INSERT INTO items SELECT g, 'tx ${t}', g FROM generate_series(${1000 + t * 10}, ${1009 + t * 10}) g`,
        );
      }
      const batches: ChangeBatch[] = [];
      let rows = 0;
      while (rows < 100) {
        const b = await c.next();
        expect(b).toBeDefined();
        batches.push(b!);
        rows += b!.numRows;
      }
      // Each transaction's rows sit in exactly one batch, and every batch holds whole transactions.
      const byLsn = new Map<bigint, Set<number>>();
      batches.forEach((b, i) => {
        for (const r of rowsOf([b], 'public.items')) {
          expect(r.op).toBe(ChangeOp.Insert);
          if (!byLsn.has(r.lsn)) byLsn.set(r.lsn, new Set());
          byLsn.get(r.lsn)!.add(i);
        }
      });
      expect(byLsn.size).toBe(10);
      for (const where of byLsn.values()) expect(where.size).toBe(1);
      expect(batches.reduce((n, b) => n + b.transactions, 0)).toBe(10);

      // Nothing confirmed: past the status interval several times, the slot is still at or before the
      // commit of the first transaction handed out (a slot at P resends every transaction committed at
      // P or later). It may have moved on its own before the inserts, while nothing was in flight.
      await new Promise((r) => setTimeout(r, 1_000));
      const firstCommit = rowsOf(batches, 'public.items')
        .map((r) => r.lsn)
        .reduce(minLsn);
      const held = (await slotLsn(db, 'stream_a'))!;
      expect(held).toBeGreaterThanOrEqual(afterSnapshot!);
      expect(held).toBeLessThanOrEqual(firstCommit);

      // Confirm the first batch only: the slot moves exactly there.
      await c.commit(batches[0]!);
      await waitFor(
        async () => (await slotLsn(db, 'stream_a')) === batches[0]!.checkpoint.lsn,
        5_000,
        'slot at batch 1',
      );
      await new Promise((r) => setTimeout(r, 600));
      expect(await slotLsn(db, 'stream_a')).toBe(batches[0]!.checkpoint.lsn);

      for (const b of batches.slice(1)) await c.commit(b);
      const last = batches.at(-1)!.checkpoint.lsn;
      await waitFor(async () => ((await slotLsn(db, 'stream_a')) ?? 0n) >= last, 5_000, 'slot at last batch');
      expect(c.dest.rows('public.items')).toHaveLength(200);
    } finally {
      await c.stop();
    }
  });

  it('an idle slot advances to the keepalive position when nothing is in flight', async () => {
    const c = new TestConsumer({
      connectionString: db.url,
      tables: ['public.items'],
      slot: 'stream_idle',
      snapshot: 'never',
      statusIntervalMs: 200,
    });
    try {
      await c.prepare();
      void c.next(40_000).catch(() => undefined);
      // Changes only in a table outside the publication.
      for (let i = 0; i < 5; i++) await db.query(`INSERT INTO other VALUES (${i}, 'x')`);
      // WAL is shared by all databases: under parallel test load the walsender decodes the
      // other files' WAL too before it reaches the target, hence the generous bound.
      const target = await currentLsn(db);
      await waitFor(
        async () => ((await slotLsn(db, 'stream_idle')) ?? 0n) >= target,
        30_000,
        'idle slot advance',
      );
      expect(c.pulled).toHaveLength(0);
    } finally {
      await c.stop();
    }
  });

  it('a heartbeat moves the slot while our tables are quiet', async () => {
    const c = new TestConsumer({
      connectionString: db.url,
      tables: ['public.items'],
      slot: 'stream_beat',
      snapshot: 'never',
      heartbeat: { intervalMs: 1_000 },
    });
    try {
      await c.prepare();
      void c.next(40_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      const target = await currentLsn(db);
      await waitFor(
        async () => ((await slotLsn(db, 'stream_beat')) ?? 0n) >= target,
        30_000,
        'heartbeat advance',
      );
    } finally {
      await c.stop();
    }
  });

  it('stops promptly when stopped while the slot is still being created', async () => {
    // An open transaction with an xid holds slot creation back (it waits for a consistent point).
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT txid_current()');
    const c = new TestConsumer({
      connectionString: db.url,
      tables: ['public.items'],
      slot: 'stream_creating',
      snapshot: 'never',
    });
    try {
      await c.prepare();
      void c.next(30_000).catch(() => undefined);
      await waitFor(async () => {
        const { rows } = await db.query(
          `SELECT 1 FROM pg_replication_slots WHERE slot_name = 'stream_creating'`,
        );
        return rows.length === 1;
      });
      const stopped = c.stop();
      await new Promise((r) => setTimeout(r, 200));
      await blocker.query('COMMIT'); // the slot is created now, after the stop
      const started = Date.now();
      await stopped;
      expect(Date.now() - started).toBeLessThan(10_000);
      // Nothing streams from the slot any more.
      await waitFor(async () => {
        const { rows } = await db.query(
          `SELECT active FROM pg_replication_slots WHERE slot_name = 'stream_creating'`,
        );
        return rows[0]?.active === false;
      });
    } finally {
      await blocker.end().catch(() => {});
      await c.stop();
    }
  });
});
