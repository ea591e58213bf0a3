/**
 * `onSlotLost: 'resnapshot'` on a private PostgreSQL with a tiny
 * `max_slot_wal_keep_size` (a server-wide setting, so not on the shared
 * harness server): a slot invalidated while the pipeline was stopped, or
 * while it was streaming, is replaced by a new slot and a new copy, and the
 * destination ends equal to the table value by value, rows deleted meanwhile
 * included; a rebuild interrupted by a failure starts again on the next run.
 * Under the default policy the pipeline fails with the recovery steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { MemoryDestination } from '../../../src/destinations/memory-destination.js';
import { EtlError } from '../../../src/errors.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { AlertEvent } from '../../../src/pipeline/pipeline-events.js';
import type { ReconcileReport } from '../../../src/pipeline/reconcile.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { MemoryStateStore } from '../../../src/state/memory-state-store.js';
import type { StateStore } from '../../../src/state/state-store.js';
import { urlForDatabase, withClient } from '../../support/postgres.js';
import { type PrivateService, startPrivatePostgres, TINY_SLOT_WAL_SETTINGS } from '../../support/services.js';
import { waitFor } from './consumer.js';

let server: PrivateService;

beforeAll(async () => {
  server = await startPrivatePostgres({ settings: TINY_SLOT_WAL_SETTINGS });
});
afterAll(async () => {
  await server?.stop();
});

/** A fresh database on the private server. */
async function database(name: string): Promise<string> {
  await withClient(server.url, (c) => c.query(`CREATE DATABASE ${name}`));
  const db = urlForDatabase(server.url, name);
  await withClient(db, async (c) => {
    await c.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)');
    await c.query(`INSERT INTO items SELECT g, g, 'n' || g FROM generate_series(1, 300) g`);
    // WAL filler, not published.
    await c.query('CREATE TABLE filler (id int, pad text)');
  });
  return db;
}

type Item = { id: number; v: number; note: string | null };

async function tableRows(db: string): Promise<Item[]> {
  return withClient(db, async (c) => (await c.query<Item>('SELECT id, v, note FROM items ORDER BY id')).rows);
}

function same(dest: MemoryDestination, expected: Item[]): boolean {
  const got = dest.rows('public.items');
  return (
    got.length === expected.length &&
    got.every((r, i) => r.id === expected[i]!.id && r.v === expected[i]!.v && r.note === expected[i]!.note)
  );
}

/** Writes WAL past the keep limit, switching segments and checkpointing, until the slot is invalidated. */
async function loseSlot(db: string, slot: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const status = await withClient(db, async (c) => {
      await c.query(`INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 5000) g`);
      await c.query('SELECT pg_switch_wal()');
      await c.query('CHECKPOINT');
      const { rows } = await c.query<{ wal_status: string }>(
        'SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      return rows[0]?.wal_status;
    });
    if (status === 'lost') return;
  }
  throw new Error(`slot ${slot} was not invalidated`);
}

