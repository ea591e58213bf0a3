/**
 * One WAL monitor added to several pipelines: one loop and one connection
 * per server, each pipeline hears about its own slot only, and the
 * inactivity, lag-time and missing-slot rules fire on real slots.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walMonitor } from '../../../src/monitor/wal-monitor.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { testContext, until, within } from '../../unit/monitor/test-context.js';

let db: TestDatabase;
let db2: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_mon');
  db2 = await createTestDatabase('etl_mon');
});
afterAll(async () => {
  await db?.drop();
  await db2?.drop();
});

/** Monitor connections to either test database (other files' monitors use other databases). */
async function monitorConnections(): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'etl-stream wal monitor' AND datname IN ($1, $2)`,
    [db.name, db2.name],
  );
  return Number(rows[0]?.n);
}

describe('WAL monitor shared by pipelines', () => {
  it('routes each slot to its pipeline over one connection per server, and raises inactive, lag-time and missing alerts', async () => {
    const [a, b, d] = [`a_${db.name}`, `b_${db.name}`, `d_${db2.name}`];
    for (const slot of [a, b])
      await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    await db2.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [d]);
    await db.query('CREATE TABLE filler (pad text)');
    const view = (name: string, slot: string, url = db.url) => ({
      name,
      status: 'streaming' as const,
      confirmedLsn: undefined,
      slot: { connectionString: url, name: slot },
    });
    const wal = walMonitor({
      intervalMs: 200,
      thresholds: { lagBytes: 1024 ** 3, lagMs: 600, inactiveMs: 300 },
    });
    const ta = testContext([view('pa', a)]);
    const tb = testContext([view('pb', b)]);
    const tc = testContext([view('pc', `gone_${db.name}`)]);
    const td = testContext([view('pd', d, db2.url)]); // another database, same server
    const runs = [wal.run(ta.ctx), wal.run(tb.ctx), wal.run(tc.ctx), wal.run(td.ctx)];

    await ta.waitFor('lag', (l) => l.slot === a);
    await tb.waitFor('lag', (l) => l.slot === b);
    await td.waitFor('lag', (l) => l.slot === d);
    expect(new Set(ta.of('lag').map((l) => l.slot))).toEqual(new Set([a]));
    expect(new Set(tb.of('lag').map((l) => l.slot))).toEqual(new Set([b]));
    expect(new Set(td.of('lag').map((l) => l.slot))).toEqual(new Set([d]));
    expect(await monitorConnections()).toBe(1); // one per server, however many databases and pipelines

    // Nobody consumes the slots: inactive after 300 ms.
    const inactive = await ta.waitFor('alert', (x) => x.key.endsWith(`:${a}:inactive`));
    expect(inactive.message).toMatch(/has had no consumer for/);
    await td.waitFor('alert', (x) => x.key.endsWith(`:${d}:inactive`));
    // The missing slot belongs to pipeline pc: critical, and reported to pc only.
    const missing = await tc.waitFor('alert', (x) => x.key.endsWith(`:gone_${db.name}:missing`));
    expect(missing.severity).toBe('critical');
    expect(ta.of('alert').some((x) => x.key.includes('gone_'))).toBe(false);

    // Unconfirmed WAL older than 600 ms raises lag-time; confirming resolves it.
    await db.query(`INSERT INTO filler SELECT repeat('x', 100) FROM generate_series(1, 1000)`);
    const lagTime = await tb.waitFor('alert', (x) => x.key.endsWith(`:${b}:lag-time`), 10_000);
    expect(lagTime.message).toMatch(/has not confirmed WAL written .* ago \(threshold 600 ms\)/);
    await db.query('SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())', [b]);
    await tb.waitFor('alert', (x) => x.key === lagTime.key && x.resolved, 10_000);
    expect(tb.of('lag').at(-1)?.ms).toBe(0);
    // Alerts of one server's slots, read for different pipelines, never resolve each other.
    const inactiveResolved = [ta, td]
      .flatMap((t) => t.of('alert'))
      .filter((x) => x.key.endsWith(':inactive') && x.resolved);
    expect(inactiveResolved).toEqual([]);

    // Pipelines stop one by one; the last one stopping ends the loop and closes the connection.
    ta.stop();
    tc.stop();
    td.stop();
    await within(Promise.all([runs[0], runs[2], runs[3]]), 2_000, 'first runs');
    const lagsBefore = tb.of('lag').length;
    await until(() => tb.of('lag').length > lagsBefore, 2_000, 'b still watched');
    tb.stop();
    await within(runs[1]!, 2_000, 'last run');
    await until(async () => (await monitorConnections()) === 0, 5_000, 'monitor connection closed');
    for (const slot of [a, b]) await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
    await db2.query('SELECT pg_drop_replication_slot($1)', [d]);
  });

  it('checks the slot of a pipeline that joins a running monitor at once, not an interval later', async () => {
    const [a, b] = [`ja_${db.name}`, `jb_${db.name}`];
    for (const slot of [a, b])
      await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    const view = (slot: string) => ({
      name: slot,
      status: 'streaming' as const,
      confirmedLsn: undefined,
      slot: { connectionString: db.url, name: slot },
    });
    const wal = walMonitor({ intervalMs: 60_000 });
    const ta = testContext([view(a)]);
    const tb = testContext([view(b)]);
    const runA = wal.run(ta.ctx);
    await ta.waitFor('lag', (l) => l.slot === a, 5_000);
    const joined = Date.now();
    const runB = wal.run(tb.ctx);
    await tb.waitFor('lag', (l) => l.slot === b, 5_000);
    expect(Date.now() - joined).toBeLessThan(2_000);
    ta.stop();
    tb.stop();
    await within(Promise.all([runA, runB]), 2_000, 'runs');
    for (const slot of [a, b]) await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
  });
});
