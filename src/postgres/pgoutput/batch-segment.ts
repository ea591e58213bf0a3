import type { RecordBatch } from 'apache-arrow';
import { TableBatchWriter, type TableBatchWriterOptions } from '../../arrow/table-batch-writer.js';
import type { ChangeEntry, SchemaChangeEntry } from '../../change/change-entry.js';
import type { TableSchema } from '../../change/table-schema.js';
import type { Lsn } from '../../lsn.js';

/** A truncate or schema entry whose commit LSN may not be known yet (streamed transactions). */
export type PendingEvent =
  | {
      kind: 'truncate';
      tables: readonly TableSchema[];
      cascade: boolean;
      restartIdentity: boolean;
      seq: number;
      lsn: Lsn | undefined;
    }
  | {
      kind: 'schema';
      table: TableSchema;
      previous: TableSchema | undefined;
      seq: number;
      lsn: Lsn | undefined;
    };

/** Entries of a segment in stream order: a table's rows sit where its first row arrived. */
export type SegmentEntry = { kind: 'rows'; relationId: number; writer: TableBatchWriter } | PendingEvent;

/**
 * Row counts of every writer of a segment at one moment: where a transaction
 * or subtransaction began. Taken at every Begin, so it is one flat array
 * (and, for the main transaction, one object reused: see {@link BatchSegment.markInto}).
 */
export class SegmentMark {
  /** A segment with nothing in it. Never recaptured. */
  static readonly EMPTY = new SegmentMark(0, []);

  constructor(
    /** Entries the segment had. */
    private entryCount: number,
    /** `relationId, rows, beforeRows` for each writer. */
    private readonly counts: number[],
  ) {}

  /** Entries the segment had. */
  get entries(): number {
    return this.entryCount;
  }

  /** Captures `writers` anew into this mark (a reusable one, never {@link SegmentMark.EMPTY}). */
  capture(entries: number, writers: ReadonlyMap<number, TableBatchWriter>): this {
    this.entryCount = entries;
    const c = this.counts;
    c.length = 0;
    for (const [id, w] of writers) c.push(id, w.rows, w.beforeRows);
    return this;
  }

  /** Rows and old-image rows of `relationId`'s writer at the mark; zeros when it had none. */
  rowsOf(relationId: number): readonly [rows: number, before: number] {
    const c = this.counts;
    for (let i = 0; i < c.length; i += 3) if (c[i] === relationId) return [c[i + 1]!, c[i + 2]!];
    return [0, 0];
  }

  /** True when `relationId` had a writer at the mark. */
  has(relationId: number): boolean {
    const c = this.counts;
    for (let i = 0; i < c.length; i += 3) if (c[i] === relationId) return true;
    return false;
  }
}

/** A materialized entry: rows as record batches (LSNs still to be filled for streamed transactions). */
export type SealedEntry =
  | {
      kind: 'rows';
      relationId: number;
      table: TableSchema;
      data: RecordBatch;
      before: RecordBatch | undefined;
    }
  | PendingEvent;

/**
 * The not-yet-taken changes of one future ChangeBatch (or of one chunk of a
 * streamed transaction): ordered entries and one {@link TableBatchWriter} per
 * table. A segment never holds two shapes of one table: a schema change or
 * truncate of a held table seals it first.
 */
export class BatchSegment {
  entries: SegmentEntry[] = [];
  readonly writers = new Map<number, TableBatchWriter>();
  /**
   * Writers emptied by a seal, kept for their table's next rows: a batch
   * of one small transaction (a latency-tuned pipeline cuts at every
   * commit) then does not build its column writers again.
   */
  readonly #idle = new Map<number, TableBatchWriter>();

  constructor(private readonly writerOptions: TableBatchWriterOptions) {}

  /** True when the segment has rows of `relationId`. */
  holds(relationId: number): boolean {
    const w = this.writers.get(relationId);
    return w !== undefined && w.rows + w.beforeRows > 0;
  }

