/**
 * Every kind of change, end to end into the emulator, in hard- and
 * soft-delete mode (two pipelines on the same source, into two schemas):
 * inserts, updates, deletes, a key inserted, deleted and re-inserted inside
 * one transaction (so one batch), primary-key updates (one of a row whose
 * 100 KB TOASTed column is not resent), a TRUNCATE between inserts, a column
 * added and one dropped mid-stream, and UPDATEs that leave a 100 KB TOASTed
 * column untouched in batch after batch. After each step both copies equal
 * the source value by value (soft mode: its live rows), and in soft mode the
 * deleted keys are exactly those the source lost, marked `_ETL_DELETED`.
 */
import './support/env.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import {
  expectTableEqual,
  type RunningPipeline,
  startPipeline,
  targetOf,
  transactionAt,
  waitForWatermark,
  watermark,
} from './support/harness.js';

const SOFT_SCHEMA = 'PG_SOFT';

let db: TestDatabase;
let emu: SnowflakeEmulator;
let hard: RunningPipeline;
let soft: RunningPipeline;
const batches: ChangeBatch[] = [];

/** A 100 KB value, stored out of line and uncompressed (STORAGE EXTERNAL): a TOASTed column. */
const BIG = (seed: string) => `repeat(md5(${seed}), 3200)`;

beforeAll(async () => {
  db = await createTestDatabase('etl_sfe2e_changes');
  emu = await startSnowflakeEmulator();
  await db.query(`
    CREATE TABLE items (
      id int PRIMARY KEY, qty int NOT NULL, label text, price numeric(12,2), doc jsonb, body text
    );
    ALTER TABLE items ALTER COLUMN body SET STORAGE EXTERNAL;
    CREATE TABLE tags (id int PRIMARY KEY, label text NOT NULL);
    INSERT INTO items
      SELECT g, g, 'item ' || g, g * 1.25, jsonb_build_object('g', g, 'big', 18446744073709551617),
             CASE WHEN g % 5 = 0 THEN ${BIG('g::text')} ELSE 'short ' || g END
        FROM generate_series(1, 50) g;
    INSERT INTO tags SELECT g, 'tag ' || g FROM generate_series(1, 10) g;
  `);
  const tables = ['public.items', 'public.tags'];
  hard = await startPipeline({ name: 'hard', url: db.url, emu, tables });
  soft = await startPipeline({
    name: 'soft',
    url: db.url,
    emu,
    tables,
    destination: { schema: SOFT_SCHEMA, deletes: 'soft' },
  });
  hard.pipeline.on('batch', ({ batch }) => batches.push(batch));
});
afterAll(async () => {
  await hard?.stop();
  await soft?.stop();
  await emu?.close();
  await db?.drop();
});

/** Runs one source transaction and waits until both pipelines applied it. */
async function step(sql: string): Promise<void> {
  const lsn = await transactionAt(db.url, sql);
  await waitForWatermark(emu, hard, lsn);
  await waitForWatermark(emu, soft, lsn);
}

/** Both copies equal the source: the hard copy whole, the soft copy's live rows. */
async function expectCopiesEqual(): Promise<void> {
  for (const table of ['public.items', 'public.tags']) {
    await expectTableEqual(db.url, emu, table);
    await expectTableEqual(
      db.url,
      emu,
      table,
      targetOf(emu, table, { schema: SOFT_SCHEMA, where: 'NOT "_ETL_DELETED"' }),
    );
  }
}

async function softDeletedKeys(table: string): Promise<number[]> {
  const rows = await emu.query(
    `SELECT CAST("ID" AS VARCHAR) AS "ID" FROM "${emu.database}"."${SOFT_SCHEMA}"."${table}" WHERE "_ETL_DELETED" ORDER BY "ID"`,
  );
  return rows.map((r) => Number(r.ID)).sort((a, b) => a - b);
}

/** The body of every TOASTed row, by md5, as PostgreSQL and the hard copy hold it. */
async function toastedBodies(): Promise<{ source: string[]; snowflake: string[] }> {
  const { rows } = await db.query<{ id: number; h: string }>(
    'SELECT id, md5(body) AS h, length(body) AS n FROM items WHERE length(body) >= 100000 ORDER BY id',
  );
  const copy = await emu.query(
    `SELECT CAST("ID" AS VARCHAR) AS "ID", MD5("BODY") AS "H" FROM "${emu.database}"."PG"."ITEMS" WHERE LENGTH("BODY") >= 100000 ORDER BY "ID"`,
  );
  return {
    source: rows.map((r) => `${r.id}:${r.h}`).sort(),
    snowflake: copy.map((r) => `${r.ID}:${r.H}`).sort(),
  };
}

