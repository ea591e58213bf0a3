/**
 * Monitors on a pipeline: the slot it reads watched for lag and WAL retention,
 * alerts printed (and POSTed to a webhook when ALERT_WEBHOOK is set),
 * Prometheus series and liveness/readiness served over HTTP.
 *
 * Streams a small write load for a few seconds, prints what /health/ready and
 * /metrics say, then stops cleanly. Uses DATABASE_URL when set (wal_level must
 * be logical); otherwise starts a private PostgreSQL from the machine's binaries.
 *
 * Run: [DATABASE_URL=postgres://...] [ALERT_WEBHOOK=https://...] npx tsx examples/monitored-pipeline.ts
 */
import { alerts, healthServer, memory, metrics, Pipeline, postgres, walMonitor } from 'etl-stream';
import { startPrivatePostgres } from 'etl-stream/testing';
import pg from 'pg';

const privatePg = process.env.DATABASE_URL ? undefined : await startPrivatePostgres();
const connectionString = process.env.DATABASE_URL ?? privatePg!.url;

const client = new pg.Client({ connectionString });
await client.connect();
await client.query(`CREATE TABLE IF NOT EXISTS monitored_events (id bigserial PRIMARY KEY, payload text)`);

const wal = walMonitor({ intervalMs: 1_000, thresholds: { lagBytes: 64 * 1024 ** 2 } });
const m = metrics({ wal }); // `wal` adds the etl_stream_slot_* series
const notify = alerts(process.env.ALERT_WEBHOOK ? { webhook: { url: process.env.ALERT_WEBHOOK } } : {});
const health = healthServer({ port: 0, host: '127.0.0.1', metrics: m });

const pipeline = new Pipeline({ name: 'monitored' })
  .from(postgres({ connectionString, tables: ['public.monitored_events'] }))
  .to(memory())
  .monitor(wal, m, notify, health)
  .batch({ maxDelayMs: 200 });
pipeline.on('alert', (a) => console.log(`[alert ${a.resolved ? 'resolved' : a.severity}] ${a.message}`));
pipeline.on('error', (e) => console.error(`[error ${e.component}] ${e.error.message}`));

await pipeline.start();
const base = `http://127.0.0.1:${(await health.listening()).port}`;
console.log(`health and metrics on ${base}/health, ${base}/health/ready, ${base}/metrics`);

for (let i = 0; i < 20; i++) {
  await client.query(
    `INSERT INTO monitored_events (payload) SELECT md5(g::text) FROM generate_series(1, 500) g`,
  );
  await new Promise((r) => setTimeout(r, 150));
}
await new Promise((r) => setTimeout(r, 1_500)); // one more WAL reading

const ready = await fetch(`${base}/health/ready`);
console.log(`GET /health/ready -> ${ready.status}`, JSON.stringify(await ready.json()));
const scrape = await (await fetch(`${base}/metrics`)).text();
const shown =
  /^etl_stream_(rows_total|batches_total|transactions_total|lag_bytes|slot_active|slot_retained_wal_bytes)/;
console.log('GET /metrics (excerpt):');
for (const line of scrape.split('\n')) if (shown.test(line)) console.log(`  ${line}`);

await pipeline.stop();
await client.query('DROP TABLE monitored_events');
await client.end();
await privatePg?.stop();
console.log('Stopped: pipeline, monitors and HTTP server closed.');
