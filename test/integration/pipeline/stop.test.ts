/**
 * stop() on a real stream: while a workload keeps PostgreSQL busy, stop()
 * returns within its bound with everything it wrote confirmed — the slot's
 * confirmed_flush_lsn, the position saved in Redis and the DuckDB watermark
 * all name the last committed batch — and leaves no connection (PostgreSQL
 * backends, walsenders, Redis clients) and no socket or timer in this
 * process. A second run resumes from there and ends equal to the source.
 * And stop() right after start(), while the replication connection is still
 * being set up, returns.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../../src/change/checkpoint.js';
import { duckdb } from '../../../src/destinations/duckdb/duckdb-destination.js';
import { memory } from '../../../src/destinations/memory-destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { MemoryStateStore } from '../../../src/state/memory-state-store.js';
import { redisState } from '../../../src/state/redis/redis-state-store.js';
import type { StateStore } from '../../../src/state/state-store.js';
import type { PrivateService } from '../../../src/testing/private-services.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { startPrivateRedis } from '../../support/services.js';
import { slotLsn, waitFor } from '../postgres-source/consumer.js';
import { transactionAt } from './support/scenario.js';
import { aliasedRows, columnsOf, diffRows, duckdbSelect, NO_DIFF, sourceRows } from './support/tables.js';

let db: TestDatabase;
let redis: PrivateService;
let admin: Redis;
let work: string;

beforeAll(async () => {
  db = await createTestDatabase('etl_pipe_stop');
  // A Redis of its own, so CLIENT LIST shows only this file's clients.
  redis = await startPrivateRedis();
  admin = new Redis(redis.url, { connectionName: 'test-admin' });
  work = await mkdtemp(join(tmpdir(), 'etl-pipe-stop-'));
});
afterAll(async () => {
  await admin?.quit();
  await redis?.stop();
  await db?.drop();
  await rm(work, { recursive: true, force: true });
});

/** Handles and timers of this process, counted by type. */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** What is open now that was not before, by type. */
function leaked(before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [type, n] of resources()) {
    const extra = n - (before.get(type) ?? 0);
    if (extra > 0) out[type] = extra;
  }
  return out;
}

