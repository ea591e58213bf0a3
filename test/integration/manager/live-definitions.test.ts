/**
 * One worker, definitions changed in the configuration table while it runs:
 * added, changed, disabled and enabled again, removed, invalid, enabled behind
 * the trigger's back (picked up by polling). Each change takes effect within
 * seconds, touches only the pipeline concerned, and every destination ends
 * equal to its source, value by value.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type MemoryDestination, memory } from '../../../src/destinations/memory-destination.js';
import type { ManagerEvents } from '../../../src/manager/manager-events.js';
import { PipelineManager } from '../../../src/manager/pipeline-manager.js';
import { healthHandler } from '../../../src/monitor/health-handler.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { redisUrl, uniqueKeyPrefix } from '../../support/redis.js';
import {
  commitChanges,
  createConfigDatabase,
  duckdbRows,
  insertDefinitions,
  sourceRows,
  waitFor,
} from './support/fixture.js';

/** Polling is slow here on purpose: changes seen sooner came through LISTEN/NOTIFY. */
const POLL_MS = 6_000;
/** "Within seconds": well under the poll interval. */
const NOTIFY_EFFECT_MS = 4_000;

type Recorded = { at: number; type: keyof ManagerEvents; name?: string; payload: unknown };

let src: TestDatabase;
let config: TestDatabase;
let work: string;
let manager: PipelineManager;
const events: Recorded[] = [];
const memories = new Map<string, MemoryDestination>();
/** Added to every pipeline the manager runs: the health endpoint shows each of them. */
const health = healthHandler();

beforeAll(async () => {
  [src, config] = await Promise.all([createTestDatabase('etl_mgr_src'), createConfigDatabase()]);
  work = await mkdtemp(join(tmpdir(), 'etl-mgr-live-'));
  for (const t of ['t_a', 't_b', 't_c', 't_d']) {
    await src.query(`CREATE TABLE ${t} (id int PRIMARY KEY, label text, secret text)`);
    await src.query(`INSERT INTO ${t} SELECT g, 'old ' || g, 's' || g FROM generate_series(1, 20) g`);
  }
  manager = new PipelineManager({
    connectionString: config.url,
    redisUrl: redisUrl(),
    keyPrefix: uniqueKeyPrefix('mgr-live'),
    workerId: 'live-worker',
    credentials: ({ ref }) => {
      if (ref !== 'src') throw new Error(`no credentials named ${ref}`);
      return { connectionString: src.url };
    },
    destinations: {
      // Memory destinations the test can read while the pipeline runs.
      mem: (_options, ctx) => {
        const d = memory();
        memories.set(ctx.pipeline, d);
        return d;
      },
    },
    monitors: [health],
    leaseTtlMs: 10_000,
    pollIntervalMs: POLL_MS,
    statusIntervalMs: 500,
    restartBackoff: { initialDelayMs: 200, maxDelayMs: 1_000 },
    pipeline: { stopTimeoutMs: 5_000 },
  });
  const record =
    <K extends keyof ManagerEvents>(type: K) =>
    (payload: ManagerEvents[K]) =>
      events.push({ at: Date.now(), type, name: (payload as { name?: string }).name, payload });
  for (const type of [
    'pipeline:state',
    'pipeline:commit',
    'lease:acquired',
    'lease:released',
    'lease:lost',
    'definition:invalid',
    'pipeline:error',
  ] as const)
    manager.on(type, record(type));
  await manager.start();
});

afterAll(async () => {
  if (process.env.DEBUG_MGR)
    for (const e of events)
      if (e.type !== 'pipeline:commit')
        console.log(
          e.at,
          e.type,
          e.name,
          JSON.stringify(e.payload, (_k, v) =>
            typeof v === 'bigint' ? v.toString() : v instanceof Error ? String(v) : v,
          ),
        );
  await manager?.stop();
  await Promise.all([src?.drop(), config?.drop()]);
  await rm(work, { recursive: true, force: true });
});

const duck = (name: string) => ({ kind: 'duckdb', options: { path: join(work, `${name}.duckdb`) } });
const state = (name: string) => manager.status().find((s) => s.name === name)?.state;
const eventsOf = (name: string, since: number) => events.filter((e) => e.name === name && e.at >= since);

/** Waits until `name` confirmed a commit LSN at or past `lsn`. */
async function delivered(name: string, lsn: bigint, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    () =>
      events.some(
        (e) =>
          e.type === 'pipeline:commit' &&
          e.name === name &&
          (e.payload as ManagerEvents['pipeline:commit']).checkpoint.commitLsn >= lsn,
      ),
    timeoutMs,
    `pipeline ${name} delivering ${lsn}`,
  );
}

