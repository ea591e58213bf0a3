/**
 * On the harness PostgreSQL: a slot whose confirmation is held back while
 * 50 MB of WAL is written shows the lag in events, in /metrics and in
 * /health/ready, raises the lag alert (also POSTed to a webhook), and all of
 * it resolves once confirmation resumes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts } from '../../../src/monitor/alerts.js';
import { healthServer } from '../../../src/monitor/health-server.js';
import { metrics } from '../../../src/monitor/metrics.js';
import { walMonitor } from '../../../src/monitor/wal-monitor.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { testContext, until, within } from '../../unit/monitor/test-context.js';

const MB = 1024 * 1024;
let db: TestDatabase;
let hook: Server;
let hookUrl: string;
const posted: { key: string; severity: string; resolved: boolean; message: string; pipelines: string[] }[] =
  [];

beforeAll(async () => {
  db = await createTestDatabase('etl_mon');
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      posted.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts?token=s3cret`;
});
afterAll(async () => {
  hook?.closeAllConnections();
  await new Promise((r) => hook?.close(r));
  await db?.drop();
});

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

describe('WAL monitor on real PostgreSQL', () => {
  it('sees 50 MB of unconfirmed WAL as lag (events, metric, alert, readiness) and the resolution after confirming', async () => {
    const slot = `lag_${db.name}`;
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    await db.query('CREATE TABLE filler (id int, pad text)');

    const tc = testContext([
      {
        name: 'orders',
        status: 'streaming',
        confirmedLsn: undefined,
        slot: { connectionString: db.url, name: slot },
      },
    ]);
    const wal = walMonitor({ intervalMs: 250, timeoutMs: 5_000, thresholds: { lagBytes: 40 * MB } });
    const m = metrics({ wal });
    const health = healthServer({ port: 0, host: '127.0.0.1', lagBytesReady: 40 * MB, metrics: m });
    const notify = alerts({ webhook: { url: hookUrl, timeoutMs: 2_000 } });
    const runs = [wal, m, health, notify].map((mon) => mon.run(tc.ctx));
    const base = `http://127.0.0.1:${(await health.listening()).port}`;

    // Before: small lag, ready.
    await tc.waitFor('lag', (l) => l.slot === slot);
    await until(async () => (await get(`${base}/health/ready`)).status === 200, 10_000, 'ready before load');

    // Hold confirmation back (nobody consumes the slot) while writing 50 MB of WAL.
    await db.query(`INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 50000) g`);
    const lag = await tc.waitFor('lag', (l) => l.slot === slot && l.bytes >= 50n * 1_000_000n);
    expect(lag.bytes).toBeLessThan(200n * BigInt(MB)); // plausible: 50k rows of 1 kB, not a unit mix-up
    const raised = await tc.waitFor('alert', (a) => a.key.endsWith(`:${slot}:lag`) && !a.resolved);
    expect(raised.severity).toBe('warning');
    expect(raised.message).toMatch(
      new RegExp(`Replication slot "${slot}" on 127\\.0\\.0\\.1:\\d+ is [\\d.]+ MB behind`),
    );

    const scraped = await get(`${base}/metrics`);
    expect(scraped.status).toBe(200);
    const lagLine = scraped.text
      .split('\n')
      .find((l) => l.startsWith(`etl_stream_lag_bytes{pipeline="orders",slot="${slot}"}`));
    expect(Number(lagLine?.split(' ').pop())).toBeGreaterThanOrEqual(50_000_000);
    expect(scraped.text).toMatch(
      new RegExp(`etl_stream_slot_retained_wal_bytes\\{server="[^"]+",slot="${slot}"\\} \\d`),
    );
    expect(scraped.text).toContain(`etl_stream_slot_wal_status{server="127.0.0.1:`);
    expect(scraped.text).toContain('etl_stream_pipeline_status{pipeline="orders",status="streaming"} 1');
    const notReady = await get(`${base}/health/ready`);
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.text).pipelines[0].reasons.join(' ')).toMatch(/lags [\d.]+ MB/);
    expect((await get(`${base}/health/live`)).status).toBe(200);

    // The alert is not repeated while it stays active.
    const lagEventsSoFar = tc.of('lag').length;
    await until(() => tc.of('lag').length >= lagEventsSoFar + 3, 10_000, 'three more checks');
    expect(tc.of('alert').filter((a) => a.key === raised.key && !a.resolved)).toHaveLength(1);

    // Resume confirmation.
    await db.query('SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())', [slot]);
    const resolved = await tc.waitFor('alert', (a) => a.key === raised.key && a.resolved);
    expect(resolved.message).toMatch(/back under the lag threshold/);
    await until(
      async () => (await get(`${base}/health/ready`)).status === 200,
      10_000,
      'ready after confirming',
    );
    await until(
      () => posted.some((p) => p.key === raised.key && p.resolved),
      10_000,
      'webhook got the resolution',
    );
    expect(posted.filter((p) => p.key === raised.key).map((p) => p.resolved)).toEqual([false, true]);
    expect(posted[0]?.pipelines).toEqual(['orders']);

    tc.stop();
    await within(Promise.all(runs), 5_000, 'monitors stopping');
    await expect(fetch(`${base}/health/live`)).rejects.toThrow(); // the server is closed
    await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
  });
});
