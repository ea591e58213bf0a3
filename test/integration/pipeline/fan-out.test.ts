/**
 * Fan-out on a real PostgreSQL: one slot, two destinations — DuckDB, healthy,
 * and a memory destination whose writes fail for a while (retried, circuit
 * breaker opening and closing). Sampled all along: the slot's
 * confirmed_flush_lsn never passes a transaction the failing destination has
 * not made durable. At the end both equal the source value by value, the
 * healthy one got no batch twice, and a keyless append-only table shows no
 * duplicate and no gap in either.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { LSN_COLUMN } from '../../../src/change/metadata-columns.js';
import { duckdb } from '../../../src/destinations/duckdb/duckdb-destination.js';
import { memory } from '../../../src/destinations/memory-destination.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { PipelineStatus } from '../../../src/pipeline/pipeline-events.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { MemoryStateStore } from '../../../src/state/memory-state-store.js';
import type { StateStore } from '../../../src/state/state-store.js';
import { faultInjecting } from '../../../src/testing/fault-injecting-destination.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { slotLsn, waitFor } from '../postgres-source/consumer.js';
import { transactionAt } from './support/scenario.js';
import {
  aliasedRows,
  columnsOf,
  diffRows,
  duckdbSelect,
  memoryRows,
  NO_DIFF,
  type Rows,
  sourceRows,
  type TableSpec,
} from './support/tables.js';

let db: TestDatabase;
let work: string;

beforeAll(async () => {
  db = await createTestDatabase('etl_pipe_fanout');
  await db.query(`
    CREATE TABLE accounts (id int PRIMARY KEY, balance numeric(12,2) NOT NULL, note text);
    CREATE TABLE events (account int NOT NULL, amount numeric(12,2) NOT NULL);
    INSERT INTO accounts SELECT g, 100, 'open' FROM generate_series(1, 500) g;
  `);
  work = await mkdtemp(join(tmpdir(), 'etl-pipe-fanout-'));
});
afterAll(async () => {
  await db?.drop();
  await rm(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Commit LSNs of every transaction whose rows are in the batch (from `_etl_lsn`). */
function commitsOf(batch: ChangeBatch): bigint[] {
  const out = new Set<bigint>();
  for (const e of batch.rowEntries()) {
    const col = e.data.getChild(LSN_COLUMN)!;
    for (let i = 0; i < e.data.numRows; i++) out.add(col.get(i) as bigint);
  }
  return [...out];
}

/** Transfers: an update of two accounts and an event row, per transaction. */
async function transfers(from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const a = 1 + (i % 500);
    const b = 1 + ((i * 7) % 500);
    await db.query(
      `BEGIN;
       UPDATE accounts SET balance = balance - 1, note = 't${i}' WHERE id = ${a};
       UPDATE accounts SET balance = balance + 1 WHERE id = ${b};
       INSERT INTO events VALUES (${a}, -1), (${b}, 1);
       COMMIT`,
    );
  }
}

/** The keyless table's rows in a canonical order, so that a duplicate or a gap shows. */
const eventsSql = `SELECT CAST(account AS VARCHAR) AS c0, CAST(amount AS VARCHAR) AS c1 FROM public.events ORDER BY account, amount`;

