import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../../src/destinations/memory-destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { MemoryStateStore } from '../../../src/state/memory-state-store.js';
import type { StateStore } from '../../../src/state/state-store.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { slotLsn, waitFor } from './consumer.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_pipe');
  await db.query(`CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, total numeric(12,2))`);
  await db.query(`INSERT INTO orders SELECT g, 'new', g * 1.5 FROM generate_series(1, 500) g`);
});

afterAll(async () => {
  await db?.drop();
});

/** A state store that survives the pipeline closing it (so a second run can resume). */
function durable(inner: MemoryStateStore): StateStore {
  return { load: (p) => inner.load(p), save: (p, s) => inner.save(p, s), close: async () => {} };
}

async function tableRows(): Promise<{ id: number; status: string }[]> {
  return (await db.query<{ id: number; status: string }>(`SELECT id, status FROM orders ORDER BY id`)).rows;
}

function same(dest: MemoryDestination, expected: { id: number; status: string }[]): boolean {
  const got = dest.rows('public.orders');
  return (
    got.length === expected.length &&
    got.every((r, i) => r.id === expected[i]!.id && r.status === expected[i]!.status)
  );
}

describe('PostgresSource in a Pipeline', () => {
  it('snapshots, streams, stops, and resumes from the saved checkpoint', async () => {
    const store = new MemoryStateStore();
    const source = () =>
      postgres({
        connectionString: db.url,
        tables: ['public.orders'],
        publication: 'orders_pub',
        statusIntervalMs: 500,
      });
    const dest1 = new MemoryDestination();
    const p1 = new Pipeline({ name: 'orders-e2e' })
      .from(source())
      .to(dest1)
      .state(durable(store))
      .batch({ maxDelayMs: 50 });
    await p1.start();
    await db.query(`UPDATE orders SET status = 'paid' WHERE id <= 100`);
    await db.query(`DELETE FROM orders WHERE id > 490`);
    let expected = await tableRows();
    await waitFor(() => same(dest1, expected), 20_000, 'first run caught up');
    // The rows may all be there while the snapshot's last (empty) checkpoint is not durable yet.
    await waitFor(() => p1.status === 'streaming', 20_000, 'snapshot done');
    await p1.stop();
    const saved = (await store.load('orders-e2e'))!;
    expect(saved.checkpoint.snapshot).toBeUndefined();
    await waitFor(
      // The idle rule may have moved it further (nothing was in flight).
      async () => ((await slotLsn(db, 'etl_orders_e2e')) ?? 0n) >= saved.checkpoint.lsn,
      5_000,
      'slot at saved lsn',
    );

    // While stopped.
    await db.query(`INSERT INTO orders VALUES (1000, 'late', 1)`);
    await db.query(`UPDATE orders SET status = 'shipped' WHERE id = 1`);
    expected = await tableRows();

    const dest2 = new MemoryDestination();
    const p2 = new Pipeline({ name: 'orders-e2e' })
      .from(source())
      .to(dest2)
      .state(durable(store))
      .batch({ maxDelayMs: 50 });
    await p2.start();
    try {
      await waitFor(() => dest2.rows('public.orders').length === 2, 20_000, 'second run got the changes');
      // No second snapshot: only the changes made while stopped.
      expect(dest2.rows('public.orders').map((r) => [r.id, r.status])).toEqual([
        [1, 'shipped'],
        [1000, 'late'],
      ]);
    } finally {
      await p2.stop();
    }
    expect(expected.find((r) => r.id === 1000)?.status).toBe('late');
  });
});