async function walStatus(db: string, slot: string): Promise<string | undefined> {
  return withClient(db, async (c) => {
    const { rows } = await c.query<{ wal_status: string }>(
      'SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    return rows[0]?.wal_status;
  });
}

/** A state store that survives the pipeline closing it (so the next run resumes). */
function durableStore(inner: MemoryStateStore): StateStore {
  return { load: (p) => inner.load(p), save: (p, s) => inner.save(p, s), close: async () => {} };
}

/**
 * The memory destination across runs (it keeps its rows and watermark), with
 * a gate that holds writes back and an optional failure.
 */
class Target implements Destination {
  readonly name = 'memory';
  readonly inner = new MemoryDestination();
  gate: Promise<void> = Promise.resolve();
  failWhen: ((batch: ChangeBatch) => boolean) | undefined;
  async open(ctx: Parameters<NonNullable<Destination['open']>>[0]): Promise<void> {
    await this.inner.open(ctx);
  }
  async write(batch: ChangeBatch): Promise<void> {
    await this.gate;
    if (this.failWhen?.(batch)) throw new EtlError('DESTINATION', 'injected failure', { retryable: false });
    await this.inner.write(batch);
  }
  committedLsn(pipeline: string) {
    return this.inner.committedLsn(pipeline);
  }
  async close(): Promise<void> {}
}

function run(db: string, name: string, target: Target, store: MemoryStateStore, onSlotLost?: 'resnapshot') {
  const pipeline = new Pipeline({ name })
    .from(
      postgres({
        connectionString: db,
        tables: ['public.items'],
        statusIntervalMs: 200,
        snapshotChunkRows: 100,
        ...(onSlotLost ? { onSlotLost } : {}),
      }),
    )
    .to(target)
    .state(durableStore(store))
    .batch({ maxDelayMs: 20 });
  const alerts: AlertEvent[] = [];
  const reconciles: ReconcileReport[] = [];
  pipeline.on('alert', (a) => alerts.push(a));
  pipeline.on('reconcile', (r) => reconciles.push(r));
  return { pipeline, alerts, reconciles };
}

/** First run: copy and stream until the destination equals the table, then stop. */
async function firstRun(db: string, name: string, target: Target, store: MemoryStateStore): Promise<void> {
  const { pipeline } = run(db, name, target, store);
  await pipeline.start();
  await withClient(db, (c) => c.query('UPDATE items SET v = v + 1000 WHERE id <= 10'));
  const expected = await tableRows(db);
  await waitFor(() => same(target.inner, expected), 20_000, 'first run caught up');
  await waitFor(() => pipeline.status === 'streaming', 20_000, 'snapshot done');
  await pipeline.stop();
}

/** Changes the saved position will never see: deletes (which only an emptied table loses), updates, inserts. */
async function changeMeanwhile(db: string, round: number): Promise<void> {
  await withClient(db, async (c) => {
    await c.query('DELETE FROM items WHERE id % 17 = $1', [round]);
    await c.query('UPDATE items SET v = v + 1, note = NULL WHERE id % 13 = $1', [round]);
    await c.query(
      `INSERT INTO items SELECT g, -g, 'late' FROM generate_series(${1000 + round * 100}, ${1000 + round * 100 + 29}) g`,
    );
  });
}

describe('a lost replication slot', () => {
  it('rejects an unknown policy, naming the option', () => {
    expect(() => postgres({ connectionString: server.url, onSlotLost: 'rebuild' as never })).toThrowError(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('`onSlotLost`') }),
    );
  });

  it('fails with the recovery steps under the default policy', async () => {
    const db = await database('lost_fail');
    const target = new Target();
    const store = new MemoryStateStore();
    await firstRun(db, 'lost-fail', target, store);
    await loseSlot(db, 'etl_lost_fail');
    const { pipeline } = run(db, 'lost-fail', target, store);
    const err = await pipeline.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EtlError);
    expect((err as EtlError).code).toBe('PG_SLOT_INVALID');
    expect((err as EtlError).hint).toMatch(/onSlotLost: 'resnapshot'|drop the slot/);
  });

  it('lost while stopped: rebuilds from a new slot and ends equal to the table, deletes included', async () => {
    const db = await database('lost_stopped');
    const target = new Target();
    const store = new MemoryStateStore();
    await firstRun(db, 'lost-stopped', target, store);
    await changeMeanwhile(db, 1);
    await loseSlot(db, 'etl_lost_stopped');

    const { pipeline, alerts, reconciles } = run(db, 'lost-stopped', target, store, 'resnapshot');
    await pipeline.start();
    try {
      expect(reconciles[0]?.outcome).toBe('rebuild');
      expect(reconciles[0]?.message).toMatch(/was invalidated/);
      let expected = await tableRows(db);
      await waitFor(() => same(target.inner, expected), 30_000, 'destination rebuilt');
      await waitFor(() => pipeline.status === 'streaming', 20_000, 'streaming from the new slot');
      expect(await walStatus(db, 'etl_lost_stopped')).toBe('reserved');
      const lost = alerts.filter((a) => a.key === 'slot-lost:etl_lost_stopped');
      expect(lost.map((a) => [a.severity, a.resolved])).toEqual([
        ['critical', false],
        ['critical', true],
      ]);
      // And it keeps streaming from the new slot.
      await changeMeanwhile(db, 2);
      expected = await tableRows(db);
      await waitFor(() => same(target.inner, expected), 20_000, 'changes after the rebuild');
    } finally {
      await pipeline.stop();
    }
    expect((await store.load('lost-stopped'))?.checkpoint.snapshot).toBeUndefined();
  });

  it('lost while streaming: the source rebuilds without stopping the pipeline', async () => {
    const db = await database('lost_streaming');
    const target = new Target();
    const store = new MemoryStateStore();
    const { pipeline, alerts } = run(db, 'lost-streaming', target, store, 'resnapshot');
    await pipeline.start();
    try {
      let expected = await tableRows(db);
      await waitFor(() => same(target.inner, expected), 20_000, 'snapshot applied');
      await waitFor(() => pipeline.status === 'streaming', 20_000, 'streaming');
      // Hold every write back: nothing is confirmed, the slot falls behind until it is invalidated.
      let open!: () => void;
      target.gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      await changeMeanwhile(db, 3);
      await loseSlot(db, 'etl_lost_streaming');
      await changeMeanwhile(db, 4);
      open();
      expected = await tableRows(db);
      await waitFor(() => same(target.inner, expected), 30_000, 'destination rebuilt');
      await waitFor(
        () => alerts.some((a) => a.key === 'slot-lost:etl_lost_streaming' && a.resolved),
        20_000,
        'rebuild finished',
      );
      expect(pipeline.status).not.toBe('failed');
      expect(await walStatus(db, 'etl_lost_streaming')).toBe('reserved');
      await changeMeanwhile(db, 5);
      expected = await tableRows(db);
      await waitFor(() => same(target.inner, expected), 20_000, 'changes after the rebuild');
    } finally {
      await pipeline.stop();
    }
  });

  it('a rebuild cut short by a failure starts again on the next run', async () => {
    const db = await database('lost_retry');
    const target = new Target();
    const store = new MemoryStateStore();
    await firstRun(db, 'lost-retry', target, store);
    await changeMeanwhile(db, 6);
    await loseSlot(db, 'etl_lost_retry');

    // The reset goes through; the first chunk of the new copy fails the pipeline.
    target.failWhen = (b) =>
      b.checkpoint.snapshot !== undefined && b.checkpoint.snapshot.consistentPoint !== 0n;
    const first = run(db, 'lost-retry', target, store, 'resnapshot');
    await first.pipeline.start();
    await expect(first.pipeline.wait()).rejects.toThrow(/injected failure/);
    await first.pipeline.stop();
    expect((await store.load('lost-retry'))?.checkpoint.snapshot?.consistentPoint).toBe(0n);
    expect(target.inner.rows('public.items')).toEqual([]); // emptied, not yet copied

    // The unfinished rebuild is not mistaken for a snapshot under the default policy.
    const strict = run(db, 'lost-retry', target, store);
    await expect(strict.pipeline.start()).rejects.toMatchObject({
      code: 'PG_SLOT_INVALID',
      message: expect.stringContaining('unfinished rebuild'),
    });

    await changeMeanwhile(db, 7);
    target.failWhen = undefined;
    const second = run(db, 'lost-retry', target, store, 'resnapshot');
    await second.pipeline.start();
    try {
      expect(second.reconciles[0]?.outcome).toBe('rebuild');
      expect(second.reconciles[0]?.message).toMatch(/did not finish/);
      const expected = await tableRows(db);
      await waitFor(() => same(target.inner, expected), 30_000, 'destination rebuilt');
      await waitFor(() => second.pipeline.status === 'streaming', 20_000, 'streaming');
    } finally {
      await second.pipeline.stop();
    }
  });
});
