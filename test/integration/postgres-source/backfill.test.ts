/**
 * Adding a table to a running pipeline: the new table is copied (backfill)
 * while the others keep streaming, under concurrent writes to both, and in
 * the end the destination equals the source value by value. Also: a table
 * configured between runs is backfilled at start, and a backfill interrupted
 * by a stop resumes without copying finished chunks again.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import { MemoryDestination } from '../../../src/destinations/memory-destination.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { MemoryStateStore } from '../../../src/state/memory-state-store.js';
import type { StateStore } from '../../../src/state/state-store.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { rowsOf, waitFor } from './consumer.js';

let db: TestDatabase;

/** ~5 KB per row, stored out of line (TOAST): an UPDATE of `v` alone does not resend it. */
const BODY = (id: string) => `repeat(md5((${id})::text), 160)`;

async function createTables(suffix: string, rowsA: number, rowsB: number): Promise<void> {
  await db.query(`CREATE TABLE a${suffix} (id int PRIMARY KEY, v int NOT NULL, note text)`);
  await db.query(`CREATE TABLE b${suffix} (id int PRIMARY KEY, v int NOT NULL, body text)`);
  await db.query(`ALTER TABLE b${suffix} ALTER body SET STORAGE EXTERNAL`);
  await db.query(`INSERT INTO a${suffix} SELECT g, 0, 'a' || g FROM generate_series(1, ${rowsA}) g`);
  await db.query(`INSERT INTO b${suffix} SELECT g, 0, ${BODY('g')} FROM generate_series(1, ${rowsB}) g`);
}

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_backfill');
});

afterAll(async () => {
  await db?.drop();
});

/** A destination that survives the pipeline closing it (a durable one keeps its rows across runs). */
function reusable(inner: MemoryDestination): Destination {
  return {
    name: inner.name,
    open: (ctx) => inner.open(ctx),
    write: (batch) => inner.write(batch),
    committedLsn: (pipeline) => inner.committedLsn(pipeline),
    close: async () => {},
  };
}

/** A state store that survives the pipeline closing it (so a second run can resume). */
function durable(inner: MemoryStateStore): StateStore {
  return { load: (p) => inner.load(p), save: (p, s) => inner.save(p, s), close: async () => {} };
}

/**
 * Writes to both tables until stopped: inserts, updates of `v` only (TOAST
 * unchanged), updates of the body, deletes, key changes, and transactions
 * touching both tables. Returns a stop function that resolves with the
 * number of transactions committed.
 */
function startWriter(a: string, b: string, maxB: number): () => Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  let stopping = false;
  let committed = 0;
  const done = (async () => {
    await client.connect();
    let next = 1_000_000;
    for (let i = 0; !stopping; i++) {
      const r = (n: number) => 1 + ((i * 7919 + n * 104729) % maxB);
      await client.query(
        `BEGIN;
         INSERT INTO ${a} VALUES (${next}, ${i}, 'w');
         UPDATE ${a} SET v = v + 1 WHERE id = ${1 + (i % 50)};
         UPDATE ${b} SET v = v + 1 WHERE id IN (${r(1)}, ${r(2)}, ${r(3)});
         UPDATE ${b} SET body = 'short ' || ${i} WHERE id = ${r(4)};
         DELETE FROM ${b} WHERE id = ${r(5)};
         INSERT INTO ${b} VALUES (${next}, ${i}, ${BODY(String(next))}) ON CONFLICT DO NOTHING;
         INSERT INTO ${b} VALUES (${r(6)}, -1, 'back') ON CONFLICT (id) DO UPDATE SET v = ${b}.v + 1;
         COMMIT`,
      );
      // Key changes, also of rows whose out-of-line body stays behind as unchanged (the destination takes
      // it from the old key's row, which the backfill may not have copied yet: the row is read again).
      if (i % 5 === 0) await client.query(`UPDATE ${b} SET id = -id WHERE id = ${r(7)} AND id > 0`);
      next++;
      committed++;
    }
    await client.end();
  })();
  return async () => {
    stopping = true;
    await done;
    return committed;
  };
}

async function tableRows(table: string): Promise<Record<string, unknown>[]> {
  const cols = table.startsWith('b') ? 'id, v, body' : 'id, v, note';
  return (await db.query(`SELECT ${cols} FROM ${table} ORDER BY id`)).rows;
}

