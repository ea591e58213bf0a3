import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParquetEncoder } from '../../arrow/parquet-encoder.js';
import type { ChangeBatch } from '../../change/change-batch.js';
import type { RowsEntry } from '../../change/change-entry.js';
import { qualifiedName, type TableSchema } from '../../change/table-schema.js';
import { formatLsn } from '../../lsn.js';
import type { SessionPool } from './session-pool.js';
import { type ObjectRef, putSql } from './sql.js';
import { toStagedTable } from './staged-table.js';
import type { TableCatalog, TablePlan } from './table-catalog.js';

/** One table's part of a staged chunk. */
export interface StagedTablePart {
  readonly plan: TablePlan;
  /** Parquet files uploaded under the chunk's stage prefix. */
  readonly files: string[];
  /** 1-based user-column positions some change left unchanged (TOAST). */
  readonly unchanged: Set<number>;
  /** Some key change left columns unchanged. */
  moves?: boolean;
  /** `_ETL_SEQ` of the last TRUNCATE of the table in the chunk (with the chunk's offset). */
  truncateSeq?: bigint;
  /** Commit LSN of that TRUNCATE. */
  truncateLsn?: bigint;
}

/** A batch (or a chunk of a large transaction) whose files are uploaded and tables prepared. */
export interface StagedChunk {
  /** Stage sub-path of this chunk's files: `<pipeline>/<lsn>-<random>`. */
  readonly prefix: string;
  /** Per qualified source table, in order of first appearance. */
  readonly tables: Map<string, StagedTablePart>;
}

/** What the stager works with. */
export interface StagerContext {
  readonly pipeline: string;
  readonly pool: SessionPool;
  readonly encoder: ParquetEncoder;
  readonly catalog: TableCatalog;
  readonly stage: ObjectRef;
  /** Private local directory (mode 0700) for Parquet files awaiting PUT. */
  readonly localDir: () => Promise<string>;
  readonly maxParallelUploads: number;
}

/**
 * Steps 1–2 of a batch: makes sure every table of the batch exists with its
 * current shape (DDL, before any transaction), encodes each table's rows as
 * Parquet on the worker pool, and uploads the files to the internal stage,
 * tables in parallel up to `maxParallelUploads`. Local files are written with
 * mode 0600 and deleted right after their PUT.
 *
 * `seqOffset` numbers the changes of chunk N of one large transaction after
 * those of earlier chunks (each chunk's `_etl_seq` starts again at 0).
 */
export async function stageChunk(
  ctx: StagerContext,
  batch: ChangeBatch,
  seqOffset: bigint,
  signal: AbortSignal,
): Promise<StagedChunk> {
  const prefix = `${ctx.pipeline}/${formatLsn(batch.commitLsn).replace('/', '_')}-${randomBytes(6).toString('hex')}`;
  const schemas = new Map<string, TableSchema>();
  const rows: RowsEntry[] = [];
  const truncates: { table: TableSchema; seq: bigint; lsn: bigint }[] = [];
  for (const e of batch.entries) {
    if (e.kind === 'rows') {
      schemas.set(qualifiedName(e.table), e.table);
      if (e.data.numRows > 0) rows.push(e);
    } else if (e.kind === 'schema') {
      schemas.set(qualifiedName(e.table), e.table);
    } else {
      for (const t of e.tables) {
        if (!schemas.has(qualifiedName(t))) schemas.set(qualifiedName(t), t);
        truncates.push({ table: t, seq: BigInt(e.seq) + seqOffset, lsn: e.lsn });
      }
    }
  }
  const tables = new Map<string, StagedTablePart>();
  if (schemas.size > 0) {
    await ctx.pool.use(async (session) => {
      for (const [key, schema] of schemas) {
        const plan = await ctx.catalog.ensure(session, schema, signal);
        tables.set(key, { plan, files: [], unchanged: new Set() });
      }
    }, signal);
  }
  for (const t of truncates) {
    const part = tables.get(qualifiedName(t.table))!;
    if (part.truncateSeq === undefined || t.seq > part.truncateSeq) {
      part.truncateSeq = t.seq;
      part.truncateLsn = t.lsn;
    }
  }
  await runLimited(
    rows.map((entry, i) => async () => {
      const part = tables.get(qualifiedName(entry.table))!;
      const file = `t${i}.parquet`;
      await uploadRows(ctx, part, entry, seqOffset, prefix, file, signal);
      part.files.push(file);
    }),
    ctx.maxParallelUploads,
  );
  return { prefix, tables };
}

async function uploadRows(
  ctx: StagerContext,
  part: StagedTablePart,
  entry: RowsEntry,
  seqOffset: bigint,
  prefix: string,
  file: string,
  signal: AbortSignal,
): Promise<void> {
  const staged = toStagedTable(entry, part.plan.layout, seqOffset);
  for (const p of staged.unchangedPositions) part.unchanged.add(p);
  if (staged.moves) part.moves = true;
  const bytes = await ctx.encoder.encode(staged.table, { signal });
  const dir = join(await ctx.localDir(), randomBytes(6).toString('hex'));
  const local = join(dir, file);
  try {
    // One directory per file: the stage file name stays simple while uploads run in parallel.
    await mkdir(dir, { mode: 0o700 });
    await writeFile(local, bytes, { mode: 0o600 });
    await ctx.pool.use(
      (session) =>
        session.execute(
          putSql(local, ctx.stage, prefix),
          undefined,
          { step: 'put', table: qualifiedName(entry.table) },
          signal,
        ),
      signal,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs tasks with at most `limit` in flight; rejects with the first failure after all settle. */
async function runLimited(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < tasks.length && failure === undefined) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failure !== undefined) throw failure;
}