/** Waits for `fn` and returns how long it took from `since`. */
async function within(since: number, fn: () => boolean, what: string): Promise<number> {
  await waitFor(fn, 20_000, what);
  return Date.now() - since;
}

it('applies added, changed, disabled, removed and invalid definitions live, each only where it belongs', async () => {
  // Added: three pipelines at once.
  let t0 = Date.now();
  await insertDefinitions(config, [
    { name: 'a', source: { credentials: 'src', tables: ['public.t_a'] }, destination: duck('a') },
    { name: 'b', source: { credentials: 'src', tables: ['public.t_b'] }, destination: duck('b') },
    { name: 'c', source: { credentials: 'src', tables: ['public.t_c'] }, destination: { kind: 'mem' } },
  ]);
  for (const name of ['a', 'b', 'c']) {
    const ms = await within(
      t0,
      () => eventsOf(name, t0).some((e) => e.type === 'lease:acquired'),
      `${name} taken`,
    );
    expect(ms).toBeLessThan(NOTIFY_EFFECT_MS);
  }
  await waitFor(() => ['a', 'b', 'c'].every((n) => state(n) === 'streaming'), 30_000, 'a, b, c streaming');
  let lsn = await commitChanges(
    src,
    `INSERT INTO t_a VALUES (21, 'new 21', 's21'); INSERT INTO t_b VALUES (21, 'new 21', 's21');
     INSERT INTO t_c VALUES (21, 'new 21', 's21'); UPDATE t_c SET label = 'changed' WHERE id = 3; DELETE FROM t_c WHERE id = 4;`,
  );
  await Promise.all(['a', 'b', 'c'].map((n) => delivered(n, lsn)));
  expect(
    health
      .report()
      .pipelines.map((p) => [p.name, p.status, p.ready])
      .sort(),
  ).toEqual([
    ['a', 'streaming', true],
    ['b', 'streaming', true],
    ['c', 'streaming', true],
  ]);

  // Changed: a gets a transform. Only a restarts (drained first); b and c see nothing.
  t0 = Date.now();
  await config.query(
    `UPDATE etl_stream.pipelines SET transforms = '[{"name": "maskColumns", "options": {"public.t_a": {"secret": "***"}}}]' WHERE name = 'a'`,
  );
  const restartMs = await within(
    t0,
    () => {
      const seen = eventsOf('a', t0).map((e) => (e.payload as { state?: string }).state);
      return seen.includes('stopping') && state('a') === 'streaming';
    },
    'a restarted',
  );
  expect(restartMs).toBeLessThan(NOTIFY_EFFECT_MS);
  lsn = await commitChanges(
    src,
    `INSERT INTO t_a VALUES (22, 'new 22', 's22'); UPDATE t_a SET label = 'x' WHERE id = 1`,
  );
  await delivered('a', lsn);
  expect(eventsOf('b', t0).filter((e) => e.type !== 'pipeline:commit')).toEqual([]);
  expect(eventsOf('c', t0).filter((e) => e.type !== 'pipeline:commit')).toEqual([]);

  // Disabled, written to while off, enabled again: b resumes where it stopped; a and c untouched.
  t0 = Date.now();
  await config.query(`UPDATE etl_stream.pipelines SET enabled = false WHERE name = 'b'`);
  const disableMs = await within(
    t0,
    () => state('b') === 'disabled' && eventsOf('b', t0).some((e) => e.type === 'lease:released'),
    'b disabled',
  );
  expect(disableMs).toBeLessThan(NOTIFY_EFFECT_MS);
  await commitChanges(src, `INSERT INTO t_b VALUES (22, 'while off', 's22'); DELETE FROM t_b WHERE id = 2`);
  await config.query(`UPDATE etl_stream.pipelines SET enabled = true WHERE name = 'b'`);
  await waitFor(() => state('b') === 'streaming', 20_000, 'b streaming again');
  lsn = await commitChanges(src, `INSERT INTO t_b VALUES (23, 'after', 's23')`);
  await delivered('b', lsn);
  expect(eventsOf('a', t0).filter((e) => e.type !== 'pipeline:commit')).toEqual([]);
  expect(eventsOf('c', t0).filter((e) => e.type !== 'pipeline:commit')).toEqual([]);

  // Invalid definitions are reported (event and status row) and run nowhere; the others go on.
  t0 = Date.now();
  await insertDefinitions(config, [
    {
      name: 'bad_kind',
      source: { credentials: 'src', tables: ['public.t_d'] },
      destination: { kind: 'nope' },
    },
    {
      name: 'bad_src',
      source: { credentials: 'src', tables: ['public.t_d'], password: 'hunter2' },
      destination: duck('bad_src'),
    },
    { name: 'd', source: { credentials: 'src', tables: ['public.missing'] }, destination: duck('d') },
    {
      name: 'e',
      enabled: false,
      source: { credentials: 'src', tables: ['public.t_d'] },
      destination: { kind: 'mem' },
    },
  ]);
  await waitFor(() => state('bad_kind') === 'invalid' && state('bad_src') === 'invalid', 10_000, 'invalid');
  const invalid = events.filter((e) => e.type === 'definition:invalid' && e.at >= t0);
  const message = (name: string) =>
    (invalid.find((e) => e.name === name)!.payload as ManagerEvents['definition:invalid']).error.toString();
  expect(message('bad_kind')).toMatch(/destination\.kind.*unknown destination kind "nope"/);
  expect(message('bad_src')).toMatch(/source\.password.*secrets/);
  expect(message('bad_src')).not.toContain('hunter2');
  // d refers to a table that does not exist: it fails at start, is reported, retried, and harms nobody.
  await waitFor(
    () => /PG_UNKNOWN_TABLE/.test(manager.status().find((s) => s.name === 'd')?.lastError ?? ''),
    20_000,
    'd failed',
  );
  await waitFor(
    async () => {
      const rows = await manager.statusRows();
      const row = (n: string) => rows.find((r) => r.name === n);
      return (
        row('bad_kind')?.state === 'invalid' &&
        /unknown destination kind/.test(row('bad_kind')?.lastError ?? '') &&
        /PG_UNKNOWN_TABLE/.test(row('d')?.lastError ?? '') &&
        row('a')?.state === 'streaming' &&
        row('a')?.owner === 'live-worker'
      );
    },
    10_000,
    'status rows',
  );
  expect(['a', 'b', 'c'].map(state)).toEqual(['streaming', 'streaming', 'streaming']);

  // Enabled behind the trigger's back (no NOTIFY): the poll picks it up.
  t0 = Date.now();
  await config.query(
    `SET session_replication_role = replica;
     UPDATE etl_stream.pipelines SET enabled = true WHERE name = 'e';
     RESET session_replication_role;`,
  );
  await waitFor(
    () => state('e') === 'streaming' && memories.get('e')?.rows('public.t_d').length === 20,
    POLL_MS + 15_000,
    'e enabled by polling',
  );

  // Removed: a stops and its status row goes; the others go on.
  t0 = Date.now();
  await config.query(`DELETE FROM etl_stream.pipelines WHERE name = 'a'`);
  const removeMs = await within(
    t0,
    () => eventsOf('a', t0).some((e) => e.type === 'lease:released'),
    'a removed',
  );
  expect(removeMs).toBeLessThan(NOTIFY_EFFECT_MS);
  await waitFor(
    async () => !(await manager.statusRows()).some((r) => r.name === 'a'),
    10_000,
    'a row removed',
  );
  expect(manager.status().some((s) => s.name === 'a')).toBe(false);
  lsn = await commitChanges(
    src,
    `INSERT INTO t_a VALUES (23, 'after removal', 's23'); INSERT INTO t_c VALUES (22, 'c', 'x')`,
  );
  await delivered('c', lsn);
  expect(eventsOf('b', t0).filter((e) => e.type !== 'pipeline:commit')).toEqual([]);

  // Every destination equals its source.
  expect(
    memories
      .get('c')!
      .rows('public.t_c')
      .map((r) => [String(r.id), r.label, r.secret]),
  ).toEqual(await sourceRows(src, 'SELECT id, label, secret FROM t_c ORDER BY id'));
  expect(
    memories
      .get('e')!
      .rows('public.t_d')
      .map((r) => [String(r.id), r.label, r.secret]),
  ).toEqual(await sourceRows(src, 'SELECT id, label, secret FROM t_d ORDER BY id'));
  // a: as of its removal (row 23 came after), with secrets masked from the change on (row 22).
  expect(
    await duckdbRows(join(work, 'a.duckdb'), 'SELECT id, label, secret FROM public.t_a ORDER BY id'),
  ).toEqual(
    (await sourceRows(src, 'SELECT id, label, secret FROM t_a WHERE id <> 23 ORDER BY id')).map((r) =>
      r[0] === '22' || r[0] === '1' ? [r[0], r[1], '***'] : r,
    ),
  );
  await manager.stop();
  expect(
    await duckdbRows(join(work, 'b.duckdb'), 'SELECT id, label, secret FROM public.t_b ORDER BY id'),
  ).toEqual(await sourceRows(src, 'SELECT id, label, secret FROM t_b ORDER BY id'));
}, 85_000);