/** The first difference between the destination and the table, or undefined when equal (every column). */
async function difference(dest: MemoryDestination, table: string): Promise<string | undefined> {
  const want = await tableRows(table);
  const got = dest.rows(`public.${table}`);
  if (got.length !== want.length) return `${table}: ${got.length} rows, want ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    for (const [k, v] of Object.entries(want[i]!)) {
      if (got[i]![k] !== v) {
        return `${table} row ${want[i]!.id}: ${k} = ${String(got[i]![k]).slice(0, 40)}, want ${String(v).slice(0, 40)}`;
      }
    }
  }
  return undefined;
}

async function converge(dest: MemoryDestination, tables: string[], timeoutMs = 60_000): Promise<void> {
  let last: string | undefined;
  await waitFor(
    async () => {
      for (const t of tables) {
        last = await difference(dest, t);
        if (last) return false;
      }
      return true;
    },
    timeoutMs,
    'destination equal to the tables',
  ).catch((err) => {
    throw new Error(`${(err as Error).message}: ${last}`);
  });
}

describe('PostgresSource backfill', () => {
  it('adds a table to a running pipeline: copied while the other keeps streaming, under writes to both', async () => {
    await createTables('1', 200, 3_000);
    const source = postgres({
      connectionString: db.url,
      tables: ['public.a1'],
      publication: 'bf1_pub',
      slot: 'bf1',
      snapshotChunkRows: 250,
      statusIntervalMs: 500,
    });
    const dest = new MemoryDestination();
    const pipeline = new Pipeline({ name: 'bf1' }).from(source).to(dest).batch({ maxDelayMs: 20 });
    // When each batch with rows of a1, and each backfill chunk of b1, was read.
    const aBatchesAt: number[] = [];
    const chunksAt: number[] = [];
    const batches: ChangeBatch[] = [];
    pipeline.on('batch', ({ batch }) => {
      batches.push(batch);
      if (batch.rowsOf('public.a1')) aBatchesAt.push(Date.now());
    });
    pipeline.on('snapshot:progress', ({ table }) => {
      if (table === 'public.b1') chunksAt.push(Date.now());
    });
    await pipeline.start();
    let stopWriter: (() => Promise<number>) | undefined;
    try {
      await waitFor(() => dest.rows('public.a1').length === 200, 20_000, 'a1 snapshot');
      stopWriter = startWriter('a1', 'b1', 3_000);
      await new Promise((r) => setTimeout(r, 300));
      await source.addTables(['public.b1']);
      const committed = await stopWriter();
      stopWriter = undefined;
      expect(committed).toBeGreaterThan(20);
      await converge(dest, ['a1', 'b1']);

      // b1 was copied in chunks (3000 rows / 250 per chunk, plus re-reads), as snapshot reads.
      expect(chunksAt.length).toBeGreaterThanOrEqual(12);
      const reads = rowsOf(batches, 'public.b1').filter((r) => r.op === ChangeOp.Read);
      expect(reads.length).toBeGreaterThan(2_000);
      // a1 kept streaming during the backfill: its changes arrived between the first and the last chunk.
      const during = aBatchesAt.filter((t) => t >= chunksAt[0]! && t <= chunksAt.at(-1)!);
      expect(during.length).toBeGreaterThanOrEqual(3);
      const states = (await db.query(`SELECT active FROM pg_replication_slots WHERE slot_name = 'bf1'`)).rows;
      expect(states).toEqual([{ active: true }]);
    } finally {
      await stopWriter?.();
      await pipeline.stop();
    }
  }, 120_000);

  it('backfills a table configured between runs, and resumes an interrupted backfill after its last chunk', async () => {
    await createTables('2', 100, 4_000);
    const store = new MemoryStateStore();
    // One destination for the three runs, as a durable one would be.
    const dest = new MemoryDestination();
    const run = (tables: string[]) => {
      const source = postgres({
        connectionString: db.url,
        tables,
        publication: 'bf2_pub',
        slot: 'bf2',
        snapshotChunkRows: 200,
      });
      const pipeline = new Pipeline({ name: 'bf2' })
        .from(source)
        .to(reusable(dest))
        .state(durable(store))
        .batch({ maxDelayMs: 20 });
      return { source, pipeline };
    };
    // Run 1: a2 only.
    const r1 = run(['public.a2']);
    await r1.pipeline.start();
    // Streaming: the snapshot's last checkpoint is durable (a stop before would resume the snapshot instead).
    await waitFor(() => r1.pipeline.status === 'streaming', 20_000, 'a2 snapshot done');
    await r1.pipeline.stop();
    expect((await store.load('bf2'))?.checkpoint.tables).toEqual(['public.a2']);

    // Run 2: b2 is new; stopped after a few chunks of its backfill are durable.
    const r2 = run(['public.a2', 'public.b2']);
    let chunks = 0;
    let stopping: Promise<void> | undefined;
    r2.pipeline.on('snapshot:progress', ({ table }) => {
      if (table === 'public.b2' && ++chunks === 5) stopping = r2.pipeline.stop();
    });
    await r2.pipeline.start();
    await waitFor(() => stopping !== undefined, 30_000, 'five chunks of b2');
    await stopping;
    const saved = (await store.load('bf2'))!.checkpoint;
    expect(saved.tables).toEqual(['public.a2', 'public.b2']);
    const progress = saved.backfill?.tables['public.b2'];
    expect(progress?.status).toBe('copying');
    const resumeAfter = Number(progress!.lastKey![0]);
    expect(resumeAfter).toBeGreaterThanOrEqual(400);
    expect(resumeAfter).toBeLessThan(4_000);

    // Changes while stopped, on both sides of the resume key.
    await db.query(`UPDATE b2 SET v = 7 WHERE id IN (1, ${resumeAfter}, ${resumeAfter + 1}, 3999)`);
    await db.query(`DELETE FROM b2 WHERE id IN (2, ${resumeAfter + 2})`);
    await db.query(`INSERT INTO a2 VALUES (5000, 1, 'late')`);

    // Run 3: finishes b2 under concurrent writes.
    const r3 = run(['public.a2', 'public.b2']);
    const batches: ChangeBatch[] = [];
    r3.pipeline.on('batch', ({ batch }) => batches.push(batch));
    await r3.pipeline.start();
    const stopWriter = startWriter('a2', 'b2', 4_000);
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      await stopWriter();
      await converge(dest, ['a2', 'b2']);
      // Finished chunks were not copied again: every read of run 3 is past the saved key
      // (or a key moved by the writer's key changes, which are negative).
      const reads = rowsOf(batches, 'public.b2').filter((r) => r.op === ChangeOp.Read);
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.filter((r) => r.id > 0 && r.id <= resumeAfter)).toEqual([]);
      // The backfill ends (its last, possibly empty, chunk is durable): no progress left in the state.
      await waitFor(
        async () => (await store.load('bf2'))?.checkpoint.backfill === undefined,
        30_000,
        'backfill done',
      );
      expect((await store.load('bf2'))?.checkpoint.tables).toEqual(['public.a2', 'public.b2']);
    } finally {
      await stopWriter();
      await r3.pipeline.stop();
    }
  }, 120_000);

  it('refuses what it cannot backfill, with the reason and the fix', async () => {
    await db.query(`CREATE TABLE k3 (id int PRIMARY KEY)`);
    await db.query(`CREATE TABLE nokey3 (a int, b text)`);
    await db.query(`CREATE TABLE spans3 (id int PRIMARY KEY, span interval)`);
    const early = postgres({ connectionString: db.url, tables: ['public.k3'], slot: 'bf3_early' });
    await expect(early.addTables(['public.nokey3'])).rejects.toMatchObject({ code: 'LIFECYCLE' });
    await early.close();
    const source = postgres({
      connectionString: db.url,
      tables: ['public.k3'],
      slot: 'bf3',
      publication: 'bf3_pub',
      appendOnly: true,
    });
    const pipeline = new Pipeline({ name: 'bf3' }).from(source).to(new MemoryDestination());
    await pipeline.start();
    try {
      await expect(source.addTables(['public.nope3'])).rejects.toMatchObject({ code: 'PG_UNKNOWN_TABLE' });
      await expect(source.addTables(['nope3'])).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        details: { field: 'tables[0]' },
      });
      const noKey = source.addTables(['public.nokey3']);
      await expect(noKey).rejects.toMatchObject({ code: 'PG_NO_REPLICA_IDENTITY' });
      await expect(noKey).rejects.toThrow(/"public"."nokey3"/);
      // The stream runs in binary mode; interval has no binary decoder.
      await expect(source.addTables(['public.spans3'])).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      const { rows } = await db.query(
        `SELECT tablename FROM pg_publication_tables WHERE pubname = 'bf3_pub'`,
      );
      expect(rows).toEqual([{ tablename: 'k3' }]);
      // A table already streamed: nothing to do.
      await source.addTables(['public.k3']);
    } finally {
      await pipeline.stop();
    }
  });

  it("with snapshot: 'never', an added table only starts streaming (no copy); addTables still resolves", async () => {
    await db.query(`CREATE TABLE a4 (id int PRIMARY KEY, v int)`);
    await db.query(`CREATE TABLE b4 (id int PRIMARY KEY, v int)`);
    await db.query(`INSERT INTO b4 SELECT g, 0 FROM generate_series(1, 50) g`);
    const source = postgres({
      connectionString: db.url,
      tables: ['public.a4'],
      slot: 'bf4',
      publication: 'bf4_pub',
      snapshot: 'never',
    });
    const dest = new MemoryDestination();
    const pipeline = new Pipeline({ name: 'bf4' }).from(source).to(dest).batch({ maxDelayMs: 20 });
    await pipeline.start();
    try {
      await source.addTables(['public.b4']);
      await db.query(
        `INSERT INTO b4 VALUES (51, 1); UPDATE b4 SET v = 2 WHERE id = 1; INSERT INTO a4 VALUES (1, 1)`,
      );
      await waitFor(() => dest.rows('public.a4').length === 1, 20_000, 'a4 row');
      // Only what changed after the table was added: no copy of the 50 rows that were there.
      expect(dest.rows('public.b4').map((r) => [r.id, r.v])).toEqual([
        [1, 2],
        [51, 1],
      ]);
    } finally {
      await pipeline.stop();
    }
  });
});
