/**
 * A burst of 20 new definitions on a worker allowed 8 source connections and
 * 2 concurrent snapshots: PostgreSQL (`pg_stat_activity`, sampled every few
 * milliseconds) never sees more than 8 connections of the source, the
 * pipelines that do not fit wait, and each runs once others make room —
 * every destination ending equal to its source.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type MemoryDestination, memory } from '../../../src/destinations/memory-destination.js';
import { PipelineManager } from '../../../src/manager/pipeline-manager.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { redisUrl, uniqueKeyPrefix } from '../../support/redis.js';
import { createConfigDatabase, insertDefinitions, sourceRows, waitFor } from './support/fixture.js';

const PIPELINES = 20;
const MAX_CONNECTIONS = 8;
const APP = `etl_limit_${process.pid}`;
/** Rows per table, copied one per snapshot chunk: snapshots last long enough to overlap visibly. */
const ROWS = 20;

let src: TestDatabase;
let config: TestDatabase;
let manager: PipelineManager;
const memories = new Map<string, MemoryDestination>();

beforeAll(async () => {
  [src, config] = await Promise.all([createTestDatabase('etl_mgr_lim'), createConfigDatabase()]);
  for (let i = 1; i <= PIPELINES; i++) {
    await src.query(`CREATE TABLE l_${i} (id int PRIMARY KEY, v text)`);
    await src.query(
      `INSERT INTO l_${i} SELECT g, 'row ' || g || ' of ${i}' FROM generate_series(1, ${ROWS}) g`,
    );
  }
  const sourceUrl = new URL(src.url);
  sourceUrl.searchParams.set('application_name', APP);
  manager = new PipelineManager({
    connectionString: config.url,
    redisUrl: redisUrl(),
    keyPrefix: uniqueKeyPrefix('mgr-limit'),
    credentials: () => ({ connectionString: sourceUrl.toString() }),
    destinations: {
      mem: (_o, ctx) => {
        const d = memory();
        memories.set(ctx.pipeline, d);
        return d;
      },
    },
    limits: { maxSourceConnections: MAX_CONNECTIONS, maxConcurrentSnapshots: 2 },
    leaseTtlMs: 10_000,
    pollIntervalMs: 5_000,
    restartBackoff: { initialDelayMs: 200, maxDelayMs: 1_000 },
  });
  await manager.start();
});

afterAll(async () => {
  if (process.env.DEBUG_MGR)
    console.log(
      manager
        .status()
        .map((s) => `${s.name}:${s.state}:${s.lastError ?? ''}`)
        .join('\n'),
    );
  await manager?.stop();
  await Promise.all([src?.drop(), config?.drop()]);
});

it('never holds more source connections than the limit under a burst of 20 definitions', async () => {
  const sampler = new pg.Client({ connectionString: adminUrl() });
  await sampler.connect();
  let sampling = true;
  let maxSeen = 0;
  let samples = 0;
  const sampled = (async () => {
    while (sampling) {
      const { rows } = await sampler.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
        [APP],
      );
      maxSeen = Math.max(maxSeen, rows[0]!.n);
      samples++;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  try {
    await insertDefinitions(
      config,
      Array.from({ length: PIPELINES }, (_, i) => ({
        name: `l${i + 1}`,
        source: { credentials: 'src', tables: [`public.l_${i + 1}`], snapshotChunkRows: 1 },
        destination: { kind: 'mem' },
      })),
    );
    // Pipelines that do not fit wait. Caught-up pipelines are disabled to make room for the next,
    // four at a time (8 connections), or as many as there are once nothing else can move.
    // A pipeline counts as caught up once a row inserted after its snapshot has streamed through.
    const done = new Set<string>();
    const poked = new Set<string>();
    const rowsOf = (name: string) => memories.get(name)?.rows(`public.l_${name.slice(1)}`).length;
    let mostWaiting = 0;
    await waitFor(
      async () => {
        const status = manager.status();
        mostWaiting = Math.max(mostWaiting, status.filter((s) => s.state === 'waiting').length);
        for (const s of status) {
          if (s.state !== 'streaming' || poked.has(s.name) || rowsOf(s.name) !== ROWS) continue;
          poked.add(s.name);
          await src.query(`INSERT INTO l_${s.name.slice(1)} VALUES (${ROWS + 1}, 'streamed')`);
        }
        const caughtUp = status.filter(
          (s) => !done.has(s.name) && s.state === 'streaming' && rowsOf(s.name) === ROWS + 1,
        );
        const moving = status.some((s) => s.state === 'starting' || s.state === 'snapshotting');
        if (caughtUp.length >= MAX_CONNECTIONS / 2 || (!moving && caughtUp.length > 0)) {
          for (const s of caughtUp) done.add(s.name);
          await config.query('UPDATE etl_stream.pipelines SET enabled = false WHERE name = ANY($1)', [
            caughtUp.map((s) => s.name),
          ]);
        }
        return done.size === PIPELINES;
      },
      70_000,
      'every pipeline run',
    );
    expect(mostWaiting).toBeGreaterThanOrEqual(PIPELINES - MAX_CONNECTIONS);
  } finally {
    sampling = false;
    await sampled;
    await sampler.end();
  }
  expect(samples).toBeGreaterThan(100);
  expect(maxSeen).toBeLessThanOrEqual(MAX_CONNECTIONS);
  // Pipelines really ran side by side: at least two snapshots (3 connections each) at once.
  expect(maxSeen).toBeGreaterThanOrEqual(2 * 3);
  for (let i = 1; i <= PIPELINES; i++) {
    expect(
      memories
        .get(`l${i}`)!
        .rows(`public.l_${i}`)
        .map((r) => [String(r.id), r.v]),
    ).toEqual(await sourceRows(src, `SELECT id, v FROM l_${i} ORDER BY id`));
  }
}, 85_000);
