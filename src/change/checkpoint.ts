import type { Lsn } from '../lsn.js';

/** Progress of one table's initial snapshot. */
export interface TableSnapshotProgress {
  /** `pending` (not started), `copying` (some chunks done), `done`. */
  readonly status: 'pending' | 'copying' | 'done';
  /** Rows copied so far. */
  readonly rows: number;
  /** Key of the last row of the last finished chunk, as Postgres text values; resume after it. */
  readonly lastKey?: readonly (string | null)[];
}

/** Progress of the initial snapshot, saved with every checkpoint until it is done. */
export interface SnapshotProgress {
  /** The slot's consistent point: the stream continues from here once every table is done. */
  readonly consistentPoint: Lsn;
  /** Per qualified table name. */
  readonly tables: Readonly<Record<string, TableSnapshotProgress>>;
}

/**
 * Progress of the backfills of tables added to a running pipeline (copied
 * while the others keep streaming), saved with every checkpoint until they are done.
 */
export interface BackfillProgress {
  /** Per qualified table name: rows copied and the key the copy resumes after. */
  readonly tables: Readonly<Record<string, TableSnapshotProgress>>;
}

/**
 * A position every destination has made durable up to, once its batch is
 * written. The pipeline saves it in the state store, then confirms it to the
 * source; never before.
 */
export interface Checkpoint {
  /**
   * End LSN of the last whole transaction in the batch: the position confirmed
   * to Postgres as flushed. While a snapshot is running it is the consistent point.
   */
  readonly lsn: Lsn;
  /** Commit LSN of that transaction (the value in `_etl_lsn`); destinations keep it as their watermark. */
  readonly commitLsn: Lsn;
  /** Snapshot progress, while the initial snapshot has not finished. */
  readonly snapshot?: SnapshotProgress;
  /** Backfill progress, while tables added to the running pipeline are being copied. */
  readonly backfill?: BackfillProgress;
  /**
   * Qualified names of the tables the pipeline streams, so that a table
   * configured later is recognised as new (and backfilled) on the next start.
   */
  readonly tables?: readonly string[];
}
