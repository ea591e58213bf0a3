/**
 * Three worker processes share six pipelines two each; one is SIGKILLed
 * while rows keep arriving; its two pipelines are taken over by the others
 * within the lease time and resumed; then one of the two left shuts down and
 * hands its pipelines over to the last. The tables have no key (append-only),
 * so each destination holds one row per delivered change: it ends equal to
 * its source, row for row — nothing lost, nothing twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { redisUrl, uniqueKeyPrefix } from '../../support/redis.js';
import {
  deliveredBy,
  explainFailure,
  leaseOwners,
  spread,
  startWorker,
  startWriter,
  type Worker,
} from './support/cluster.js';
import {
  createConfigDatabase,
  duckdbRows,
  insertDefinitions,
  sourceRows,
  waitFor,
} from './support/fixture.js';

const LEASE_TTL_MS = 5_000;
/** Workers look for free pipelines this often (worker.ts). */
const BALANCE_MS = 500;
const NAMES = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];

let src: TestDatabase;
let config: TestDatabase;
let work: string;
let redis: Redis;
const prefix = uniqueKeyPrefix('mgr-kill');
const workers: Worker[] = [];

beforeAll(async () => {
  [src, config] = await Promise.all([createTestDatabase('etl_mgr_kill'), createConfigDatabase()]);
  work = await mkdtemp(join(tmpdir(), 'etl-mgr-kill-'));
  redis = new Redis(redisUrl());
  for (const n of NAMES) {
    await src.query(`CREATE TABLE ${n} (id bigint NOT NULL, payload text)`);
    await src.query(`INSERT INTO ${n} SELECT -g, 'before ' || g FROM generate_series(1, 10) g`);
  }
  await insertDefinitions(
    config,
    NAMES.map((n) => ({
      name: n,
      source: { credentials: 'src', tables: [`public.${n}`], appendOnly: true },
      destination: { kind: 'duckdb', options: { path: join(work, `${n}.duckdb`) } },
      batch: { maxDelayMs: 100 },
    })),
  );
});

afterAll(async () => {
  for (const w of workers) w.proc.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  redis?.disconnect();
  await Promise.all([src?.drop(), config?.drop()]);
  await rm(work, { recursive: true, force: true });
});

it('spreads six pipelines over three workers and resumes a killed worker’s within the lease time', async () => {
  const env = {
    MGR_CONFIG_URL: config.url,
    MGR_REDIS_URL: redisUrl(),
    MGR_PREFIX: prefix,
    MGR_SOURCE_URL: src.url,
    MGR_LEASE_TTL_MS: String(LEASE_TTL_MS),
  };
  explainFailure(workers);
  for (const id of ['w1', 'w2', 'w3']) workers.push(startWorker(id, env));
  const streaming = (name: string) =>
    workers.some(
      (w) => w.events.filter((e) => e.name === name && e.ev === 'state').at(-1)?.state === 'streaming',
    );
  await waitFor(
    async () => {
      const counts = spread(await leaseOwners(redis, prefix, NAMES));
      return (
        NAMES.every(streaming) && Object.values(counts).join() === '2,2,2' && Object.keys(counts).length === 3
      );
    },
    45_000,
    'six pipelines streaming, two per worker',
  );

  const writer = startWriter(src.url, NAMES, 20);
  await waitFor(() => writer.rows >= 30, 10_000, 'rows flowing');
  const victim = workers[0]!;
  const owners = await leaseOwners(redis, prefix, NAMES);
  const orphans = NAMES.filter((n) => owners.get(n) === victim.id);
  expect(orphans).toHaveLength(2);
  const killedAt = Date.now();
  victim.proc.kill('SIGKILL');
  await victim.exited;

  // Taken over by the survivors within the lease time (plus one look for free pipelines), then resumed.
  const survivors = workers.slice(1);
  const takenAt = (name: string) =>
    survivors.flatMap((w) => w.events).find((e) => e.ev === 'acquired' && e.name === name && e.t >= killedAt)
      ?.t;
  await waitFor(() => orphans.every((n) => takenAt(n) !== undefined), 15_000, 'orphans taken over');
  for (const n of orphans)
    expect(takenAt(n)! - killedAt).toBeLessThanOrEqual(LEASE_TTL_MS + BALANCE_MS + 500);
  const resumed = (n: string) =>
    survivors.some((w) => w.events.some((e) => e.ev === 'commit' && e.name === n && e.t > killedAt));
  await waitFor(() => orphans.every(resumed), 15_000, 'orphans resumed');
  expect(Object.values(spread(await leaseOwners(redis, prefix, NAMES))).sort()).toEqual([3, 3]);

  // A worker that shuts down hands its pipelines over (drained, leases released): the last one
  // takes them at its next look, without waiting for the leases to expire.
  const [leaving, staying] = survivors as [Worker, Worker];
  const before = await leaseOwners(redis, prefix, NAMES);
  const handedOver = NAMES.filter((n) => before.get(n) === leaving.id);
  expect(handedOver).toHaveLength(3);
  const stoppedAt = Date.now();
  leaving.proc.kill('SIGTERM');
  expect(await leaving.exited).toBe(0);
  expect(leaving.events.filter((e) => e.ev === 'released').map((e) => e.reason)).toContain('shutdown');
  const takenBack = (n: string) =>
    staying.events.find((e) => e.ev === 'acquired' && e.name === n && e.t >= stoppedAt)?.t;
  await waitFor(
    async () =>
      handedOver.every((n) => takenBack(n) !== undefined) &&
      spread(await leaseOwners(redis, prefix, NAMES))[staying.id] === 6,
    15_000,
    'handover',
  );
  for (const n of handedOver) expect(takenBack(n)! - stoppedAt).toBeLessThan(LEASE_TTL_MS);

  const last = await writer.stop();
  await waitFor(
    () => NAMES.every((n) => deliveredBy([staying], n, last)),
    30_000,
    'every pipeline caught up',
  );
  staying.proc.kill('SIGTERM');
  expect(await staying.exited).toBe(0);

  for (const n of NAMES) {
    const expected = await sourceRows(src, `SELECT id, payload FROM ${n} ORDER BY id`);
    expect(expected).toHaveLength(10 + writer.rows);
    expect(
      await duckdbRows(join(work, `${n}.duckdb`), `SELECT id, payload FROM public.${n} ORDER BY id`),
    ).toEqual(expected);
  }
}, 88_000);
