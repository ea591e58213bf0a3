/**
 * Batch cutting and backpressure through the pipeline, on a real PostgreSQL.
 *
 * - A batch never spans a schema change or a TRUNCATE of a table it holds:
 *   transactions committed a millisecond apart, with limits that would
 *   otherwise put them all in one batch, are cut exactly there (inside a
 *   transaction too: a partial batch).
 * - With a destination that does not finish its writes, the pipeline keeps
 *   `maxInFlight` batches and reads no more; the source stops reading the
 *   socket, holds a bounded number of rows, and the walsender stays far
 *   behind the end of WAL. Released, everything arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { SEQ_COLUMN } from '../../../src/change/metadata-columns.js';
import { qualifiedName } from '../../../src/change/table-schema.js';
import { memory } from '../../../src/destinations/memory-destination.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { waitFor } from '../postgres-source/consumer.js';
import { transactionAt } from './support/scenario.js';
import { columnsOf, diffRows, memoryRows, NO_DIFF, sourceRows } from './support/tables.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('etl_pipe_batching');
});
afterAll(async () => {
  await db?.drop();
});

async function slotExists(slot: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return rows.length > 0;
}

/** Which table's rows come before a truncate or schema change of the same table in one batch. */
function spans(batch: ChangeBatch): string[] {
  const out: string[] = [];
  for (const e of batch.entries) {
    if (e.kind === 'rows') continue;
    const changed = e.kind === 'truncate' ? e.tables.map(qualifiedName) : [qualifiedName(e.table)];
    for (const rows of batch.rowEntries()) {
      if (!changed.includes(qualifiedName(rows.table))) continue;
      const seqs = rows.data.getChild(SEQ_COLUMN)!;
      for (let i = 0; i < rows.data.numRows; i++) {
        if (Number(seqs.get(i)) < e.seq) out.push(`${qualifiedName(rows.table)} rows before its ${e.kind}`);
      }
    }
  }
  return [...new Set(out)];
}

/** The ids of table `t`'s rows in the batch. */
function ids(batch: ChangeBatch): number[] {
  const e = batch.rowsOf('public.t');
  if (!e) return [];
  const col = e.data.getChild('id')!;
  return Array.from({ length: e.data.numRows }, (_, i) => Number(col.get(i)));
}

