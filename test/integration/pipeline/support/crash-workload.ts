/**
 * The crash test's workload: three tables with a snapshot's worth of rows,
 * then more than 100k row changes — inserts, updates, deletes, updates that
 * leave a TOASTed column unchanged, TOAST values replaced, a TRUNCATE — as a
 * few big set-based transactions between many small ones (seeded, so a
 * failure can be replayed).
 */
import pg from 'pg';
import type { TestDatabase } from '../../../support/postgres.js';
import { prng } from '../../../support/prng.js';
import { transactionAt } from './scenario.js';
import type { TableSpec } from './tables.js';

/** The tables, for whole-table comparison (`docs.body` by md5: it is ~3 kB a row). */
export const CRASH_TABLES: readonly TableSpec[] = [
  { table: 'public.items', key: 'id' },
  { table: 'public.docs', key: 'id', md5: ['body'] },
  { table: 'public.scratch', key: 'id' },
];

/** Rows present before the pipeline first starts: what the snapshot copies. */
export async function createCrashTables(db: TestDatabase): Promise<void> {
  await db.query(`
    CREATE TABLE items (
      id int PRIMARY KEY, grp int NOT NULL, qty int NOT NULL, price numeric(12,2) NOT NULL,
      label text, touched timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, version int NOT NULL, body text NOT NULL);
    ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
    CREATE TABLE scratch (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO items (id, grp, qty, price, label)
      SELECT g, g % 17, g % 100, g * 0.25, 'item ' || g FROM generate_series(1, 30000) g;
    INSERT INTO docs SELECT g, 'doc ' || g, 1, repeat(md5(g::text), 100) FROM generate_series(1, 1500) g;
    INSERT INTO scratch SELECT g, 'before ' || g FROM generate_series(1, 3000) g;
  `);
}

/** Big set-based transactions, run in this order between rounds of small ones. */
const BIG_STEPS: readonly string[] = [
  `INSERT INTO items (id, grp, qty, price, label)
     SELECT g, g % 17, 1, g * 0.5, 'bulk ' || g FROM generate_series(30001, 45000) g`,
  `UPDATE items SET qty = qty + 1, touched = clock_timestamp() WHERE id % 4 = 0`,
  // docs.body is TOASTed: these updates leave it unchanged.
  `UPDATE docs SET title = title || '+', version = version + 1 WHERE id % 2 = 0`,
  `DELETE FROM items WHERE id % 9 = 0`,
  `TRUNCATE scratch`,
  `INSERT INTO scratch SELECT g, 'after ' || g FROM generate_series(1, 8000) g`,
  `INSERT INTO items (id, grp, qty, price, label)
     SELECT g, g % 13, 2, g * 0.75, 'more ' || g FROM generate_series(45001, 65000) g`,
  `UPDATE items SET label = 'relabelled ' || id, price = price + 1 WHERE id % 3 <> 0`,
  `UPDATE docs SET body = repeat(md5('v2' || id), 100), version = version + 1 WHERE id % 10 = 0`,
  `UPDATE scratch SET v = v || ' x' WHERE id % 2 = 0`,
];

/** Small transactions between two big steps. */
const SMALL_PER_ROUND = 150;

/** One to four row changes in one transaction; returns how many rows changed. */
async function smallTransaction(client: pg.Client, rnd: () => number, nextId: () => number): Promise<number> {
  const item = () => 1 + Math.floor(rnd() * 65000);
  const doc = () => 1 + Math.floor(rnd() * 1500);
  const pick = rnd();
  if (pick < 0.7) {
    const r = await client.query(
      'UPDATE items SET qty = qty + 1, touched = clock_timestamp() WHERE id = $1',
      [item()],
    );
    return r.rowCount ?? 0;
  }
  if (pick < 0.8) {
    const id = nextId();
    await client.query(`INSERT INTO items (id, grp, qty, price, label) VALUES ($1, 1, 1, 9.99, 'small')`, [
      id,
    ]);
    return 1;
  }
  if (pick < 0.87) return (await client.query('DELETE FROM items WHERE id = $1', [item()])).rowCount ?? 0;
  if (pick < 0.95) {
    // TOAST left unchanged.
    const r = await client.query(
      `UPDATE docs SET title = 'small ' || $2, version = version + 1 WHERE id = $1`,
      [doc(), Math.floor(rnd() * 1e6)],
    );
    return r.rowCount ?? 0;
  }
  await client.query('BEGIN');
  let n = 0;
  n += (
    await client.query(`UPDATE docs SET body = repeat(md5($2), 100) WHERE id = $1`, [doc(), String(rnd())])
  ).rowCount!;
  n += (await client.query('UPDATE items SET qty = 0 WHERE id = $1', [item()])).rowCount!;
  n += (await client.query('DELETE FROM items WHERE id = $1', [item()])).rowCount!;
  const id = nextId();
  await client.query(`INSERT INTO items (id, grp, qty, price, label) VALUES ($1, 2, 2, 1.5, 'tx')`, [id]);
  await client.query('COMMIT');
  return n + 1;
}

/** What {@link runCrashWorkload} did. */
export interface WorkloadResult {
  /** Row changes made (a TRUNCATE counts once). */
  readonly changes: number;
  /** The LSN bound of the last transaction (see `transactionAt`): applied once a watermark reaches it. */
  readonly lastLsn: bigint;
}

/** Runs the whole workload on one connection; `paceMs` pauses between small transactions spread it out in time. */
export async function runCrashWorkload(
  db: TestDatabase,
  opts: { seed: number; paceMs?: number },
): Promise<WorkloadResult> {
  const rnd = prng(opts.seed);
  let id = 100_000;
  const nextId = () => ++id;
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  let changes = 0;
  try {
    for (const step of BIG_STEPS) {
      for (let i = 0; i < SMALL_PER_ROUND; i++) {
        changes += await smallTransaction(client, rnd, nextId);
        if (opts.paceMs) await new Promise((r) => setTimeout(r, opts.paceMs));
      }
      changes += (await client.query(step)).rowCount ?? 1;
    }
  } finally {
    await client.end();
  }
  const lastLsn = await transactionAt(db.url, `UPDATE scratch SET v = 'final' WHERE id = 1`);
  return { changes: changes + 1, lastLsn };
}
