/**
 * One healthy server and one blackholed port (accepts TCP, never answers):
 * the healthy one is reported on time, every interval; the dead one is
 * reported as unreachable after its own timeout; stopping leaves no socket open.
 */

import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walMonitor } from '../../../src/monitor/wal-monitor.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { testContext, until, within } from '../../unit/monitor/test-context.js';

let db: TestDatabase;
let blackhole: Server;
let deadUrl: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  db = await createTestDatabase('etl_mon');
  blackhole = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.resume(); // read and discard (so the client's close is seen), never answer
  });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  deadUrl = `postgres://monitor:secret-pw@127.0.0.1:${(blackhole.address() as AddressInfo).port}/postgres`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackhole?.close(r));
  await db?.drop();
});

describe('WAL monitor with an unreachable server', () => {
  it('reports the healthy server every interval while the other one times out', async () => {
    const slot = `ok_${db.name}`;
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    const intervalMs = 1_000;
    const timeoutMs = 3_000;
    const wal = walMonitor({
      targets: [{ connectionString: deadUrl }, { connectionString: db.url, slots: [slot] }],
      intervalMs,
      timeoutMs,
    });
    const tc = testContext([{ name: 'p', status: 'streaming', confirmedLsn: undefined }]);
    const started = Date.now();
    const run = wal.run(tc.ctx);

    const first = await tc.waitFor('lag', (l) => l.slot === slot);
    expect(Date.now() - started).toBeLessThan(intervalMs); // not held up by the dead server's 3 s timeout
    expect(first.bytes).toBeGreaterThanOrEqual(0n);

    const unreachable = await tc.waitFor('alert', (a) => a.key.endsWith(':unreachable'), timeoutMs + 2_000);
    expect(unreachable.severity).toBe('warning');
    expect(unreachable.message).toMatch(/did not answer within 3000 ms/);
    expect(unreachable.message).not.toContain('secret-pw');
    expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutMs - 50);

    // Keep watching over two dead-server timeouts: the healthy slot is still reported about every interval.
    await until(() => Date.now() - started > 2 * timeoutMs + 500, 20_000);
    const times = tc.events.filter((e) => e.type === 'lag').map((e) => e.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(times.length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...gaps)).toBeLessThan(intervalMs * 1.5);
    // The unreachable alert is raised once, not at every failed check.
    expect(tc.of('alert').filter((a) => a.key === unreachable.key)).toHaveLength(1);
    expect(sockets.size).toBeGreaterThan(0); // a check is hanging on the blackhole right now, or just was

    tc.stop();
    await within(run, 2_000, 'the monitor stopping');
    await until(() => sockets.size === 0, 2_000, 'no socket left on the blackhole');
    await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
  });

  it('check() answers for every target concurrently, each within its own timeout', async () => {
    const wal = walMonitor({
      targets: [{ connectionString: db.url }, { connectionString: deadUrl }],
      timeoutMs: 1_000,
    });
    const started = Date.now();
    const [healthy, dead] = await wal.check();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(healthy).toMatchObject({ ok: true });
    expect(healthy!.durationMs).toBeLessThan(1_000);
    expect(dead).toMatchObject({ ok: false, error: { code: 'TIMEOUT', retryable: true } });
    await until(() => sockets.size === 0, 2_000, 'no socket left on the blackhole');
  });
});
