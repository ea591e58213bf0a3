/**
 * Two PipelineManager workers share pipelines defined in a configuration
 * database: definitions are added, changed and disabled live, and when one
 * worker stops the other takes its pipelines over.
 *
 * Run: npx tsx examples/manager/index.ts
 * With CONFIG_DATABASE_URL / SHOP_DATABASE_URL (wal_level=logical) / REDIS_URL set it uses
 * those servers; otherwise it starts a private PostgreSQL and Redis and removes them at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipelineManager } from 'etl-stream';
import { type PrivateService, startPrivatePostgres, startPrivateRedis } from 'etl-stream/testing';
import pg from 'pg';

const services: PrivateService[] = [];
async function urls(): Promise<{ config: string; shop: string; redis: string }> {
  const { CONFIG_DATABASE_URL, SHOP_DATABASE_URL, REDIS_URL } = process.env;
  if (CONFIG_DATABASE_URL && SHOP_DATABASE_URL && REDIS_URL) {
    return { config: CONFIG_DATABASE_URL, shop: SHOP_DATABASE_URL, redis: REDIS_URL };
  }
  const [postgres, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
  services.push(postgres, redis);
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  for (const db of ['etl_config', 'shop']) await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const at = (db: string) => Object.assign(new URL(postgres.url), { pathname: `/${db}` }).toString();
  return { config: at('etl_config'), shop: at('shop'), redis: redis.url };
}

const sql = async (url: string, text: string, values?: unknown[]) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
};
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { config, shop, redis } = await urls();
const dir = mkdtempSync(join(tmpdir(), 'etl-manager-example-'));

// The source: three tables.
for (const t of ['orders', 'customers', 'invoices']) {
  await sql(shop, `CREATE TABLE IF NOT EXISTS ${t} (id int PRIMARY KEY, note text, card text)`);
  await sql(
    shop,
    `INSERT INTO ${t} SELECT g, '${t} ' || g, 'card ' || g FROM generate_series(1, 100) g ON CONFLICT DO NOTHING`,
  );
}

// The configuration database: the manager's tables (idempotent), then two definitions.
const admin = new PipelineManager({ connectionString: config, redisUrl: redis, credentials: () => ({}) });
await admin.migrate();
const define = (name: string, table: string) =>
  sql(
    config,
    `INSERT INTO etl_stream.pipelines (name, source, destination) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, destination = EXCLUDED.destination, enabled = true`,
    [
      name,
      { credentials: 'shop', tables: [`public.${table}`] },
      { kind: 'duckdb', options: { path: join(dir, `${name}.duckdb`) } },
    ],
  );
await define('orders', 'orders');
await define('customers', 'customers');

// Two workers.
const workerScript = fileURLToPath(new URL('./worker.ts', import.meta.url));
const start = (id: string): ChildProcess =>
  spawn(process.execPath, ['--import', 'tsx', workerScript], {
    env: {
      ...process.env,
      CONFIG_DATABASE_URL: config,
      REDIS_URL: redis,
      SHOP_DATABASE_URL: shop,
      WORKER_ID: id,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
const workers = [start('worker-1'), start('worker-2')];
await pause(8_000);

const status = async (title: string) => {
  const { rows } = await sql(
    config,
    'SELECT name, owner, state, confirmed_lsn, left(last_error, 70) AS last_error FROM etl_stream.pipeline_status ORDER BY name',
  );
  console.log(`\n== ${title}`);
  console.table(rows);
};
await status('two pipelines on two workers');

console.log('\n-> adding "invoices", masking a column of "orders", adding a bad definition');
await define('invoices', 'invoices');
await sql(config, `UPDATE etl_stream.pipelines SET transforms = $1 WHERE name = 'orders'`, [
  JSON.stringify([{ name: 'maskColumns', options: { 'public.orders': { card: '***' } } }]),
]);
await sql(
  config,
  `INSERT INTO etl_stream.pipelines (name, source, destination) VALUES ('broken', '{"credentials": "shop"}', '{"kind": "nowhere"}')
   ON CONFLICT (name) DO NOTHING`,
);
await pause(6_000);
await status('three pipelines, one invalid definition');

console.log('\n-> stopping worker-1: it hands its pipelines over');
workers[0]!.kill('SIGTERM');
await new Promise((r) => workers[0]!.once('exit', r));
await pause(6_000);
await status('worker-2 runs everything');

workers[1]!.kill('SIGTERM');
await new Promise((r) => workers[1]!.once('exit', r));
await sql(config, `DELETE FROM etl_stream.pipelines WHERE name = 'broken'`);
for (const s of services) await s.stop();
console.log(`\nDuckDB files in ${dir}`);
