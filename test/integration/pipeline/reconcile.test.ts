/**
 * On start the pipeline compares its saved position with the slot's
 * confirmed_flush_lsn and each destination's watermark, on a real
 * PostgreSQL: in step after a stop (idle advances are saved at stop), a slot
 * moved ahead by someone else (a warning that says changes are gone), a slot
 * left behind by a crash between save and confirm (the stream resumes at the
 * saved position: skipped), no saved state, and the two cases where data
 * would be missing for good — a destination behind what it had confirmed,
 * and a slot that is gone — which fail start() with POSITION_GAP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memory } from '../../../src/destinations/memory-destination.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { AlertEvent } from '../../../src/pipeline/pipeline-events.js';
import type { ReconcileReport } from '../../../src/pipeline/reconcile.js';
import type { Source } from '../../../src/pipeline/source.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { MemoryStateStore } from '../../../src/state/memory-state-store.js';
import type { StateStore } from '../../../src/state/state-store.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { slotLsn, waitFor } from '../postgres-source/consumer.js';
import { transactionAt } from './support/scenario.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('etl_pipe_reconcile');
});
afterAll(async () => {
  await db?.drop();
});

/** A state store that outlives the pipeline closing it, so the next run finds the state. */
function durable(inner: MemoryStateStore): StateStore {
  return { load: (p) => inner.load(p), save: (p, s) => inner.save(p, s), close: async () => {} };
}

/** A destination that outlives the pipeline closing it, like a database would: the next run finds its data. */
function persistent(dest: ReturnType<typeof memory>): Destination {
  return {
    name: dest.name,
    open: (ctx) => dest.open(ctx),
    write: (batch) => dest.write(batch),
    committedLsn: (pipeline) => dest.committedLsn(pipeline),
    close: async () => {},
  };
}

/** One case: its own table, pipeline name (so its own slot) and state. */
async function setup(name: string) {
  await db.query(`CREATE TABLE ${name} (id int PRIMARY KEY, v text NOT NULL)`);
  await db.query(`INSERT INTO ${name} SELECT g, 'v' || g FROM generate_series(1, 3) g`);
  const store = new MemoryStateStore();
  const slot = `etl_${name}`;
  const source = () =>
    postgres({ connectionString: db.url, tables: [`public.${name}`], statusIntervalMs: 200 });
  /** Starts a pipeline; collects its reconcile reports and alerts. */
  const start = async (dest: Destination, opts: { store?: StateStore; source?: Source } = {}) => {
    const reports: ReconcileReport[] = [];
    const alerts: AlertEvent[] = [];
    const pipeline = new Pipeline({ name })
      .from(opts.source ?? source())
      .to(dest)
      .state(opts.store ?? durable(store))
      .batch({ maxDelayMs: 20 });
    pipeline.on('reconcile', (r) => reports.push(r));
    pipeline.on('alert', (a) => alerts.push(a));
    await pipeline.start();
    return { pipeline, reports, alerts };
  };
  const ids = (dest: ReturnType<typeof memory>) => dest.rows(`public.${name}`).map((r) => r.id);
  return { store, slot, source, start, ids };
}

