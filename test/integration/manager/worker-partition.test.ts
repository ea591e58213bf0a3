/**
 * A worker cut off from Redis (its connection goes through a proxy the test
 * pauses: bytes are held, nothing is reset) while its PostgreSQL source and
 * its state store (Postgres here, on purpose) stay reachable: only the lease
 * stands between it and a confirm. It confirms nothing once its lease has
 * run out, stops the pipeline so the slot is free, and the other worker
 * takes over after the lease expired; the destinations end equal to their
 * sources, row for row.
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
  startProxy,
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
const NAMES = ['p1', 'p2'];

let src: TestDatabase;
let config: TestDatabase;
let work: string;
let redis: Redis;
let proxy: Awaited<ReturnType<typeof startProxy>>;
const prefix = uniqueKeyPrefix('mgr-part');
const workers: Worker[] = [];

beforeAll(async () => {
  [src, config] = await Promise.all([createTestDatabase('etl_mgr_part'), createConfigDatabase()]);
  work = await mkdtemp(join(tmpdir(), 'etl-mgr-part-'));
  redis = new Redis(redisUrl());
  const target = new URL(redisUrl());
  proxy = await startProxy({ host: target.hostname, port: Number(target.port) });
  for (const n of NAMES) await src.query(`CREATE TABLE ${n} (id bigint NOT NULL, payload text)`);
  await insertDefinitions(
    config,
    NAMES.map((n) => ({
      name: n,
      source: { credentials: 'src', tables: [`public.${n}`], appendOnly: true },
      destination: { kind: 'duckdb', options: { path: join(work, `${n}.duckdb`) } },
      batch: { maxDelayMs: 50 },
    })),
  );
});

afterAll(async () => {
  for (const w of workers) w.proc.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await proxy?.close();
  redis?.disconnect();
  await Promise.all([src?.drop(), config?.drop()]);
  await rm(work, { recursive: true, force: true });
});

it('stops confirming as soon as its lease is lost when cut off from Redis', async () => {
  const env = {
    MGR_CONFIG_URL: config.url,
    MGR_PREFIX: prefix,
    MGR_SOURCE_URL: src.url,
    MGR_LEASE_TTL_MS: String(LEASE_TTL_MS),
    MGR_STATE: 'postgres',
  };
  explainFailure(workers);
  // A runs alone first and takes both; when B joins, A hands one over (drained, lease released).
  const a = startWorker('a', { ...env, MGR_REDIS_URL: proxy.url });
  workers.push(a);
  await waitFor(async () => (await leaseOwners(redis, prefix, NAMES)).size === 2, 30_000, 'A owns both');
  const b = startWorker('b', { ...env, MGR_REDIS_URL: redisUrl() });
  workers.push(b);
  const streaming = (w: Worker, name: string) =>
    w.events.filter((e) => e.name === name && e.ev === 'state').at(-1)?.state === 'streaming';
  let owners = new Map<string, string>();
  await waitFor(
    async () => {
      owners = await leaseOwners(redis, prefix, NAMES);
      return (
        [...owners.values()].sort().join() === 'a,b' &&
        NAMES.every((n) => streaming(owners.get(n) === 'a' ? a : b, n))
      );
    },
    30_000,
    'one pipeline each, streaming',
  );
  await waitFor(
    () => a.events.some((e) => e.ev === 'released' && e.reason === 'handover'),
    5_000,
    'A reporting the handover',
  );
  const cut = NAMES.find((n) => owners.get(n) === 'a')!;

  const writer = startWriter(src.url, NAMES, 20);
  await waitFor(
    () => a.events.filter((e) => e.ev === 'commit' && e.name === cut).length >= 5,
    15_000,
    'A committing',
  );

  // Cut A off from Redis. Its lease expires at the TTL Redis holds for it.
  proxy.pause();
  const [value, pttl] = await Promise.all([
    redis.get(`${prefix}lease:${cut}`),
    redis.pttl(`${prefix}lease:${cut}`),
  ]);
  const expiresAt = Date.now() + pttl;
  expect(value?.endsWith(':a')).toBe(true);
  expect(pttl).toBeGreaterThan(0);

  // B takes the pipeline over once the lease expired, and streams it.
  await waitFor(() => b.events.some((e) => e.ev === 'acquired' && e.name === cut), 15_000, 'B takes over');
  await waitFor(() => b.events.some((e) => e.ev === 'commit' && e.name === cut), 15_000, 'B commits');
  const takenAt = b.events.find((e) => e.ev === 'acquired' && e.name === cut)!.t;
  expect(takenAt).toBeGreaterThanOrEqual(expiresAt - 50);

  // A found out by itself, before the lease could pass to anyone, and confirmed nothing after.
  const lost = a.events.find((e) => e.ev === 'lost' && e.name === cut);
  expect(lost).toBeDefined();
  expect(lost!.t).toBeLessThanOrEqual(expiresAt);
  const aCommits = a.events.filter((e) => e.ev === 'commit' && e.name === cut);
  expect(aCommits.length).toBeGreaterThan(0);
  expect(Math.max(...aCommits.map((e) => e.t))).toBeLessThan(expiresAt);
  expect(aCommits.every((e) => e.t <= lost!.t)).toBe(true);

  const last = await writer.stop();
  await waitFor(() => NAMES.every((n) => deliveredBy([b], n, last)), 30_000, 'B caught up on both');
  a.proc.kill('SIGKILL');
  await a.exited;
  b.proc.kill('SIGTERM');
  expect(await b.exited).toBe(0);
  proxy.resume();

  for (const n of NAMES) {
    const expected = await sourceRows(src, `SELECT id, payload FROM ${n} ORDER BY id`);
    expect(expected).toHaveLength(writer.rows);
    expect(
      await duckdbRows(join(work, `${n}.duckdb`), `SELECT id, payload FROM public.${n} ORDER BY id`),
    ).toEqual(expected);
  }
}, 88_000);
