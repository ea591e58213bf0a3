/**
 * End to end on a real PostgreSQL: snapshot, then a stream of every kind of
 * change (see support/scenario.ts), into the memory destination and into the
 * DuckDB destination. At the end each table, as PostgreSQL renders it, equals
 * the destination's copy value by value.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { duckdb } from '../../../src/destinations/duckdb/duckdb-destination.js';
import { memory } from '../../../src/destinations/memory-destination.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { PipelineStatus } from '../../../src/pipeline/pipeline-events.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { memoryState } from '../../../src/state/memory-state-store.js';
import { createTestDatabase } from '../../support/postgres.js';
import { waitFor } from '../postgres-source/consumer.js';
import { createScenarioTables, runScenario, SCENARIO_TABLES } from './support/scenario.js';
import {
  aliasedRows,
  type Column,
  columnsOf,
  diffRows,
  duckdbSelect,
  memoryRows,
  NO_DIFF,
  type Rows,
  sourceRows,
  type TableSpec,
} from './support/tables.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'etl-e2e-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Target {
  readonly destination: Destination;
  /** The destination's own watermark (commit LSN of the last applied transaction). */
  watermark(): Promise<bigint | undefined>;
  /** A table as the destination holds it, in canonical text. */
  rows(spec: TableSpec, columns: readonly Column[]): Promise<Rows>;
}

/** What the batches that went through looked like, to show the scenario exercised what it claims. */
function shapeOf(batches: readonly ChangeBatch[]) {
  return {
    snapshotRows: batches.some((b) => b.checkpoint.snapshot && b.numRows > 0),
    partial: batches.some((b) => b.partial),
    truncates: batches.some((b) => b.entries.some((e) => e.kind === 'truncate')),
    schemaChanges: batches.some((b) => b.entries.some((e) => e.kind === 'schema' && e.previous)),
    unchangedToast: batches.some((b) =>
      b.rowEntries().some((e) => {
        const col = e.data.getChild('_etl_unchanged');
        for (let i = 0; col && i < e.data.numRows; i++) if (col.get(i)) return true;
        return false;
      }),
    ),
  };
}

async function endToEnd(makeTarget: () => Target): Promise<void> {
  const db = await createTestDatabase('etl_pipe_e2e');
  try {
    await createScenarioTables(db);
    const target = makeTarget();
    const pipeline = new Pipeline({ name: 'e2e' })
      .from(
        postgres({
          connectionString: db.url,
          tables: ['public.items', 'public.tags'],
          snapshotChunkRows: 64,
          statusIntervalMs: 500,
        }),
      )
      .to(target.destination)
      .state(memoryState())
      .batch({ maxDelayMs: 20 });
    const batches: ChangeBatch[] = [];
    const statuses: PipelineStatus[] = [];
    const errors: string[] = [];
    pipeline.on('batch', ({ batch }) => batches.push(batch));
    pipeline.on('state', ({ status }) => statuses.push(status));
    pipeline.on('error', ({ error }) => errors.push(error.toString()));
    await pipeline.start();
    try {
      // The slot is created once running; changes before it would be part of the snapshot instead.
      await waitFor(
        async () =>
          (await db.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = 'etl_e2e'`)).rows.length > 0,
        20_000,
        'the slot',
      );
      const last = await runScenario(db);
      await waitFor(
        async () => ((await target.watermark()) ?? 0n) >= last,
        30_000,
        'the destination applied the last transaction',
      );
      for (const spec of SCENARIO_TABLES) {
        const columns = await columnsOf(db, spec.table);
        const expected = await sourceRows(db, spec, columns);
        expect(expected.length).toBeGreaterThan(0);
        const got = await target.rows(spec, columns);
        expect({ table: spec.table, ...diffRows(expected, got) }).toEqual({ table: spec.table, ...NO_DIFF });
        expect(got).toEqual(expected);
      }
    } finally {
      await pipeline.stop();
    }
    expect(errors).toEqual([]);
    expect(statuses).toEqual(['starting', 'snapshotting', 'streaming', 'stopping', 'stopped']);
    expect(shapeOf(batches)).toEqual({
      snapshotRows: true,
      partial: true,
      truncates: true,
      schemaChanges: true,
      unchangedToast: true,
    });
  } finally {
    await db.drop();
  }
}

describe('pipeline end to end on PostgreSQL', () => {
  it('into the memory destination: every table equals the source value by value', async () => {
    await endToEnd(() => {
      const dest = memory();
      return {
        destination: dest,
        watermark: () => dest.committedLsn(),
        rows: async (spec, columns) => memoryRows(dest, spec, columns),
      };
    });
  });

  it('into the DuckDB destination: every table equals the source value by value', async () => {
    await endToEnd(() => {
      const dest = duckdb({ path: join(work, 'e2e.duckdb'), tempDir: work });
      return {
        destination: dest,
        watermark: () => dest.committedLsn('e2e'),
        rows: async (spec, columns) => aliasedRows(await dest.query(duckdbSelect(spec, columns)), columns),
      };
    });
  });
});
