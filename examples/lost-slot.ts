/**
 * A lost replication slot, rebuilt without operator action
 * (`onSlotLost: 'resnapshot'`): a pipeline copies a table into DuckDB and
 * stops; while it is stopped rows change and the server invalidates its slot
 * (more WAL than `max_slot_wal_keep_size`); the next start empties the
 * destination table, copies it again from a new slot and streams on. The
 * destination ends equal to the table, rows deleted meanwhile included.
 *
 * Runs on a private PostgreSQL with a tiny `max_slot_wal_keep_size` (a
 * server-wide setting this example must not change on yours); the saved
 * position lives in a Postgres state store on that server.
 *
 * Run: npx tsx examples/lost-slot.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdb, Pipeline, postgres, postgresState } from 'etl-stream';
import { startPrivatePostgres } from 'etl-stream/testing';
import pg from 'pg';

const server = await startPrivatePostgres({
  settings: { max_slot_wal_keep_size: '1MB', wal_keep_size: '0', max_wal_size: '32MB', min_wal_size: '32MB' },
});
const dir = mkdtempSync(join(tmpdir(), 'etl-lost-slot-'));
const sql = new pg.Client({ connectionString: server.url });
await sql.connect();
await sql.query(`
  CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL);
  INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g;
  CREATE TABLE filler (pad text);`);

/** One run of the pipeline; every run uses the same slot, saved position and DuckDB file. */
function pipeline() {
  const dest = duckdb({ path: join(dir, 'items.duckdb'), memoryLimit: '256MB' });
  const p = new Pipeline({ name: 'items' })
    .from(postgres({ connectionString: server.url, tables: ['public.items'], onSlotLost: 'resnapshot' }))
    .to(dest)
    .state(postgresState({ connectionString: server.url }))
    .batch({ maxDelayMs: 50 });
  p.on('alert', (a) => console.log(`alert ${a.resolved ? 'resolved' : a.severity}: ${a.message}`));
  p.on('reconcile', (r) => console.log(`reconcile: ${r.outcome}`));
  return { p, dest };
}

/** Waits until DuckDB holds exactly the rows of `items`. */
async function caughtUp(dest: ReturnType<typeof duckdb>): Promise<boolean> {
  const want = JSON.stringify((await sql.query('SELECT id, qty FROM items ORDER BY id')).rows);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const got = await dest.query('SELECT id::int AS id, qty FROM public.items ORDER BY id').catch(() => []);
    if (JSON.stringify(got) === want) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const first = pipeline();
await first.p.start();
console.log('first run caught up:', await caughtUp(first.dest));
await first.p.stop();

// While it is stopped: changes, then WAL beyond the slot's limit until the server invalidates it.
await sql.query('DELETE FROM items WHERE id % 10 = 0; UPDATE items SET qty = -qty WHERE id % 7 = 0');
for (let i = 0; i < 20; i++) {
  await sql.query(`INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 5000)`);
  await sql.query('SELECT pg_switch_wal(); CHECKPOINT');
  const { rows } = await sql.query(
    `SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'etl_items'`,
  );
  if (rows[0]?.wal_status === 'lost') break;
}
console.log('slot invalidated while the pipeline was stopped');

const second = pipeline();
await second.p.start(); // finds the slot lost: empties the table, new slot, new copy
console.log('rebuilt, destination equals the table:', await caughtUp(second.dest));
await sql.query('INSERT INTO items VALUES (5000, 5)');
console.log('streaming from the new slot:', await caughtUp(second.dest));
await second.p.stop();

await sql.end();
await server.stop();
rmSync(dir, { recursive: true, force: true });
