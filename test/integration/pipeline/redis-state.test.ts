/**
 * The Redis state store under a real pipeline, with Redis restarted in the
 * middle of the run (a private Redis, so that stopping it disturbs no other
 * test file). While Redis is down the pipeline retries the save (non-fatal
 * `error` events), confirms nothing, emits no commit and stops reading; the
 * slot never moves past the last position Redis acknowledged. Once Redis is
 * back it carries on, and at the end the destination equals the source and
 * the position in Redis equals the slot's.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memory } from '../../../src/destinations/memory-destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { redisState } from '../../../src/state/redis/redis-state-store.js';
import type { PipelineState, StateStore } from '../../../src/state/state-store.js';
import type { PrivateService } from '../../../src/testing/private-services.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { startPrivateRedis } from '../../support/services.js';
import { slotLsn, waitFor } from '../postgres-source/consumer.js';
import { transactionAt } from './support/scenario.js';
import { columnsOf, diffRows, memoryRows, NO_DIFF, sourceRows } from './support/tables.js';

let db: TestDatabase;
let redis: PrivateService;

beforeAll(async () => {
  db = await createTestDatabase('etl_pipe_redis');
  await db.query(`CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, n int NOT NULL)`);
  await db.query(`INSERT INTO orders SELECT g, 'new', 0 FROM generate_series(1, 1000) g`);
  redis = await startPrivateRedis();
});
afterAll(async () => {
  await redis?.stop();
  await db?.drop();
});

/** Observes the saves that Redis acknowledged (the store itself is the real one). */
function observed(inner: StateStore, acknowledged: PipelineState[]): StateStore {
  return {
    load: (p) => inner.load(p),
    save: async (p, s) => {
      await inner.save(p, s);
      acknowledged.push(s);
    },
    close: () => inner.close(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('a Redis restart mid-run: the pipeline retries and pauses, never confirms unsaved, loses nothing', async () => {
  const port = redis.port;
  const keyPrefix = 'restart-test:';
  const acknowledged: PipelineState[] = [];
  const store = redisState({ url: redis.url, keyPrefix, connectTimeoutMs: 500, commandTimeoutMs: 1_000 });
  const dest = memory();
  const maxInFlight = 2;
  const pipeline = new Pipeline({
    name: 'orders',
    maxInFlight,
    retry: { initialDelayMs: 50, maxDelayMs: 500 },
  })
    .from(postgres({ connectionString: db.url, tables: ['public.orders'], statusIntervalMs: 200 }))
    .to(dest)
    .state(observed(store, acknowledged))
    .batch({ maxDelayMs: 20 });
  const timeline: { at: number; kind: 'batch' | 'commit' | 'retry' | 'fatal'; lsn?: bigint }[] = [];
  const retried = new Set<string>();
  pipeline.on(
    'batch',
    ({ batch }) => void timeline.push({ at: Date.now(), kind: 'batch', lsn: batch.commitLsn }),
  );
  pipeline.on(
    'commit',
    ({ checkpoint }) => void timeline.push({ at: Date.now(), kind: 'commit', lsn: checkpoint.lsn }),
  );
  pipeline.on('error', ({ fatal, component }) => {
    timeline.push({ at: Date.now(), kind: fatal ? 'fatal' : 'retry' });
    if (!fatal) retried.add(component);
  });
  await pipeline.start();
  /** The slot, and the commit LSNs of transactions read but not yet acknowledged by Redis, at one instant. */
  const slotSamples: { slot: bigint; unsaved: bigint[] }[] = [];
  try {
    await waitFor(() => dest.rows('public.orders').length === 1_000, 20_000, 'snapshot');
    for (let i = 1; i <= 20; i++)
      await db.query(`UPDATE orders SET n = n + 1, status = 'before' WHERE id = ${i}`);

    // Redis goes away while changes keep coming.
    await redis.stop();
    const downAt = Date.now();
    const writer = (async () => {
      for (let i = 21; i <= 60; i++) {
        await db.query(`UPDATE orders SET n = n + 1, status = 'during' WHERE id = ${i}`);
        await sleep(25);
      }
    })();
    await waitFor(() => timeline.some((e) => e.kind === 'retry' && e.at >= downAt), 10_000, 'a retried save');
    // While it is down the slot does not move, and never passes a transaction Redis did not acknowledge
    // (a slot at a commit LSN still sends that transaction).
    const sampleUntil = Date.now() + 1_500;
    while (Date.now() < sampleUntil) {
      const slot = (await slotLsn(db, 'etl_orders')) ?? 0n;
      const saved = acknowledged.at(-1)?.checkpoint.commitLsn ?? 0n;
      const unsaved = timeline.filter((e) => e.kind === 'batch' && e.lsn! > saved).map((e) => e.lsn!);
      slotSamples.push({ slot, unsaved });
      await sleep(100);
    }
    await writer;
    const firstRetry = timeline.find((e) => e.kind === 'retry' && e.at >= downAt)!.at;

    redis = await startPrivateRedis({ port });
    const upAt = Date.now();
    const last = await transactionAt(db.url, `UPDATE orders SET status = 'after' WHERE id <= 100`);
    await waitFor(
      async () => ((await dest.committedLsn()) ?? 0n) >= last,
      30_000,
      'caught up after the restart',
    );

    // Paused while Redis was down: no commit, and no more than the in-flight batches read.
    const during = timeline.filter((e) => e.at > firstRetry && e.at < upAt);
    expect(during.filter((e) => e.kind === 'commit')).toEqual([]);
    expect(during.filter((e) => e.kind === 'batch').length).toBeLessThanOrEqual(maxInFlight);
    expect(slotSamples.length).toBeGreaterThan(5);
    expect(new Set(slotSamples.map((s) => s.slot)).size).toBe(1);
    expect(slotSamples.every((s) => s.unsaved.length > 0)).toBe(true);
    expect(slotSamples.filter((s) => s.unsaved.some((commit) => s.slot > commit))).toEqual([]);
  } finally {
    await pipeline.stop();
  }
  expect(pipeline.status).toBe('stopped');
  expect(timeline.filter((e) => e.kind === 'fatal')).toEqual([]);
  expect([...retried]).toEqual(['state store']);

  // Nothing lost: the destination equals the source, value by value.
  const spec = { table: 'public.orders', key: 'id' };
  const columns = await columnsOf(db, spec.table);
  const expected = await sourceRows(db, spec, columns);
  const got = memoryRows(dest, spec, columns);
  expect(diffRows(expected, got)).toEqual(NO_DIFF);
  expect(got.length).toBe(1_000);

  // The position in Redis is right: the last commit, and what the slot has.
  const check = redisState({ url: redis.url, keyPrefix });
  const saved = (await check.load('orders'))!;
  await check.close();
  const lastCommit = timeline.filter((e) => e.kind === 'commit').at(-1)!.lsn!;
  expect(saved.checkpoint.lsn).toBeGreaterThanOrEqual(lastCommit);
  await waitFor(async () => (await slotLsn(db, 'etl_orders')) === saved.checkpoint.lsn, 5_000, 'slot');
  expect(await slotLsn(db, 'etl_orders')).toBe(saved.checkpoint.lsn);
});
