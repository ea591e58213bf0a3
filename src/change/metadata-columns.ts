/**
 * The metadata columns every row batch carries next to the user columns
 * (DESIGN §3). Destinations use them to apply changes in order and to keep
 * unchanged TOAST values.
 */

/** What happened to a row. Stored as a `Uint8` in {@link OP_COLUMN}. */
export const ChangeOp = {
  /** A new row (INSERT). */
  Insert: 0,
  /** A new version of an existing row (UPDATE). Key changes come as a Delete of the old key first. */
  Update: 1,
  /** The row is gone (DELETE). Only key columns are meaningful, others are null unless REPLICA IDENTITY FULL. */
  Delete: 2,
  /** The row was read by the initial snapshot. Apply it as an upsert. */
  Read: 3,
} as const;

/** A value of {@link ChangeOp}. */
export type ChangeOp = (typeof ChangeOp)[keyof typeof ChangeOp];

/** Names of ops for display, indexed by op code. */
export const CHANGE_OP_NAMES = ['insert', 'update', 'delete', 'read'] as const;

/** `_etl_op` (Uint8): the {@link ChangeOp} of the row. */
export const OP_COLUMN = '_etl_op';
/**
 * `_etl_lsn` (Uint64): commit LSN of the row's transaction (the LSN of its
 * commit record, as in pgoutput's Begin/Commit). Snapshot rows carry the
 * slot's consistent point. Unique and increasing per transaction, so a
 * destination watermark of "last applied commit LSN" skips replays exactly.
 */
export const LSN_COLUMN = '_etl_lsn';
/** `_etl_seq` (Uint32): ordinal of the change inside the batch; orders the changes of one key. */
export const SEQ_COLUMN = '_etl_seq';
/**
 * `_etl_unchanged` (List<Utf8>, nullable): null, or the names of the columns
 * whose value was not sent (unchanged TOAST). The destination must keep its
 * current value for those columns.
 */
export const UNCHANGED_COLUMN = '_etl_unchanged';

/** All metadata column names, in the order they follow the user columns. */
export const METADATA_COLUMNS = [OP_COLUMN, LSN_COLUMN, SEQ_COLUMN, UNCHANGED_COLUMN] as const;

/** True when `name` is one of the metadata columns. */
export function isMetadataColumn(name: string): boolean {
  return (METADATA_COLUMNS as readonly string[]).includes(name);
}