describe('changes into Snowflake, hard and soft deletes', () => {
  it('snapshot', async () => {
    // Streamed after the snapshot: once applied, the whole snapshot is too.
    await step('UPDATE tags SET label = label WHERE id = 1');
    await expectCopiesEqual();
  });

  it('inserts, updates leaving the 100 KB column untouched, deletes', async () => {
    await step(`INSERT INTO items SELECT g, g, 'new ' || g, g * 0.5, NULL,
                  CASE WHEN g % 5 = 0 THEN ${BIG(`'n' || g`)} ELSE 'short ' || g END
                FROM generate_series(51, 80) g`);
    await step(`UPDATE items SET qty = qty + 1, label = 'upd ' || id WHERE id % 2 = 0`);
    await step('DELETE FROM items WHERE id % 7 = 0');
    await expectCopiesEqual();
    expect((await toastedBodies()).snowflake).toEqual((await toastedBodies()).source);
  });

  it('a key inserted, deleted and re-inserted in one batch; an existing key deleted and re-inserted', async () => {
    await step(`INSERT INTO items VALUES (900, 1, 'first', 1, NULL, 'a');
                DELETE FROM items WHERE id = 900;
                INSERT INTO items VALUES (900, 2, 'second', 2, '{"v": 2}', 'b');
                DELETE FROM items WHERE id = 3;
                INSERT INTO items VALUES (3, 33, 'back', 3.3, NULL, 'c');
                DELETE FROM items WHERE id = 4;
                INSERT INTO items VALUES (901, 9, 'gone', 9, NULL, 'd');
                DELETE FROM items WHERE id = 901`);
    await expectCopiesEqual();
  });

  it('primary-key updates, one of a row whose TOASTed column is not resent', async () => {
    await step('UPDATE items SET id = id + 1000 WHERE id IN (5, 6)');
    await step(`UPDATE items SET id = 2000, label = 'moved' WHERE id = 8`);
    await expectCopiesEqual();
    const { rows } = await db.query<{ n: number }>('SELECT length(body) AS n FROM items WHERE id = 1005');
    expect(rows[0]!.n).toBe(102_400);
  });

  it('TRUNCATE between inserts', async () => {
    await step(
      `INSERT INTO tags VALUES (100, 'before'); TRUNCATE tags; INSERT INTO tags VALUES (101, 'after')`,
    );
    await expectCopiesEqual();
    await step('TRUNCATE tags');
    await step(`INSERT INTO tags VALUES (102, 'c'), (103, 'd')`);
    await expectCopiesEqual();
  });

  it('a column added and one dropped mid-stream; TOASTed column untouched across batches', async () => {
    await step('ALTER TABLE items ADD COLUMN rating int; UPDATE items SET rating = id % 5 WHERE id % 3 = 0');
    await step(`INSERT INTO items (id, qty, label, price, body, rating) VALUES (950, 1, 'rated', 1, 'x', 4)`);
    // DDL alone replicates nothing: the drop shows with the next change of the table.
    await step('ALTER TABLE items DROP COLUMN price; UPDATE items SET qty = 0 WHERE id % 4 = 0');
    await step(`UPDATE items SET label = label || '!' WHERE id % 5 = 0`);
    await step(`UPDATE items SET body = ${BIG("'replaced'")} WHERE id = 10`);
    await step(`UPDATE items SET rating = 5 WHERE id % 5 = 0`);
    await expectCopiesEqual();
    const bodies = await toastedBodies();
    expect(bodies.source.length).toBeGreaterThanOrEqual(14);
    expect(bodies.snowflake).toEqual(bodies.source);
  });

  it('soft mode keeps exactly the deleted keys, marked deleted; both watermarks agree', async () => {
    // items: id % 7 = 0 deleted (1..80), 4 deleted, keys 5, 6, 8 moved away; 900 and 3 re-inserted; 901 never existed.
    const goneItems = [4, 5, 6, 8, ...Array.from({ length: 11 }, (_, i) => (i + 1) * 7)].sort(
      (a, b) => a - b,
    );
    expect(await softDeletedKeys('ITEMS')).toEqual(goneItems);
    const goneTags = await softDeletedKeys('TAGS');
    // 1..10 truncated, 101 truncated later; 100 (inserted and truncated in one transaction) at most as deleted.
    expect(goneTags.filter((k) => k !== 100)).toEqual([...Array.from({ length: 10 }, (_, i) => i + 1), 101]);
    // Hard mode keeps no deleted row and has no _ETL_DELETED column.
    const hardColumns = await emu.query(
      `SELECT COLUMN_NAME FROM "${emu.database}".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'PG' AND TABLE_NAME = 'ITEMS'`,
    );
    expect(
      hardColumns
        .map((r) => r.COLUMN_NAME ?? '')
        .filter((n) => n.startsWith('_ETL'))
        .sort(),
    ).toEqual(['_ETL_LSN', '_ETL_SYNCED_AT']);
    expect(await watermark(emu, 'hard')).toBe(await watermark(emu, 'soft', SOFT_SCHEMA));
    expect([...hard.errors, ...soft.errors]).toEqual([]);
  });

  it('the stream carried what the scenario claims', () => {
    const unchangedToast = batches.some((b) =>
      b.rowEntries().some((e) => {
        const col = e.data.getChild('_etl_unchanged');
        for (let i = 0; col && i < e.data.numRows; i++) if (col.get(i)) return true;
        return false;
      }),
    );
    expect({
      unchangedToast,
      truncates: batches.some((b) => b.entries.some((e) => e.kind === 'truncate')),
      schemaChanges: batches.some((b) => b.entries.some((e) => e.kind === 'schema' && e.previous)),
    }).toEqual({ unchangedToast: true, truncates: true, schemaChanges: true });
  });
});
