/**
 * The end-to-end scenario: two tables with a snapshot's worth of rows, then a
 * stream of transactions covering inserts, updates, deletes, a key change,
 * updates that leave a TOASTed column unchanged (before and after schema
 * changes), TOAST values replaced, TRUNCATEs (alone and inside a
 * transaction), ADD COLUMN, a schema change in the middle of a transaction,
 * and DROP COLUMN (several at once, with an ADD).
 */
import pg from 'pg';
import type { TestDatabase } from '../../../support/postgres.js';
import type { TableSpec } from './tables.js';

/** The scenario's tables, for whole-table comparison. */
export const SCENARIO_TABLES: readonly TableSpec[] = [
  { table: 'public.items', key: 'id', md5: ['body'] },
  { table: 'public.tags', key: 'id' },
];

/** `body` is stored out of line and uncompressed once a row passes ~2 kB: a TOASTed value. */
export async function createScenarioTables(db: TestDatabase): Promise<void> {
  await db.query(`
    CREATE TABLE items (
      id int PRIMARY KEY,
      big int8 NOT NULL,
      amount numeric(12,2),
      flag bool,
      at timestamptz,
      doc jsonb,
      bin bytea,
      title text,
      body text
    );
    ALTER TABLE items ALTER COLUMN body SET STORAGE EXTERNAL;
    CREATE TABLE tags (id int PRIMARY KEY, label text NOT NULL);
    INSERT INTO items
      SELECT g, 9007199254740993 + g, g * 1.25, g % 2 = 0,
             timestamptz '2024-01-01 00:00:00.123456+00' + g * interval '1 second 1 microsecond',
             jsonb_build_object('g', g, 'big', 123456789012345678901234567890::numeric),
             decode(md5(g::text), 'hex'), 'title ' || g,
             CASE WHEN g % 3 = 0 THEN repeat(md5(g::text), 100) ELSE 'short ' || g END
        FROM generate_series(1, 300) g;
    INSERT INTO tags SELECT g, 'tag ' || g FROM generate_series(1, 50) g;
  `);
}

/**
 * Runs `sql` in one transaction and returns `pg_current_wal_insert_lsn()`
 * read just before COMMIT: at most the transaction's commit LSN, and above
 * the commit LSN of every transaction committed before it. A destination
 * whose watermark reached it has applied this transaction.
 */
export async function transactionAt(url: string, sql: string): Promise<bigint> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql);
    const { rows } = await client.query<{ lsn: string }>(
      `SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS lsn`,
    );
    await client.query('COMMIT');
    return BigInt(rows[0]!.lsn);
  } finally {
    await client.end();
  }
}

/** Each element is one transaction. */
export const SCENARIO_STEPS: readonly string[] = [
  `INSERT INTO items
     SELECT g, -g, g * 0.5, g % 3 = 0, now(), jsonb_build_object('new', g), '\\x00ff'::bytea, 'new ' || g,
            CASE WHEN g % 3 = 0 THEN repeat(md5(g::text), 100) ELSE 'short ' || g END
       FROM generate_series(301, 400) g`,
  // Bodies of ids divisible by 3 are TOASTed: these updates leave them unchanged (sent as 'u').
  `UPDATE items SET title = 'retitled ' || id, amount = amount + 1 WHERE id % 3 = 0`,
  `UPDATE items SET body = repeat(md5('new' || id), 90) WHERE id % 30 = 0`,
  `DELETE FROM items WHERE id % 7 = 0`,
  `UPDATE items SET id = id + 1000 WHERE id = 1`,
  `UPDATE items SET flag = NULL, doc = NULL, at = NULL WHERE id = 2`,
  `TRUNCATE tags`,
  `INSERT INTO tags VALUES (1000, 'after truncate'), (1001, 'b')`,
  `INSERT INTO tags VALUES (1002, 'gone soon'); TRUNCATE tags; INSERT INTO tags VALUES (1003, 'c'), (1004, 'd')`,
  `ALTER TABLE items ADD COLUMN rating int`,
  `UPDATE items SET rating = id % 5 WHERE id % 4 = 0`,
  `INSERT INTO items (id, big, title, body, rating) VALUES (500, 1, 'with rating', 'b', 4);
   ALTER TABLE items ADD COLUMN note text;
   INSERT INTO items (id, big, title, body, note) VALUES (501, 2, 'with note', 'b', 'n');
   UPDATE items SET note = 'noted' WHERE id = 3`,
  `ALTER TABLE items DROP COLUMN flag`,
  `UPDATE items SET title = title || '!' WHERE id % 9 = 0`,
  `ALTER TABLE items DROP COLUMN doc, DROP COLUMN bin, ADD COLUMN score int`,
  `UPDATE items SET score = id WHERE id % 6 = 0`,
  `INSERT INTO items (id, big, title, score) VALUES (502, 3, 'last', 7)`,
  `UPDATE tags SET label = 'final' WHERE id = 1003`,
];

/** Runs every step in order; returns the LSN bound of the last one (see {@link transactionAt}). */
export async function runScenario(db: TestDatabase): Promise<bigint> {
  let last = 0n;
  for (const step of SCENARIO_STEPS) last = await transactionAt(db.url, step);
  return last;
}
