import type { RecordBatch } from 'apache-arrow';
import { readRow } from '../arrow/row-reader.js';
import type { Lsn } from '../lsn.js';
import type { ChangeEntry, RowsEntry } from './change-entry.js';
import type { Checkpoint } from './checkpoint.js';
import { ChangeOp, LSN_COLUMN, OP_COLUMN } from './metadata-columns.js';
import { qualifiedName } from './table-schema.js';

/** What a {@link ChangeBatch} is made from. */
export interface ChangeBatchInit {
  /** Begin LSN of the first transaction (or the consistent point for snapshot batches). */
  readonly firstLsn: Lsn;
  /** Where this batch leaves the stream once durable. */
  readonly checkpoint: Checkpoint;
  /** Number of whole transactions in the batch (0 for snapshot batches). */
  readonly transactions: number;
  /** Commit time of the last transaction, in microseconds since the Unix epoch (exact). */
  readonly lastCommitTimeUs: bigint;
  /** Entries in stream order. */
  readonly entries: readonly ChangeEntry[];
  /**
   * True when this batch is a chunk of one large transaction and more chunks
   * of it follow. Its checkpoint is the position before the transaction, so
   * confirming it moves nothing; a destination that applies transactions
   * atomically holds partial chunks until the final one arrives.
   */
  readonly partial?: boolean;
}

/**
 * What transforms and destinations see: whole transactions, decoded into one
 * Arrow `RecordBatch` per table, plus truncates and schema changes in stream
 * order (DESIGN §3). Immutable: transforms return a new batch with
 * {@link ChangeBatch.withEntries}, which keeps the LSN range and checkpoint.
 *
 * @example
 * ```ts
 * for (const entry of batch.entries) {
 *   if (entry.kind === 'rows') console.log(entry.table.name, entry.data.numRows);
 * }
 * for (const row of batch.rows('public.orders')) console.log(row); // convenience, not for hot paths
 * ```
 */
export class ChangeBatch {
  readonly firstLsn: Lsn;
  readonly checkpoint: Checkpoint;
  readonly transactions: number;
  readonly lastCommitTimeUs: bigint;
  readonly entries: readonly ChangeEntry[];
  readonly partial: boolean;

  constructor(init: ChangeBatchInit) {
    this.firstLsn = init.firstLsn;
    this.checkpoint = init.checkpoint;
    this.transactions = init.transactions;
    this.lastCommitTimeUs = init.lastCommitTimeUs;
    this.entries = init.entries;
    this.partial = init.partial ?? false;
  }

  /** The end LSN of the last transaction: the position acknowledged once this batch is durable. */
  get lastLsn(): Lsn {
    return this.checkpoint.lsn;
  }

  /** Commit LSN of the last transaction: the watermark a destination records. */
  get commitLsn(): Lsn {
    return this.checkpoint.commitLsn;
  }

  /** Total rows over all tables. */
  get numRows(): number {
    let n = 0;
    for (const e of this.entries) if (e.kind === 'rows') n += e.data.numRows;
    return n;
  }

  /** Approximate in-memory size of the Arrow data, in bytes. */
  get byteLength(): number {
    let n = 0;
    for (const e of this.entries) {
      if (e.kind !== 'rows') continue;
      n += recordBatchBytes(e.data);
      if (e.before) n += recordBatchBytes(e.before);
    }
    return n;
  }

  /** The rows entries, one per table. */
  rowEntries(): RowsEntry[] {
    return this.entries.filter((e): e is RowsEntry => e.kind === 'rows');
  }

  /** The rows entry of a table, by qualified name (`schema.table`). */
  rowsOf(table: string): RowsEntry | undefined {
    for (const e of this.entries) if (e.kind === 'rows' && qualifiedName(e.table) === table) return e;
    return undefined;
  }

  /**
   * Plain objects for the rows of one table, produced lazily. Convenience for
   * simple destinations (webhooks, logs); never used on the default hot path.
   * int8 comes as `bigint`, numeric as exact `string`, timestamps as ISO text
   * with microseconds, bytea as `Uint8Array`.
   */
  *rows(table: string): IterableIterator<Record<string, unknown>> {
    const entry = this.rowsOf(table);
    if (!entry) return;
    for (let i = 0; i < entry.data.numRows; i++) yield readRow(entry.data, i);
  }

  /** A batch with other entries and the same LSN range and checkpoint (what transforms return). */
  withEntries(entries: readonly ChangeEntry[]): ChangeBatch {
    return new ChangeBatch({ ...this, entries });
  }

  /**
   * The part of this batch a destination whose watermark is `commitLsn` has
   * not applied yet: rows, truncates and schema changes of transactions that
   * committed after it. Snapshot reads are always kept (they are idempotent
   * upserts, and share the consistent point as their LSN). Returns `this`
   * when nothing is skipped.
   */
  after(commitLsn: Lsn): ChangeBatch {
    if (this.firstLsn > commitLsn && !this.entries.some((e) => e.kind !== 'rows' && e.lsn <= commitLsn)) {
      // Fast path: the first transaction began after the watermark.
      let all = true;
      for (const e of this.entries) {
        if (e.kind === 'rows' && !isSnapshotRows(e.data) && minLsnOf(e.data) <= commitLsn) {
          all = false;
          break;
        }
      }
      if (all) return this;
    }
    const entries: ChangeEntry[] = [];
    for (const e of this.entries) {
      if (e.kind !== 'rows') {
        if (e.lsn > commitLsn) entries.push(e);
        continue;
      }
      const kept = filterByLsn(e.data, commitLsn);
      if (kept.numRows > 0) entries.push({ ...e, data: kept });
    }
    return this.withEntries(entries);
  }
}

function recordBatchBytes(rb: RecordBatch): number {
  let n = 0;
  for (const child of rb.data.children) n += dataBytes(child);
  return n;
}

function dataBytes(d: RecordBatch['data']['children'][number]): number {
  let n = d.values?.byteLength ?? 0;
  n += d.valueOffsets?.byteLength ?? 0;
  n += d.nullBitmap?.byteLength ?? 0;
  for (const c of d.children) n += dataBytes(c);
  return n;
}

function lsnValues(rb: RecordBatch): BigUint64Array | undefined {
  const col = rb.getChild(LSN_COLUMN);
  if (col?.data.length !== 1) return undefined;
  const data = col.data[0]!;
  // Arrow pads value buffers; only the first `length` values are rows.
  return (data.values as BigUint64Array).subarray(0, data.length);
}

/** Snapshot batches hold only snapshot reads; they are idempotent upserts and never skipped by a watermark. */
function isSnapshotRows(rb: RecordBatch): boolean {
  return rb.numRows > 0 && rb.getChild(OP_COLUMN)?.get(0) === ChangeOp.Read;
}

function minLsnOf(rb: RecordBatch): Lsn {
  const values = lsnValues(rb);
  if (!values) return 0n;
  let min = values.length ? values[0]! : 0n;
  for (const v of values) if (v < min) min = v;
  return min;
}

function filterByLsn(rb: RecordBatch, commitLsn: Lsn): RecordBatch {
  const values = lsnValues(rb);
  if (!values || isSnapshotRows(rb)) return rb;
  // Rows of one batch are in commit order, so the rows to keep are a suffix.
  let first = 0;
  while (first < values.length && values[first]! <= commitLsn) first++;
  if (first === 0) return rb;
  return rb.slice(first);
}
