import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { currentLsn, TestConsumer, waitFor } from './consumer.js';

let db: TestDatabase;
/** The database URL with a short `wal_sender_timeout` for our sessions only (a user-settable GUC). */
let shortTimeoutUrl: string;
const WAL_SENDER_TIMEOUT_MS = 2_000;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_bp');
  await db.query(`CREATE TABLE wide (id int PRIMARY KEY, pad text NOT NULL)`);
  const u = new URL(db.url);
  u.searchParams.set('options', `-c wal_sender_timeout=${WAL_SENDER_TIMEOUT_MS}ms`);
  shortTimeoutUrl = u.toString();
});

afterAll(async () => {
  await db?.drop();
});

async function walsender(slot: string): Promise<{ pid: number; sentLag: bigint } | undefined> {
  const { rows } = await db.query<{ pid: number; lag: string | null }>(
    `SELECT r.pid, (pg_current_wal_lsn() - r.sent_lsn)::text AS lag
       FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1`,
    [slot],
  );
  const r = rows[0];
  return r && r.lag !== null ? { pid: r.pid, sentLag: BigInt(r.lag) } : undefined;
}

describe('PostgresSource backpressure', () => {
  it('the per-session wal_sender_timeout applies to replication connections', async () => {
    const client = new pg.Client({
      connectionString: shortTimeoutUrl,
      replication: 'database',
    } as pg.ClientConfig);
    await client.connect();
    try {
      const { rows } = await client.query('SHOW wal_sender_timeout');
      expect(rows[0].wal_sender_timeout).toBe('2s');
    } finally {
      await client.end();
    }
  });

  it('control: a client that neither reads nor replies is timed out by the walsender', async () => {
    await db.query(`SELECT pg_create_logical_replication_slot('bp_control', 'pgoutput')`);
    await db.query(`CREATE PUBLICATION bp_control FOR TABLE wide`);
    const client = new pg.Client({
      connectionString: shortTimeoutUrl,
      replication: 'database',
    } as pg.ClientConfig);
    client.on('error', () => {});
    await client.connect();
    const ended = client
      .query(
        `START_REPLICATION SLOT bp_control LOGICAL 0/0 (proto_version '1', publication_names 'bp_control')`,
      )
      .then(
        () => 'ended',
        () => 'ended',
      );
    (client as unknown as { connection: { stream: { pause(): void } } }).connection.stream.pause();
    try {
      await waitFor(async () => (await walsender('bp_control')) !== undefined, 10_000, 'walsender');
      // No replies at all: the walsender gives up after wal_sender_timeout.
      await waitFor(
        async () => (await walsender('bp_control')) === undefined,
        4 * WAL_SENDER_TIMEOUT_MS,
        'timeout',
      );
    } finally {
      (client as unknown as { connection: { stream: { resume(): void } } }).connection.stream.resume();
      await Promise.race([ended, new Promise((r) => setTimeout(r, 2_000))]);
      await client.end().catch(() => {});
    }
  });

  it('stops reading when the consumer stops pulling, and stays connected past wal_sender_timeout', async () => {
    const slot = 'bp';
    const c = new TestConsumer(
      { connectionString: shortTimeoutUrl, tables: ['public.wide'], slot, snapshot: 'never' },
      { batch: { maxRows: 5_000, maxDelayMs: 50 }, apply: false },
    );
    try {
      await c.prepare();
      // Open the stream and wait until the walsender is attached.
      const firstPull = c.next(60_000);
      await waitFor(async () => (await walsender(slot)) !== undefined, 10_000, 'walsender');
      const pid = (await walsender(slot))!.pid;
      // 100k rows of ~500 bytes in 100 transactions: ~50 MB of pgoutput data.
      for (let t = 0; t < 100; t++) {
        await db.query(
          `INSERT INTO wide SELECT g, repeat(md5(g::text), 16) FROM generate_series(${t * 1000 + 1}, ${t * 1000 + 1000}) g`,
        );
      }
      const first = await firstPull;
      expect(first?.numRows).toBeGreaterThan(0);
      const end = await currentLsn(db);
      // Not pulling: the source must stop reading and hold at most a batch or two.
      const rssBefore = process.memoryUsage().rss;
      let maxHeldRows = 0;
      const deadline = Date.now() + 3 * WAL_SENDER_TIMEOUT_MS + 1_000;
      while (Date.now() < deadline) {
        const s = c.source.streamStats!;
        maxHeldRows = Math.max(maxHeldRows, s.readyRows + s.bufferedRows);
        await new Promise((r) => setTimeout(r, 100));
      }
      const stats = c.source.streamStats!;
      expect(stats.paused).toBe(true);
      expect(maxHeldRows).toBeLessThanOrEqual(2 * 5_000 + 1_000);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 << 20);
      // The walsender is blocked on the socket far behind the end of WAL, and alive past its timeout.
      const ws = await walsender(slot);
      expect(ws?.pid).toBe(pid);
      expect(ws!.sentLag).toBeGreaterThan(10n << 20n);
      expect(c.events.filter((e) => e.type === 'error')).toEqual([]);

      // Pull again: everything arrives, on the same connection.
      let rows = first!.numRows;
      await c.commit(first!);
      await c.drainUntil(() => {
        rows = c.pulled.reduce((n, b) => n + b.numRows, 0);
        return rows >= 100_000;
      }, 60_000);
      expect(rows).toBe(100_000);
      expect((await walsender(slot))?.pid).toBe(pid);
      expect(c.lastConfirmed!.lsn).toBeGreaterThan(end - (1n << 20n));
    } finally {
      await c.stop();
    }
  }, 120_000);
});