describe('batch cutting', () => {
  it('a batch never spans a schema change or a TRUNCATE of a table it holds', async () => {
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (id int PRIMARY KEY)`);
    const dest = memory();
    const batches: ChangeBatch[] = [];
    // Limits that cut nothing by themselves until the last, large transaction.
    const pipeline = new Pipeline({ name: 'cuts' })
      .from(postgres({ connectionString: db.url, tables: ['public.t', 'public.u'], snapshot: 'never' }))
      .to(dest)
      .batch({ maxRows: 1_000, maxDelayMs: 30_000 });
    pipeline.on('batch', ({ batch }) => void batches.push(batch));
    await pipeline.start();
    try {
      await waitFor(() => slotExists('etl_cuts'), 20_000, 'slot');
      // One round trip: the transactions commit within milliseconds of each other.
      await db.query(`
        INSERT INTO t SELECT g, 'a' FROM generate_series(1, 10) g;
        TRUNCATE t;
        INSERT INTO t SELECT g, 'b' FROM generate_series(11, 20) g;
        ALTER TABLE t ADD COLUMN extra int;
        INSERT INTO t SELECT g, 'c', g FROM generate_series(21, 30) g;
        BEGIN;
          INSERT INTO t VALUES (31, 'd', 31);
          ALTER TABLE t DROP COLUMN extra;
          INSERT INTO t VALUES (32, 'e');
        COMMIT;
      `);
      // More rows than maxRows: cuts at its commit, so nothing waits for the delay.
      const last = await transactionAt(db.url, 'INSERT INTO u SELECT generate_series(1, 1500)');
      await waitFor(async () => ((await dest.committedLsn()) ?? 0n) >= last, 20_000, 'applied');
    } finally {
      await pipeline.stop();
    }
    expect(batches.flatMap(spans)).toEqual([]);
    // The cuts are where the rule puts them: rows before a TRUNCATE or ALTER of their table end the batch.
    const batchOf = (id: number) => batches.findIndex((b) => ids(b).includes(id));
    expect(batchOf(1)).not.toBe(batchOf(11)); // TRUNCATE in between
    expect(batchOf(11)).not.toBe(batchOf(21)); // ADD COLUMN in between
    expect(batchOf(31)).not.toBe(batchOf(32)); // DROP COLUMN inside one transaction
    expect(batches[batchOf(31)]!.partial).toBe(true);
    const truncating = batches.find((b) => b.entries.some((e) => e.kind === 'truncate'))!;
    expect(ids(truncating)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    for (const table of ['public.t', 'public.u']) {
      const spec = { table, key: 'id' };
      const columns = await columnsOf(db, table);
      expect(diffRows(await sourceRows(db, spec, columns), memoryRows(dest, spec, columns))).toEqual(NO_DIFF);
    }
    expect(dest.rows('public.t').map((r) => r.id)).toEqual(Array.from({ length: 22 }, (_, i) => i + 11));
  });
});

describe('backpressure through the pipeline', () => {
  it('a full batch queued behind earlier cuts is handed out at once, not after maxDelayMs', async () => {
    await db.query(`CREATE TABLE q (id int PRIMARY KEY, v text)`);
    const dest = memory();
    const pipeline = new Pipeline({ name: 'queued' })
      .from(postgres({ connectionString: db.url, tables: ['public.q'], snapshot: 'never' }))
      .to(dest)
      .batch({ maxRows: 3, maxDelayMs: 120_000 });
    await pipeline.start();
    try {
      await waitFor(() => slotExists('etl_queued'), 20_000, 'slot');
      // Small enough to arrive in one read: the TRUNCATEs' cuts are still queued in the source when
      // the last transaction, full by itself (5 rows ≥ maxRows), commits.
      await db.query(`
        INSERT INTO q VALUES (1, 'a'); TRUNCATE q;
        INSERT INTO q VALUES (2, 'b'); TRUNCATE q;
        INSERT INTO q VALUES (3, 'c'); TRUNCATE q;
        INSERT INTO q SELECT g, 'x' FROM generate_series(10, 14) g;
      `);
      // Well within maxDelayMs (nothing else comes to trigger a cut).
      await waitFor(() => dest.rows('public.q').length === 5, 20_000, 'the full batch applied');
    } finally {
      await pipeline.stop();
    }
    expect(dest.rows('public.q').map((r) => r.id)).toEqual([10, 11, 12, 13, 14]);
  });

  it('a slow destination: maxInFlight batches, then the source stops reading; released, everything arrives', async () => {
    await db.query(`CREATE TABLE wide (id int PRIMARY KEY, pad text NOT NULL)`);
    const inner = memory();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let writes = 0;
    const slow: Destination = {
      name: 'slow',
      open: (ctx) => inner.open(ctx),
      write: async (batch) => {
        writes++;
        await gate;
        await inner.write(batch);
      },
      committedLsn: (p) => inner.committedLsn(p),
      close: () => inner.close(),
    };
    const source = postgres({ connectionString: db.url, tables: ['public.wide'], snapshot: 'never' });
    const maxInFlight = 2;
    const maxRows = 1_000;
    const pipeline = new Pipeline({ name: 'bp', maxInFlight })
      .from(source)
      .to(slow)
      .batch({ maxRows, maxDelayMs: 50 });
    let read = 0;
    pipeline.on('batch', () => void read++);
    await pipeline.start();
    try {
      await waitFor(() => slotExists('etl_bp'), 20_000, 'slot');
      // ~30 MB of changes: 60 transactions of 1 000 rows of ~500 bytes.
      for (let t = 0; t < 60; t++) {
        await db.query(
          `INSERT INTO wide SELECT g, repeat(md5(g::text), 16) FROM generate_series(${t * 1000 + 1}, ${t * 1000 + 1000}) g`,
        );
      }
      const { rows } = await db.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn`);
      const end = BigInt(rows[0]!.lsn);
      await waitFor(() => read === maxInFlight && source.streamStats?.paused === true, 20_000, 'paused');
      // Held there: over a while, no more batch is read and the source holds a bounded number of rows.
      let held = 0;
      const until = Date.now() + 1_500;
      while (Date.now() < until) {
        const s = source.streamStats!;
        held = Math.max(held, s.readyRows + s.bufferedRows);
        expect(s.paused).toBe(true);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(read).toBe(maxInFlight);
      expect(writes).toBe(1); // writes to one destination are serial: the second batch waits its turn
      expect(held).toBeLessThanOrEqual(2 * maxRows + 1_000);
      // The walsender is blocked far behind the end of WAL: PostgreSQL keeps the rest, not this process.
      const { rows: ws } = await db.query<{ lag: string }>(
        `SELECT ($1::pg_lsn - r.sent_lsn)::text AS lag FROM pg_stat_replication r
           JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'etl_bp'`,
        [`${(end >> 32n).toString(16)}/${(end & 0xffffffffn).toString(16)}`],
      );
      expect(BigInt(ws[0]!.lag)).toBeGreaterThan(8n << 20n);

      release();
      await waitFor(() => inner.rows('public.wide').length === 60_000, 60_000, 'everything');
    } finally {
      release();
      await pipeline.stop();
    }
    const spec = { table: 'public.wide', key: 'id', md5: ['pad'] };
    const columns = await columnsOf(db, spec.table);
    expect(diffRows(await sourceRows(db, spec, columns), memoryRows(inner, spec, columns))).toEqual(NO_DIFF);
  }, 120_000);
});
