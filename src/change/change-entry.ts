import type { RecordBatch } from 'apache-arrow';
import type { Lsn } from '../lsn.js';
import type { TableSchema } from './table-schema.js';

/**
 * Rows of one table: the user columns then the metadata columns
 * (`_etl_op`, `_etl_lsn`, `_etl_seq`, `_etl_unchanged`). A batch holds at most
 * one rows entry per table.
 */
export interface RowsEntry {
  readonly kind: 'rows';
  readonly table: TableSchema;
  readonly data: RecordBatch;
  /**
   * Old row images, when REPLICA IDENTITY FULL (or an index identity) sends
   * them: same user columns plus `_etl_seq`, one row per UPDATE/DELETE that
   * carried an old image, linked to `data` by `_etl_seq`.
   */
  readonly before?: RecordBatch;
}

/** A TRUNCATE of one or more tables, in stream order relative to rows. */
export interface TruncateEntry {
  readonly kind: 'truncate';
  readonly tables: readonly TableSchema[];
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
  /** Commit LSN of the transaction that truncated. */
  readonly lsn: Lsn;
  /** Position among the batch's changes (same counter as `_etl_seq`). */
  readonly seq: number;
}

/** A table's schema changed (column added, dropped, renamed, retyped). */
export interface SchemaChangeEntry {
  readonly kind: 'schema';
  readonly table: TableSchema;
  /** The shape before the change; undefined when the table is first seen. */
  readonly previous: TableSchema | undefined;
  /** Commit LSN of the transaction the change was first seen in. */
  readonly lsn: Lsn;
  /** Position among the batch's changes (same counter as `_etl_seq`). */
  readonly seq: number;
}

/** One element of a {@link ChangeBatch}'s ordered entries. */
export type ChangeEntry = RowsEntry | TruncateEntry | SchemaChangeEntry;