describe('reconciling the saved position with the slot on start', () => {
  it('after a stop, state and slot agree (an idle advance is saved too): in step, nothing to report', async () => {
    const c = await setup('rec_step');
    const dest = memory();
    const run1 = await c.start(persistent(dest));
    expect(run1.reports).toEqual([expect.objectContaining({ outcome: 'new', severity: 'info' })]);
    // The slot is created once running: changes made before it would be in the snapshot.
    await waitFor(() => c.ids(dest).length === 3, 20_000, 'snapshot');
    const last = await transactionAt(db.url, `INSERT INTO rec_step VALUES (4, 'v4')`);
    await waitFor(async () => ((await dest.committedLsn()) ?? 0n) >= last, 20_000, 'applied');
    const committed = (await c.store.load('rec_step'))!.checkpoint.lsn;
    // WAL the pipeline has no interest in: the slot follows it while nothing is in flight.
    await db.query(`CREATE TABLE rec_step_other (x int); INSERT INTO rec_step_other VALUES (1)`);
    await waitFor(async () => ((await slotLsn(db, c.slot)) ?? 0n) > committed, 20_000, 'idle advance');
    await run1.pipeline.stop();

    const saved = (await c.store.load('rec_step'))!.checkpoint.lsn;
    expect(saved).toBeGreaterThan(committed);
    expect(await slotLsn(db, c.slot)).toBe(saved);
    const run2 = await c.start(persistent(dest));
    await run2.pipeline.stop();
    expect(run2.reports).toEqual([
      expect.objectContaining({ outcome: 'in-step', severity: 'info', saved, source: saved, findings: [] }),
    ]);
    expect(run2.alerts.filter((a) => a.key.startsWith('reconcile:'))).toEqual([]);
  });

  it('a slot moved ahead by someone else: a warning that the changes in between cannot come again', async () => {
    const c = await setup('rec_ahead');
    const dest = memory();
    const run1 = await c.start(persistent(dest));
    await waitFor(() => c.ids(dest).length === 3, 20_000, 'snapshot');
    await run1.pipeline.stop();
    const saved = (await c.store.load('rec_ahead'))!.checkpoint.lsn;
    expect(await slotLsn(db, c.slot)).toBe(saved);

    // Flushed at commit (the harness runs with synchronous_commit off): a slot advances only to flushed WAL.
    await db.query(`SET synchronous_commit = on; INSERT INTO rec_ahead VALUES (10, 'lost')`);
    const { rows } = await db.query<{ lsn: string }>(
      `SELECT (end_lsn - '0/0')::text AS lsn FROM pg_replication_slot_advance($1, pg_current_wal_insert_lsn())`,
      [c.slot],
    );
    const advanced = BigInt(rows[0]!.lsn);
    expect(advanced).toBeGreaterThan(saved);

    const run2 = await c.start(persistent(dest));
    const last = await transactionAt(db.url, `INSERT INTO rec_ahead VALUES (11, 'after')`);
    await waitFor(async () => ((await dest.committedLsn()) ?? 0n) >= last, 20_000, 'applied');
    await run2.pipeline.stop();
    expect(run2.reports).toEqual([
      expect.objectContaining({ outcome: 'source-ahead', severity: 'warning', saved, source: advanced }),
    ]);
    expect(run2.reports[0]!.message).toMatch(/changes committed between the two can no longer be streamed/);
    expect(run2.alerts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          key: 'reconcile:rec_ahead',
          severity: 'warning',
          message: expect.stringContaining('ahead of the saved position'),
        }),
      ]),
    );
    // What the warning says: row 10 is gone from the stream, row 11 came.
    expect(c.ids(dest)).toEqual([1, 2, 3, 11]);
  });

  it('a slot left behind (crash between save and confirm): the stream resumes at the saved position', async () => {
    const c = await setup('rec_behind');
    const real = c.source();
    // Saves happen, confirmations never reach the slot: what a crash right after each save leaves.
    const unconfirmed: Source = {
      name: real.name,
      prepare: (ctx) => real.prepare(ctx),
      open: (ctx) => real.open(ctx),
      confirm: async () => {},
      close: () => real.close(),
      upstreamPosition: () => real.upstreamPosition(),
    };
    const dest = memory();
    const run1 = await c.start(dest, { source: unconfirmed });
    await waitFor(() => c.ids(dest).length === 3, 20_000, 'snapshot');
    const last = await transactionAt(db.url, `INSERT INTO rec_behind VALUES (4, 'v4')`);
    await waitFor(async () => ((await dest.committedLsn()) ?? 0n) >= last, 20_000, 'applied');
    await run1.pipeline.stop();
    const saved = (await c.store.load('rec_behind'))!.checkpoint.lsn;
    const slot = (await slotLsn(db, c.slot))!;
    expect(slot).toBeLessThan(saved);

    await db.query(`INSERT INTO rec_behind VALUES (5, 'v5')`);
    const dest2 = memory();
    const run2 = await c.start(dest2);
    await waitFor(() => c.ids(dest2).length > 0, 20_000, 'the new row');
    await run2.pipeline.stop();
    expect(run2.reports).toEqual([
      expect.objectContaining({ outcome: 'source-behind', saved, source: slot }),
    ]);
    // Row 4 was applied in run 1 and lies before the saved position: not streamed again.
    expect(c.ids(dest2)).toEqual([5]);
    expect(await slotLsn(db, c.slot)).toBeGreaterThan(saved);
  });

  it('no saved state but a slot: a warning, and every table is copied again', async () => {
    const c = await setup('rec_nostate');
    const first = memory();
    const run1 = await c.start(first);
    await waitFor(() => c.ids(first).length === 3, 20_000, 'snapshot');
    await run1.pipeline.stop();
    const dest = memory();
    const run2 = await c.start(dest, { store: new MemoryStateStore() });
    await waitFor(() => c.ids(dest).length === 3, 20_000, 'the new snapshot');
    await run2.pipeline.stop();
    expect(run2.reports).toEqual([
      expect.objectContaining({ outcome: 'state-missing', severity: 'warning' }),
    ]);
    expect(c.ids(dest)).toEqual([1, 2, 3]);
  });

  it('a destination behind what it had confirmed (restored from an older copy): start() fails with POSITION_GAP', async () => {
    const c = await setup('rec_gap');
    const dest = memory();
    const run1 = await c.start(dest);
    await waitFor(() => c.ids(dest).length === 3, 20_000, 'snapshot');
    const last = await transactionAt(db.url, `INSERT INTO rec_gap VALUES (4, 'v4')`);
    await waitFor(async () => ((await dest.committedLsn()) ?? 0n) >= last, 20_000, 'applied');
    await run1.pipeline.stop();

    // An older copy of the destination: it has the snapshot, not the insert.
    const older = memory();
    await older.open({ pipeline: 'rec_gap', signal: new AbortController().signal, emit: () => {} });
    await older.write(dest.batches[0]!);
    expect(c.ids(older)).toEqual([1, 2, 3]);
    const attempt = c.start(older);
    await expect(attempt).rejects.toMatchObject({
      code: 'POSITION_GAP',
      message: expect.stringContaining('Destination "memory" of pipeline "rec_gap"'),
    });
  });

  it('a slot that is gone while a position is saved: start() fails with POSITION_GAP', async () => {
    const c = await setup('rec_noslot');
    const first = memory();
    const run1 = await c.start(first);
    await waitFor(() => c.ids(first).length === 3, 20_000, 'snapshot');
    await run1.pipeline.stop();
    await db.query('SELECT pg_drop_replication_slot($1)', [c.slot]);
    await expect(c.start(memory())).rejects.toMatchObject({
      code: 'POSITION_GAP',
      message: expect.stringContaining('slot is gone'),
    });
  });
});