it('two destinations, one failing for a while: the slot waits for it, both end equal to the source', async () => {
  const path = join(work, 'fanout.duckdb');
  const healthy = duckdb({ path, name: 'duckdb', tempDir: work });
  const slowInner = memory({ name: 'slow' });
  let failing = false;
  const slow = faultInjecting(slowInner, { failWrites: () => failing, when: 'before' });
  // What the healthy destination was asked to write, in order (a batch twice would show).
  const healthyReceived: bigint[] = [];
  const recorded: Destination = {
    name: healthy.name,
    open: (ctx) => healthy.open(ctx),
    write: (batch, opts) => {
      if (!batch.partial) healthyReceived.push(batch.commitLsn);
      return healthy.write(batch, opts);
    },
    committedLsn: (p) => healthy.committedLsn(p),
    close: () => healthy.close(),
  };
  const inner = new MemoryStateStore();
  const store: StateStore = {
    load: (p) => inner.load(p),
    save: (p, s) => inner.save(p, s),
    close: async () => {},
  };
  const pipeline = new Pipeline({
    name: 'fanout',
    retry: { initialDelayMs: 20, maxDelayMs: 100 },
    circuitBreaker: { failureThreshold: 5, resetTimeoutMs: 200 },
  })
    .from(
      postgres({
        connectionString: db.url,
        tables: ['public.accounts', 'public.events'],
        appendOnly: true,
        statusIntervalMs: 200,
      }),
    )
    .to(recorded, slow)
    .state(store)
    .batch({ maxDelayMs: 20 });
  const commits = new Set<bigint>();
  const statuses: PipelineStatus[] = [];
  const alerts: string[] = [];
  const retried = new Set<string>();
  pipeline.on('batch', ({ batch }) => {
    for (const c of commitsOf(batch)) commits.add(c);
  });
  pipeline.on('state', ({ status }) => void statuses.push(status));
  pipeline.on(
    'alert',
    (a) => void (a.key.startsWith('circuit:') && alerts.push(`${a.severity}:${a.resolved}`)),
  );
  pipeline.on('error', ({ error, fatal, component }) => {
    if (fatal) retried.add(`FATAL ${component}: ${error.message}`);
    else retried.add(component.replace(/:attempt \d+$/, ''));
  });

  /** Slot positions sampled with the transactions the failing destination had not made durable then. */
  const violations: { slot: bigint; durable: bigint; behind: bigint[] }[] = [];
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const slot = await slotLsn(db, 'etl_fanout');
      const durable = (await slowInner.committedLsn('fanout')) ?? 0n;
      // A slot at a commit LSN still sends that transaction; past it, it would be gone.
      const behind = [...commits].filter((c) => c > durable && slot !== undefined && slot > c);
      if (behind.length > 0) violations.push({ slot: slot!, durable, behind });
      samples++;
      await sleep(50);
    }
  })();

  await pipeline.start();
  try {
    await waitFor(() => slowInner.rows('public.accounts').length === 500, 20_000, 'snapshot');
    await transfers(0, 20);
    failing = true;
    const failedAt = slow.failures;
    await Promise.all([transfers(20, 40), waitFor(() => slow.failures >= failedAt + 8, 20_000, 'failures')]);
    await waitFor(() => statuses.includes('paused'), 10_000, 'circuit open');
    failing = false;
    await transfers(60, 20);
    const last = await transactionAt(db.url, `UPDATE accounts SET note = 'end' WHERE id = 1`);
    await waitFor(
      async () => ((await slowInner.committedLsn('fanout')) ?? 0n) >= last,
      30_000,
      'slow caught up',
    );
    await waitFor(
      async () => ((await healthy.committedLsn('fanout')) ?? 0n) >= last,
      30_000,
      'healthy caught up',
    );
  } finally {
    sampling = false;
    await sampler;
    await pipeline.stop();
  }

  expect(samples).toBeGreaterThan(20);
  expect(violations).toEqual([]);
  expect([...retried]).toEqual(['destination:slow']);
  expect(alerts).toEqual(['critical:false', 'info:true']);
  expect(statuses).toContain('paused');
  expect(pipeline.status).toBe('stopped');
  // No batch written twice to the healthy destination, none lost to the failing one's retries.
  expect(healthyReceived).toEqual([...healthyReceived].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  expect(new Set(healthyReceived).size).toBe(healthyReceived.length);

  const accounts: TableSpec = { table: 'public.accounts', key: 'id' };
  const columns = await columnsOf(db, accounts.table);
  const expected = await sourceRows(db, accounts, columns);
  const { rows: sourceEvents } = await db.query(
    `SELECT account::text AS c0, amount::text AS c1 FROM events ORDER BY account, amount`,
  );
  const expectedEvents = aliasedRows(sourceEvents, columns.slice(0, 2));
  expect(expectedEvents.length).toBe(160);

  // The failing destination.
  expect(diffRows(expected, memoryRows(slowInner, accounts, columns))).toEqual(NO_DIFF);
  const slowEvents: Rows = slowInner
    .rows('public.events')
    .map((r) => [String(r.account), String(r.amount)])
    .sort((a, b) => Number(a[0]) - Number(b[0]) || Number(a[1]) - Number(b[1]));
  expect(slowEvents).toEqual(expectedEvents);

  // The healthy destination.
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  try {
    const got = aliasedRows(
      (await connection.runAndReadAll(duckdbSelect(accounts, columns))).getRowObjectsJson(),
      columns,
    );
    expect(diffRows(expected, got)).toEqual(NO_DIFF);
    const events = aliasedRows(
      (await connection.runAndReadAll(eventsSql)).getRowObjectsJson(),
      columns.slice(0, 2),
    );
    expect(events).toEqual(expectedEvents);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }

  // The slot and the saved state agree, at or past the last transaction both made durable.
  const saved = (await inner.load('fanout'))!;
  await waitFor(async () => (await slotLsn(db, 'etl_fanout')) === saved.checkpoint.lsn, 5_000, 'slot');
  expect(await slotLsn(db, 'etl_fanout')).toBe(saved.checkpoint.lsn);
  expect(saved.destinations).toEqual({
    duckdb: await healthyWatermark(path),
    slow: await slowInner.committedLsn('fanout'),
  });
});

async function healthyWatermark(path: string): Promise<bigint> {
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  try {
    const r = await connection.runAndReadAll(
      `SELECT CAST(commit_lsn AS VARCHAR) AS lsn FROM main._etl_watermark WHERE pipeline = 'fanout'`,
    );
    return BigInt(String(r.getRowObjectsJson()[0]!.lsn));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
