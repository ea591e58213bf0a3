/**
 * The PostgreSQL source on its own: initial snapshot, live changes, a logical
 * message, then a table added to the running pipeline (copied while the
 * first one keeps streaming), into the memory destination.
 *
 * PostgreSQL: DATABASE_URL (wal_level=logical; the example creates and then
 * drops schema `etl_example`, its publication and its slot), else a private
 * PostgreSQL started for the run.
 *
 * Run: npx tsx examples/postgres-source.ts
 */
import { memory, memoryState, Pipeline, postgres } from 'etl-stream';
import { type PrivateService, startPrivatePostgres } from 'etl-stream/testing';
import pg from 'pg';

let privatePg: PrivateService | undefined;
let connectionString = process.env.DATABASE_URL;
if (!connectionString) {
  privatePg = await startPrivatePostgres();
  connectionString = privatePg.url;
  console.log('Started a private PostgreSQL for this run.');
}
const sql = new pg.Client({ connectionString });
await sql.connect();
await sql.query(`
  DROP SCHEMA IF EXISTS etl_example CASCADE;
  CREATE SCHEMA etl_example;
  CREATE TABLE etl_example.orders (id int PRIMARY KEY, status text NOT NULL, total numeric(12,2));
  CREATE TABLE etl_example.customers (id int PRIMARY KEY, name text NOT NULL);
  INSERT INTO etl_example.orders SELECT g, 'new', g * 1.5 FROM generate_series(1, 1000) g;
  INSERT INTO etl_example.customers SELECT g, 'customer ' || g FROM generate_series(1, 5000) g;`);

const source = postgres({
  connectionString,
  publication: 'etl_example',
  slot: 'etl_example',
  tables: ['etl_example.orders'],
  snapshotChunkRows: 1_000,
});
const dest = memory();
const pipeline = new Pipeline({ name: 'example' }).from(source).to(dest).state(memoryState());
pipeline.on('snapshot:progress', ({ table, rows, done }) =>
  console.log(`copy ${table}: ${rows} rows${done ? ', done' : ''}`),
);
pipeline.on('message', ({ prefix, content }) =>
  console.log(`message ${prefix}: ${Buffer.from(content).toString()}`),
);
pipeline.on('error', ({ error, fatal }) => console.error(fatal ? 'fatal:' : 'retrying:', error.toString()));

await pipeline.start();
await sql.query(`UPDATE etl_example.orders SET status = 'paid' WHERE id <= 10`);
await sql.query(`SELECT pg_logical_emit_message(true, 'example', 'orders 1-10 paid')`);

// Orders keep changing while customers is copied; addTables resolves once its rows are durable.
const writes = (async () => {
  for (let i = 0; i < 20; i++)
    await sql.query(`UPDATE etl_example.orders SET total = total + 1 WHERE id = ${i + 1}`);
})();
await source.addTables(['etl_example.customers']);
await writes;

// Wait until the destination has caught up with both tables, then compare them.
const caughtUp = async () => {
  const [orders, customers] = await Promise.all([
    sql.query('SELECT id, status, total::text AS total FROM etl_example.orders ORDER BY id'),
    sql.query('SELECT id, name FROM etl_example.customers ORDER BY id'),
  ]);
  const same = (table: string, rows: Record<string, unknown>[]) =>
    JSON.stringify(
      dest.rows(table).map((r) => Object.fromEntries(Object.keys(rows[0] ?? {}).map((k) => [k, r[k]]))),
    ) === JSON.stringify(rows);
  return same('etl_example.orders', orders.rows) && same('etl_example.customers', customers.rows);
};
const deadline = Date.now() + 30_000;
while (!(await caughtUp()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
console.log((await caughtUp()) ? 'destination equals both tables' : 'destination did not catch up in 30 s');

await pipeline.stop();
await source.dropSlot(); // an example's slot must not keep WAL on your server
await sql.query('DROP PUBLICATION IF EXISTS etl_example; DROP SCHEMA etl_example CASCADE');
await sql.end();
await privatePg?.stop();
