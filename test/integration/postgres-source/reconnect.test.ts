import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { ChangeOp, rowsOf, TestConsumer, waitFor } from './consumer.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_reconn');
  await db.query(`CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL, pad text)`);
  await db.query(`INSERT INTO events SELECT g, 0, 'seed' FROM generate_series(1, 1000) g`);
});

afterAll(async () => {
  await db?.drop();
});

async function terminateWalsender(slot: string): Promise<number> {
  const { rows } = await db.query(
    `SELECT pg_terminate_backend(active_pid) AS ok FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`,
    [slot],
  );
  return rows.length;
}

/** Applies batches in order with a watermark, like a destination that dedupes by `_etl_lsn`; counts inserts per id. */
function insertsAfterDedup(batches: readonly ChangeBatch[]): Map<number, number> {
  let watermark = -1n;
  const inserts = new Map<number, number>();
  for (const b of batches) {
    const fresh = watermark < 0n ? b : b.after(watermark);
    for (const r of rowsOf([fresh], 'public.events')) {
      if (r.op === ChangeOp.Insert) inserts.set(r.id, (inserts.get(r.id) ?? 0) + 1);
    }
    if (!b.partial && b.commitLsn > watermark) watermark = b.commitLsn;
  }
  return inserts;
}

describe('PostgresSource reconnection', () => {
  it('survives walsender termination mid-transaction: every committed change once after dedup, none missing', async () => {
    const slot = 'reconn';
    const c = new TestConsumer(
      {
        connectionString: db.url,
        tables: ['public.events'],
        slot,
        statusIntervalMs: 200,
        reconnect: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 20 },
      },
      { batch: { maxRows: 3_000, maxDelayMs: 20 } },
    );
    let stop = false;
    // Reconnects are the source's business: anything but a quiet moment ends the consumer and fails the test.
    let failure: unknown;
    const consumer = (async () => {
      while (!stop) {
        let b: ChangeBatch | undefined;
        try {
          b = await c.next(500);
        } catch (err) {
          if (err instanceof Error && err.message.startsWith('no batch within')) continue;
          failure = err;
          return;
        }
        if (!b) return;
        await c.commit(b);
      }
    })();
    const healthy = () => {
      if (failure) throw failure;
    };
    try {
      await waitFor(
        () => {
          healthy();
          return c.dest.rows('public.events').length === 1000;
        },
        20_000,
        'snapshot applied',
      );
      let nextId = 2000;
      let kills = 0;
      for (let round = 0; round < 6; round++) {
        // A large transaction (streamed in chunks on PG14+ when big enough), then small ones.
        const from = nextId;
        nextId += 20_000;
        const big = db.query(
          `INSERT INTO events SELECT g, ${round}, repeat('x', 50) FROM generate_series(${from}, ${nextId - 1}) g`,
        );
        await new Promise((r) => setTimeout(r, 30 + round * 40));
        kills += await terminateWalsender(slot);
        await big;
        for (let t = 0; t < 5; t++) {
          await db.query(
            `BEGIN; UPDATE events SET v = v + 1 WHERE id % 7 = ${t}; DELETE FROM events WHERE id % 97 = ${round * 5 + t}; INSERT INTO events VALUES (${nextId++}, ${t}, 'small'); COMMIT`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
        kills += await terminateWalsender(slot);
      }
      healthy();
      expect(kills).toBeGreaterThan(3);
      const { rows: expected } = await db.query<{ id: number; v: number }>(
        `SELECT id, v FROM events ORDER BY id`,
      );
      await waitFor(
        () => {
          healthy();
          const got = c.dest.rows('public.events');
          return (
            got.length === expected.length &&
            got.every((r, i) => r.id === expected[i]!.id && r.v === expected[i]!.v)
          );
        },
        60_000,
        'destination equal to the table',
      );
      const reconnects = c.events.filter((e) => e.type === 'error' && !e.payload.fatal);
      expect(reconnects.length).toBeGreaterThan(0);
      // Every inserted row was applied exactly once after watermark de-duplication.
      const inserts = insertsAfterDedup(c.pulled);
      for (const [id, n] of inserts) if (n !== 1) throw new Error(`id ${id} inserted ${n} times after dedup`);
      expect(inserts.size).toBe(nextId - 2000);
    } finally {
      stop = true;
      await c.stop();
      await consumer;
    }
  });
});