  /** The writer of a table, created (and placed in the entries) on first use; undefined when its shape differs. */
  writerFor(relationId: number, table: TableSchema): TableBatchWriter | undefined {
    const existing = this.writers.get(relationId);
    if (existing) {
      if (existing.table === table) return existing;
      if (existing.rows + existing.beforeRows > 0) return undefined;
      this.entries = this.entries.filter((e) => e.kind !== 'rows' || e.writer !== existing);
    }
    const idle = this.#idle.get(relationId);
    if (idle) this.#idle.delete(relationId);
    const writer = idle?.table === table ? idle : new TableBatchWriter(table, this.writerOptions);
    this.writers.set(relationId, writer);
    this.entries.push({ kind: 'rows', relationId, writer });
    return writer;
  }

  /** True when there is nothing to deliver. */
  get empty(): boolean {
    for (const e of this.entries) if (e.kind !== 'rows' || e.writer.rows > 0) return false;
    return true;
  }

  /** Rows held. */
  get rows(): number {
    let n = 0;
    for (const w of this.writers.values()) n += w.rows;
    return n;
  }

  /** Where things stand now (for a later split or truncate). */
  mark(): SegmentMark {
    if (this.writers.size === 0 && this.entries.length === 0) return SegmentMark.EMPTY;
    return new SegmentMark(0, []).capture(this.entries.length, this.writers);
  }

  /**
   * Like {@link BatchSegment.mark}, but captured into `reuse` (no allocation
   * per transaction); only for a mark that nobody keeps past the next capture.
   */
  markInto(reuse: SegmentMark): SegmentMark {
    if (this.writers.size === 0 && this.entries.length === 0) return SegmentMark.EMPTY;
    return reuse.capture(this.entries.length, this.writers);
  }

  /** Materializes everything (the writers are emptied and kept idle for their tables' next rows). */
  seal(): SealedEntry[] {
    const out: SealedEntry[] = [];
    for (const e of this.entries) {
      if (e.kind !== 'rows') out.push(e);
      else {
        if (e.writer.rows > 0 || e.writer.beforeRows > 0) {
          const { data, before } = e.writer.flushImages();
          out.push({ kind: 'rows', relationId: e.relationId, table: e.writer.table, data, before });
        }
        this.#idle.set(e.relationId, e.writer);
      }
    }
    this.entries = [];
    this.writers.clear();
    return out;
  }

  /**
   * Materializes what came before `mark` and keeps what came after it (the
   * rows of an unfinished transaction stay, in their writers).
   */
  sealBefore(mark: SegmentMark): SealedEntry[] {
    const out: SealedEntry[] = [];
    const kept: SegmentEntry[] = [];
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (i >= mark.entries) {
        kept.push(e);
        continue;
      }
      if (e.kind !== 'rows') {
        out.push(e);
        continue;
      }
      const [rows, before] = mark.rowsOf(e.relationId);
      const w = e.writer;
      if (rows > 0 || before > 0) {
        const { data, before: b } = w.flushImages(rows, before);
        out.push({ kind: 'rows', relationId: e.relationId, table: w.table, data, before: b });
      }
      if (w.rows + w.beforeRows > 0) kept.unshift(e);
      else {
        this.writers.delete(e.relationId);
        this.#idle.set(e.relationId, w);
      }
    }
    this.entries = kept;
    return out;
  }

  /** Forgets everything after `mark` (an aborted subtransaction). */
  truncateTo(mark: SegmentMark): void {
    this.entries.length = Math.min(this.entries.length, mark.entries);
    for (const [id, w] of this.writers) {
      if (mark.has(id)) {
        const [rows, before] = mark.rowsOf(id);
        w.truncate(rows, before);
      } else this.writers.delete(id);
    }
    this.entries = this.entries.filter((e) => e.kind !== 'rows' || this.writers.has(e.relationId));
  }
}

/** A sealed entry as the batch carries it, with its commit LSN. */
export function finalEntry(e: SealedEntry, lsn: Lsn): ChangeEntry {
  if (e.kind === 'rows') {
    return e.before
      ? { kind: 'rows', table: e.table, data: e.data, before: e.before }
      : { kind: 'rows', table: e.table, data: e.data };
  }
  if (e.kind === 'truncate') {
    return {
      kind: 'truncate',
      tables: e.tables,
      cascade: e.cascade,
      restartIdentity: e.restartIdentity,
      lsn: e.lsn ?? lsn,
      seq: e.seq,
    };
  }
  const s: SchemaChangeEntry = {
    kind: 'schema',
    table: e.table,
    previous: e.previous,
    lsn: e.lsn ?? lsn,
    seq: e.seq,
  };
  return s;
}