/** Backends of the test database other than the one asking. */
async function backends(): Promise<{ pid: number; backend_type: string; application_name: string }[]> {
  const { rows } = await db.query(
    `SELECT pid, backend_type, application_name FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [db.name],
  );
  return rows as { pid: number; backend_type: string; application_name: string }[];
}

/** Redis clients other than the test's own. */
async function redisClients(): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list.split('\n').filter((line) => line.trim() !== '' && !line.includes('name=test-admin'));
}

/** Inserts and updates in a loop, many small transactions, until stopped. */
function busyWorkload(url: string): { stop: () => Promise<void> } {
  let running = true;
  const done = (async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (let n = 0; running; n++) {
        const from = 100_000 + n * 200;
        await client.query(
          `INSERT INTO busy SELECT g, 'new ' || g FROM generate_series(${from}, ${from + 199}) g`,
        );
        await client.query(`UPDATE busy SET v = v || '.' WHERE id % 50 = ${n % 50} AND id < 5000`);
      }
    } finally {
      await client.end();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

async function duckdbWatermark(path: string, pipeline: string): Promise<bigint | undefined> {
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  try {
    const result = await connection.runAndReadAll(
      `SELECT CAST(commit_lsn AS VARCHAR) AS lsn FROM main._etl_watermark WHERE pipeline = '${pipeline}'`,
    );
    const v = result.getRowObjectsJson()[0]?.lsn;
    return v === undefined ? undefined : BigInt(String(v));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('stop()', () => {
  it('during a busy stream: returns in bounded time, everything written confirmed, nothing left open', async () => {
    await db.query(`CREATE TABLE busy (id int PRIMARY KEY, v text NOT NULL)`);
    await db.query(`INSERT INTO busy SELECT g, 'v' || g FROM generate_series(1, 5000) g`);
    const path = join(work, 'busy.duckdb');
    const keyPrefix = 'stop-test:';
    const before = resources();
    const stopTimeoutMs = 10_000;
    const make = () => {
      const dest = duckdb({ path, tempDir: work });
      const p = new Pipeline({ name: 'busy', stopTimeoutMs })
        .from(postgres({ connectionString: db.url, tables: ['public.busy'], statusIntervalMs: 500 }))
        .to(dest)
        .state(redisState({ url: redis.url, keyPrefix }))
        .batch({ maxRows: 2_000, maxDelayMs: 20 });
      return { pipeline: p, dest };
    };
    const { pipeline } = make();
    let read = 0;
    const commits: Checkpoint[] = [];
    pipeline.on('batch', ({ batch }) => void (batch.partial || read++));
    pipeline.on('commit', ({ checkpoint }) => void commits.push(checkpoint));
    await pipeline.start();
    await waitFor(() => commits.some((c) => !c.snapshot), 30_000, 'streaming');
    const workload = busyWorkload(db.url);
    let stopped: Promise<void> | undefined;
    try {
      const streamed = () => commits.filter((c) => !c.snapshot).length;
      const at = streamed();
      await waitFor(() => streamed() >= at + 10, 30_000, 'a busy stream');
      const t0 = Date.now();
      stopped = pipeline.stop();
      await stopped;
      // The bound is the contract: the drain's time limit plus closing.
      expect(Date.now() - t0).toBeLessThan(stopTimeoutMs + 5_000);
    } finally {
      await stopped?.catch(() => {});
      await workload.stop();
    }
    expect(pipeline.status).toBe('stopped');

    // Everything read was written and confirmed: the slot, the saved state and the destination agree.
    expect(commits.length).toBe(read);
    const last = commits.at(-1)!;
    const store = redisState({ url: redis.url, keyPrefix });
    const saved = (await store.load('busy'))!;
    await store.close();
    expect(saved.checkpoint.commitLsn).toBe(last.commitLsn);
    expect(saved.checkpoint.lsn).toBeGreaterThanOrEqual(last.lsn);
    await waitFor(async () => (await slotLsn(db, 'etl_busy')) === saved.checkpoint.lsn, 5_000, 'slot');
    expect(await slotLsn(db, 'etl_busy')).toBe(saved.checkpoint.lsn);
    expect(await duckdbWatermark(path, 'busy')).toBe(last.commitLsn);

    // Nothing left open: no backend or walsender of this database, no Redis client, no socket or timer here.
    await waitFor(async () => (await backends()).length === 0, 5_000, 'backends gone');
    expect(await backends()).toEqual([]);
    const { rows: slots } = await db.query(
      `SELECT active FROM pg_replication_slots WHERE slot_name = 'etl_busy'`,
    );
    expect(slots).toEqual([{ active: false }]);
    await waitFor(async () => (await redisClients()).length === 0, 5_000, 'redis clients gone');
    expect(await redisClients()).toEqual([]);
    await waitFor(() => Object.keys(leaked(before)).length === 0, 2_000, 'handles closed').catch(() => {});
    expect(leaked(before)).toEqual({});

    // The next run resumes from there and ends equal to the source.
    const end = await transactionAt(db.url, `UPDATE busy SET v = 'end' WHERE id = 1`);
    const { pipeline: again, dest } = make();
    await again.start();
    try {
      await waitFor(async () => ((await dest.committedLsn('busy')) ?? 0n) >= end, 30_000, 'caught up');
    } finally {
      await again.stop();
    }
    const spec = { table: 'public.busy', key: 'id' };
    const columns = await columnsOf(db, spec.table);
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    try {
      const got = aliasedRows(
        (await connection.runAndReadAll(duckdbSelect(spec, columns))).getRowObjectsJson(),
        columns,
      );
      expect(diffRows(await sourceRows(db, spec, columns), got)).toEqual(NO_DIFF);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }, 120_000);

  it('right after start(), while connections are still being set up (snapshot or stream), returns', async () => {
    await db.query(`CREATE TABLE quick (id int PRIMARY KEY)`);
    await db.query(`INSERT INTO quick VALUES (1), (2)`);
    const inner = new MemoryStateStore();
    const store: StateStore = {
      load: (p) => inner.load(p),
      save: (p, s) => inner.save(p, s),
      close: async () => {},
    };
    const make = (dest = memory()) =>
      new Pipeline({ name: 'quick' })
        .from(postgres({ connectionString: db.url, tables: ['public.quick'] }))
        .to(dest)
        .state(store)
        .batch({ maxDelayMs: 20 });
    const first = memory();
    const p = make(first);
    await p.start();
    await waitFor(() => first.rows('public.quick').length === 2, 20_000, 'snapshot');
    await p.stop();
    for (let i = 0; i < 3; i++) {
      const q = make();
      await q.start();
      const outcome = await Promise.race([
        q.stop().then(() => 'stopped'),
        new Promise((r) => setTimeout(() => r('still stopping after 10 s'), 10_000).unref()),
      ]);
      expect(outcome).toBe('stopped');
    }
  });
});
