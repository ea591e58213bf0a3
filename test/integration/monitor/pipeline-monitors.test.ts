/**
 * The monitors as a user wires them: `.monitor(wal, metrics, healthServer)` on
 * a real Pipeline reading real PostgreSQL. The slot the WAL monitor watches
 * comes from the source (no target configured), /metrics and /health are
 * scraped over HTTP while the pipeline runs, and a destination outage opens
 * the circuit, which /health and /metrics report until it closes again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../../src/destinations/memory-destination.js';
import { healthServer } from '../../../src/monitor/health-server.js';
import { metrics } from '../../../src/monitor/metrics.js';
import { walMonitor } from '../../../src/monitor/wal-monitor.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { faultInjecting } from '../../../src/testing/fault-injecting-destination.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { waitFor } from '../postgres-source/consumer.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_monitors_pipe');
  await db.query(`CREATE TABLE events (id int PRIMARY KEY, kind text NOT NULL, amount numeric(12,2))`);
});

afterAll(async () => {
  await db?.drop();
});

/** One series' value from a Prometheus text body; `labels` must all match. */
function sample(body: string, series: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${series}{`) && !line.startsWith(`${series} `)) continue;
    const open = line.indexOf('{');
    const close = line.lastIndexOf('}');
    const labelText = open >= 0 && open < close ? line.slice(open + 1, close) : '';
    const have = new Map(
      [...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!] as const),
    );
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(line.split(' ').pop());
  }
  return undefined;
}

async function sourceRows(): Promise<string[]> {
  const res = await db.query<{ r: string }>(
    `SELECT id || '|' || kind || '|' || amount::text AS r FROM events ORDER BY id`,
  );
  return res.rows.map((x) => x.r);
}

function destRows(dest: MemoryDestination): string[] {
  return dest
    .rows('public.events')
    .map((r) => `${r.id}|${r.kind}|${r.amount}`)
    .sort((a, b) => Number(a.split('|')[0]) - Number(b.split('|')[0]));
}

describe('monitors on a running pipeline', () => {
  it('watch the source slot, serve /metrics and /health, and report an open circuit until it closes', async () => {
    let broken = false;
    const dest = new MemoryDestination();
    const flaky = faultInjecting(dest, { failWrites: () => broken });
    const wal = walMonitor({ intervalMs: 200 });
    const m = metrics({ wal });
    const health = healthServer({ port: 0, host: '127.0.0.1', metrics: m });
    const pipeline = new Pipeline({
      name: 'events-monitored',
      retry: { initialDelayMs: 20, maxDelayMs: 50 },
      circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 300 },
    })
      .from(postgres({ connectionString: db.url, tables: ['public.events'], statusIntervalMs: 200 }))
      .to(flaky)
      .monitor(wal, m, health)
      .batch({ maxDelayMs: 50 });
    await pipeline.start();
    try {
      const base = `http://127.0.0.1:${(await health.listening()).port}`;
      // Ready once the (empty) snapshot is done and the pipeline streams.
      await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 200, 10_000, 'ready');

      // Three transactions of 100, 150 and 250 rows.
      await db.query(`INSERT INTO events SELECT g, 'a', g * 0.25 FROM generate_series(1, 100) g`);
      await db.query(`INSERT INTO events SELECT g, 'b', g * 0.5 FROM generate_series(101, 250) g`);
      await db.query(`INSERT INTO events SELECT g, 'c', g * 1.5 FROM generate_series(251, 500) g`);
      const expected = await sourceRows();
      await waitFor(() => destRows(dest).length === expected.length, 20_000, 'rows delivered');
      expect(destRows(dest)).toEqual(expected);

      // The slot the WAL monitor reads is the source's; wait for one reading of it.
      const slot = 'etl_events_monitored';
      let body = '';
      await waitFor(
        async () => {
          body = await (await fetch(`${base}/metrics`)).text();
          return sample(body, 'etl_stream_slot_active', { slot }) === 1;
        },
        10_000,
        'slot series for the source slot',
      );
      const p = { pipeline: 'events-monitored' };
      expect(sample(body, 'etl_stream_rows_total', p)).toBe(500);
      expect(sample(body, 'etl_stream_transactions_total', p)).toBe(3);
      const batches = sample(body, 'etl_stream_batches_total', p)!;
      expect(batches).toBeGreaterThanOrEqual(1);
      expect(sample(body, 'etl_stream_batch_latency_seconds_count', p)).toBe(batches);
      expect(sample(body, 'etl_stream_bytes_total', p)).toBeGreaterThan(500 * 8);
      expect(sample(body, 'etl_stream_pipeline_status', { ...p, status: 'streaming' })).toBe(1);
      expect(sample(body, 'etl_stream_circuit_open', p)).toBe(0);
      expect(sample(body, 'etl_stream_slot_wal_status', { slot, status: 'reserved' })).toBe(1);
      expect(sample(body, 'etl_stream_slot_retained_wal_bytes', { slot })).toBeGreaterThanOrEqual(0);

      expect((await fetch(`${base}/health/ready`)).status).toBe(200);

      // The destination goes down: the circuit opens, the pipeline pauses, readiness drops.
      broken = true;
      await db.query(`UPDATE events SET kind = 'z' WHERE id <= 10`);
      await waitFor(() => pipeline.circuitOpen, 10_000, 'circuit open');
      const notReady = await fetch(`${base}/health/ready`);
      expect(notReady.status).toBe(503);
      const report = (await notReady.json()) as { pipelines: { circuitOpen?: boolean; status: string }[] };
      expect(report.pipelines[0]).toMatchObject({ circuitOpen: true });
      body = await (await fetch(`${base}/metrics`)).text();
      expect(sample(body, 'etl_stream_circuit_open', p)).toBe(1);
      expect(sample(body, 'etl_stream_retries_total', p)).toBeGreaterThanOrEqual(1);

      // It comes back: the half-open probe succeeds, everything arrives, readiness returns.
      broken = false;
      const healed = await sourceRows();
      await waitFor(() => destRows(dest).join('\n') === healed.join('\n'), 20_000, 'caught up after outage');
      await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 200, 10_000, 'ready again');
      body = await (await fetch(`${base}/metrics`)).text();
      expect(sample(body, 'etl_stream_circuit_open', p)).toBe(0);
      expect(sample(body, 'etl_stream_rows_total', p)).toBe(510);
    } finally {
      await pipeline.stop();
    }
  });
});
