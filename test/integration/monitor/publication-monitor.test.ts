/**
 * Publication drift on real PostgreSQL: a table dropped from a running
 * pipeline's publication raises a critical alert naming it (PostgreSQL would
 * otherwise just stop sending its changes), and adding it back resolves it.
 * A second pipeline view on a blackholed port gets its own warning after its
 * own timeout and does not delay the healthy one.
 */

import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../../src/destinations/memory-destination.js';
import { publicationMonitor } from '../../../src/monitor/publication-monitor.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { AlertEvent } from '../../../src/pipeline/pipeline-events.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { testContext } from '../../unit/monitor/test-context.js';
import { waitFor } from '../postgres-source/consumer.js';

let db: TestDatabase;
let blackhole: Server;
let deadUrl: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  db = await createTestDatabase('etl_pubmon');
  await db.query(`CREATE TABLE accounts (id int PRIMARY KEY, owner text)`);
  await db.query(`CREATE TABLE transfers (id int PRIMARY KEY, amount numeric(12,2))`);
  blackhole = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.resume(); // accepts, never answers
  });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  deadUrl = `postgres://monitor:secret-pw@127.0.0.1:${(blackhole.address() as AddressInfo).port}/postgres`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackhole?.close(r));
  await db?.drop();
});

describe('publication monitor', () => {
  it('alerts when a table leaves the pipeline publication, and resolves when it is back', async () => {
    const alerts: AlertEvent[] = [];
    const pipeline = new Pipeline({ name: 'ledger' })
      .from(
        postgres({
          connectionString: db.url,
          tables: ['public.accounts', 'public.transfers'],
          publication: 'ledger_pub',
        }),
      )
      .to(new MemoryDestination())
      .monitor(publicationMonitor({ intervalMs: 150 }));
    pipeline.on('alert', (a) => {
      if (a.key.startsWith('publication:')) alerts.push(a);
    });
    await pipeline.start();
    try {
      await new Promise((r) => setTimeout(r, 500)); // a few quiet checks
      expect(alerts).toEqual([]);

      await db.query(`ALTER PUBLICATION ledger_pub DROP TABLE transfers`);
      await waitFor(() => alerts.length > 0, 5_000, 'drift alert');
      expect(alerts[0]).toMatchObject({
        key: 'publication:ledger:tables',
        severity: 'critical',
        resolved: false,
        details: { pipeline: 'ledger', publication: 'ledger_pub', tables: ['public.transfers'] },
      });
      expect(alerts[0]!.message).toContain('"public.transfers"');
      expect(alerts[0]!.message).toContain('ALTER PUBLICATION "ledger_pub" ADD TABLE public.transfers');

      await db.query(`ALTER PUBLICATION ledger_pub ADD TABLE transfers`);
      await waitFor(() => alerts.length > 1, 5_000, 'resolved notice');
      expect(alerts[1]).toMatchObject({ key: 'publication:ledger:tables', resolved: true, severity: 'info' });
      await new Promise((r) => setTimeout(r, 400));
      expect(alerts).toHaveLength(2); // raised once, resolved once: no repeats while unchanged
    } finally {
      await pipeline.stop();
    }
  });

  it('checks each pipeline within its own timeout: an unreachable server delays no one', async () => {
    await db.query(`CREATE PUBLICATION other_pub FOR TABLE accounts`);
    const tc = testContext([
      {
        name: 'dead',
        status: 'streaming',
        confirmedLsn: undefined,
        slot: { connectionString: deadUrl, name: 's1', publication: 'p1', tables: ['public.x'] },
      },
      {
        name: 'alive',
        status: 'streaming',
        confirmedLsn: undefined,
        slot: {
          connectionString: db.url,
          name: 's2',
          publication: 'other_pub',
          tables: ['public.transfers'],
        },
      },
    ]);
    const timeoutMs = 2_000;
    const started = Date.now();
    const run = publicationMonitor({ intervalMs: 60_000, timeoutMs }).run(tc.ctx);
    try {
      const alive = await tc.waitFor('alert', (a) => a.key === 'publication:alive:tables', 1_500);
      expect(Date.now() - started).toBeLessThan(timeoutMs); // not held up by the dead server
      expect(alive.details).toMatchObject({ tables: ['public.transfers'] });
      const dead = await tc.waitFor(
        'alert',
        (a) => a.key === 'publication:dead:unchecked',
        timeoutMs + 2_000,
      );
      expect(dead.severity).toBe('warning');
      expect(dead.message).toContain(`did not answer within ${timeoutMs} ms`);
      expect(dead.message).not.toContain('secret-pw');
    } finally {
      tc.stop();
      await run;
    }
  });
});
