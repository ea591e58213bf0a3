/**
 * An invalidated slot, on a private PostgreSQL with a tiny
 * `max_slot_wal_keep_size` (a server-wide setting, so not on the shared
 * harness server): the monitor follows the slot from `reserved` to `lost`,
 * raises the critical alert with the policy, and, under `onLost: 'fail'`,
 * stops the pipeline reading it with `PG_SLOT_INVALID`.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../../src/monitor/metrics.js';
import { walMonitor } from '../../../src/monitor/wal-monitor.js';
import { type PrivateService, startPrivatePostgres, TINY_SLOT_WAL_SETTINGS } from '../../support/services.js';
import { testContext, within } from '../../unit/monitor/test-context.js';

let server: PrivateService;

beforeAll(async () => {
  server = await startPrivatePostgres({ settings: TINY_SLOT_WAL_SETTINGS });
});
afterAll(async () => {
  await server?.stop();
});

async function sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

describe('WAL monitor and a lost slot', () => {
  it('detects the invalidated slot, alerts, and fails the pipeline reading it', async () => {
    await sql(`SELECT pg_create_logical_replication_slot('doomed', 'pgoutput')`);
    await sql(`SELECT pg_create_logical_replication_slot('bystander', 'pgoutput')`);
    await sql('CREATE TABLE filler (id int, pad text)');

    const tc = testContext([
      {
        name: 'doomed',
        status: 'streaming',
        confirmedLsn: undefined,
        slot: { connectionString: server.url, name: 'doomed' },
      },
    ]);
    const wal = walMonitor({
      targets: [{ connectionString: server.url }], // every slot on the server
      intervalMs: 200,
      timeoutMs: 5_000,
      onLost: 'fail',
    });
    const m = metrics({ wal });
    const runs = [wal.run(tc.ctx), m.run(tc.ctx)];
    const before = await tc.waitFor('lag', (l) => l.slot === 'doomed');
    expect(before.bytes).toBeLessThan(1_000_000n);
    expect(wal.readings().find((r) => r.slot === 'doomed')?.walStatus).toBe('reserved');

    // Write WAL past the keep limit, switch segments and checkpoint until the slots are invalidated.
    for (let round = 0; round < 10; round++) {
      await sql(`INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 20000) g`);
      await sql('SELECT pg_switch_wal()');
      await sql('CHECKPOINT');
      const [row] = await sql<{ wal_status: string }>(
        `SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'doomed'`,
      );
      if (row?.wal_status === 'lost') break;
    }

    const lost = await tc.waitFor('alert', (a) => a.key.endsWith(':doomed:lost'));
    expect(lost.severity).toBe('critical');
    expect(lost.message).toMatch(/Replication slot "doomed" on 127\.0\.0\.1:\d+ was invalidated/);
    expect(lost.message).toMatch(/Policy "fail"/);
    expect(lost.details).toMatchObject({ slot: 'doomed', walStatus: 'lost' });
    // The slot no pipeline reads is reported too, but fails nothing.
    await tc.waitFor('alert', (a) => a.key.endsWith(':bystander:lost'));
    await new Promise((r) => setTimeout(r, 500)); // a few more checks: still one failure, still one alert
    expect(tc.failures).toHaveLength(1);
    expect(tc.failures[0]).toMatchObject({ code: 'PG_SLOT_INVALID', details: { slot: 'doomed' } });
    expect(tc.failures[0]?.hint).toMatch(
      /drop the slot .*delete the pipeline's saved state, empty its destination tables/,
    );
    expect(tc.of('alert').filter((a) => a.key === lost.key)).toHaveLength(1);
    // Lag and WAL-status alerts of a lost slot are resolved, not left dangling.
    for (const a of tc.of('alert').filter((x) => x.key.includes(':doomed:') && !x.key.endsWith(':lost'))) {
      const resolution = tc.of('alert').find((x) => x.key === a.key && x.resolved);
      expect(resolution?.message).toMatch(/superseded by the lost-slot alert/);
    }

    const { body } = await m.scrape();
    expect(body).toMatch(/etl_stream_slot_lost\{server="127\.0\.0\.1:\d+",slot="doomed"\} 1/);
    expect(body).toMatch(
      /etl_stream_slot_wal_status\{server="127\.0\.0\.1:\d+",slot="doomed",status="lost"\} 1/,
    );

    tc.stop();
    await within(Promise.all(runs), 5_000, 'monitors stopping');
  });

  it('under onLost "report" only alerts', async () => {
    const tc = testContext([
      {
        name: 'doomed',
        status: 'streaming',
        confirmedLsn: undefined,
        slot: { connectionString: server.url, name: 'doomed' },
      },
    ]);
    const wal = walMonitor({ intervalMs: 200, onLost: 'report' });
    const run = wal.run(tc.ctx);
    const lost = await tc.waitFor('alert', (a) => a.key.endsWith(':doomed:lost'));
    expect(lost.message).toMatch(/Policy "report"/);
    expect(tc.failures).toHaveLength(0);
    tc.stop();
    await within(run, 5_000, 'monitor stopping');
  });
});
