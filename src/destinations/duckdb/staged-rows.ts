import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Table } from 'apache-arrow';
import type { ParquetEncoder } from '../../arrow/parquet-encoder.js';
import type { RowsEntry } from '../../change/change-entry.js';
import {
  ChangeOp,
  LSN_COLUMN,
  OP_COLUMN,
  SEQ_COLUMN,
  UNCHANGED_COLUMN,
} from '../../change/metadata-columns.js';
import type { DuckDBSession } from './duckdb-session.js';
import { dropStageSql, stageSql } from './duckdb-sql.js';

/** Files staged by this process so far: numbers each file's name. */
let stagedFiles = 0;

/** One table's changes of a batch, loaded into a temp table. */
export interface StagedRows {
  readonly entry: RowsEntry;
  /** Name of the temp table. */
  readonly staging: string;
  /** Columns some change left unchanged (unchanged TOAST). */
  readonly unchanged: ReadonlySet<string>;
  /** Some key change left columns unchanged: an Update right after a Delete of the same transaction. */
  readonly moves: boolean;
}

/**
 * Loads a rows entry into the temp table `staging`, as it is (user columns
 * and metadata columns). The Arrow data goes through a Parquet file, encoded
 * on the encoder's worker thread and read by DuckDB's `read_parquet`: exact
 * for every type (decimals, microsecond timestamps, uint64 LSNs, lists),
 * without converting values one by one in JavaScript. The file is removed
 * once loaded.
 */
export async function stageRows(
  session: DuckDBSession,
  encoder: ParquetEncoder,
  dir: string,
  entry: RowsEntry,
  staging: string,
  signal: AbortSignal,
): Promise<StagedRows> {
  const bytes = await encoder.encode(new Table(entry.data), { signal });
  // A path never used before in this process: with one name per temp table, reused batch after
  // batch, DuckDB 1.5 now and then failed to read a valid file ("Out of buffer") under load,
  // as if it saw the previous file of that name (it caches external files by path).
  const path = join(dir, `${staging}-${++stagedFiles}.parquet`);
  await writeFile(path, bytes);
  try {
    await session.run(stageSql(staging, path));
  } finally {
    await rm(path, { force: true });
  }
  const unchanged = unchangedColumns(entry);
  return { entry, staging, unchanged, moves: unchanged.size > 0 && hasKeyChange(entry) };
}

/** Drops the temp tables of a batch. */
export async function dropStaged(session: DuckDBSession, staged: readonly StagedRows[]): Promise<void> {
  for (const s of staged) await session.run(dropStageSql(s.staging));
}

/**
 * Whether a key change left columns unchanged: an Update listing unchanged
 * columns at seq n + 1 right after a Delete at seq n of the same commit LSN
 * (how the decoder writes a key change). Reads the metadata columns only.
 */
function hasKeyChange(entry: RowsEntry): boolean {
  const rb = entry.data;
  const op = rb.getChild(OP_COLUMN);
  const seq = rb.getChild(SEQ_COLUMN);
  const lsn = rb.getChild(LSN_COLUMN);
  const unchanged = rb.getChild(UNCHANGED_COLUMN);
  if (!op || !seq || !lsn || !unchanged) return false;
  for (let r = 1; r < rb.numRows; r++) {
    if (
      op.get(r) === ChangeOp.Update &&
      op.get(r - 1) === ChangeOp.Delete &&
      seq.get(r - 1) + 1 === seq.get(r) &&
      lsn.get(r - 1) === lsn.get(r) &&
      unchanged.isValid(r)
    ) {
      return true;
    }
  }
  return false;
}

/** Names listed in any row's `_etl_unchanged`. */
function unchangedColumns(entry: RowsEntry): Set<string> {
  const names = new Set<string>();
  const column = entry.data.getChild(UNCHANGED_COLUMN);
  if (!column || column.nullCount === column.length) return names;
  for (let i = 0; i < column.length; i++) {
    const list = column.get(i);
    if (list) for (const name of list) if (typeof name === 'string') names.add(name);
  }
  return names;
}
