import type { RecordBatch } from 'apache-arrow';
import type { TableBatchWriterOptions } from '../../arrow/table-batch-writer.js';
import { LSN_COLUMN } from '../../change/metadata-columns.js';
import type { TableSchema } from '../../change/table-schema.js';
import type { Lsn } from '../../lsn.js';
import { BatchSegment, type PendingEvent, type SealedEntry, type SegmentMark } from './batch-segment.js';
import { SpillFile } from './spill-file.js';

/** A rows entry of a chunk, in memory or spilled to disk; `keep`/`keepBefore` cut it after a subtransaction abort. */
interface ChunkRows {
  kind: 'rows';
  relationId: number;
  table: TableSchema;
  /** The rows while in memory; undefined once spilled (a slice would keep the spilled buffers alive). */
  memory: { data: RecordBatch; before: RecordBatch | undefined } | undefined;
  file: SpillFile | undefined;
  beforeFile: SpillFile | undefined;
  keep: number;
  keepBefore: number;
}

type ChunkEntry = ChunkRows | PendingEvent;

/** Where a subtransaction's first change landed: chunk index plus the mark inside it. */
interface SubxactMark {
  readonly chunk: number;
  readonly mark: SegmentMark;
}

/**
 * The buffered changes of one streamed (in-progress, protocol ≥ 2)
 * transaction: delivered at Stream Commit, dropped at Stream Abort. Changes
 * accumulate in an open segment; a schema change of a held table, or the
 * memory limit (then spilled to Arrow IPC files), closes it into a chunk.
 * Each chunk becomes one ChangeBatch at commit (all but the last partial),
 * read back only when that batch is taken: memory stays bounded by the
 * limit however large the transaction.
 */
export class StreamedTransaction {
  readonly chunks: ChunkEntry[][] = [];
  segment: BatchSegment;
  /** Change ordinal inside this transaction's batches. */
  seq = 0;
  /** Approximate bytes held in memory (wire bytes of the changes since the last spill). */
  memoryBytes = 0;
  rows = 0;
  readonly #subxacts = new Map<number, SubxactMark>();

  constructor(
    readonly xid: number,
    readonly firstLsn: Lsn,
    private readonly writerOptions: TableBatchWriterOptions,
    private readonly spillDir: string,
  ) {
    this.segment = new BatchSegment(writerOptions);
  }

  /** Records where subtransaction `xid`'s first change lands (before it is written). */
  noteChange(xid: number): void {
    if (xid === this.xid || this.#subxacts.has(xid)) return;
    this.#subxacts.set(xid, { chunk: this.chunks.length, mark: this.segment.mark() });
  }

  /** Closes the open segment into an in-memory chunk (a held table's shape changed). */
  cut(): void {
    if (this.segment.empty) return;
    this.chunks.push(this.segment.seal().map((e) => (e.kind === 'rows' ? inMemory(e) : e)));
  }

  /** Closes the open segment into a chunk written to disk. */
  spill(): void {
    if (this.segment.empty) return;
    const entries = this.segment.seal().map((e): ChunkEntry => {
      if (e.kind !== 'rows') return e;
      return {
        kind: 'rows',
        relationId: e.relationId,
        table: e.table,
        memory: undefined,
        file: e.data.numRows > 0 ? SpillFile.write(this.spillDir, e.data) : undefined,
        beforeFile: e.before && e.before.numRows > 0 ? SpillFile.write(this.spillDir, e.before) : undefined,
        keep: e.data.numRows,
        keepBefore: e.before?.numRows ?? 0,
      };
    });
    this.chunks.push(entries);
    this.memoryBytes = 0;
  }

  /** Drops subtransaction `subXid`'s changes and everything after them. */
  abortSubtransaction(subXid: number): void {
    const at = this.#subxacts.get(subXid);
    if (!at) return;
    this.#subxacts.delete(subXid);
    for (const [xid, m] of this.#subxacts) {
      if (m.chunk > at.chunk || (m.chunk === at.chunk && m.mark.entries >= at.mark.entries))
        this.#subxacts.delete(xid);
    }
    if (at.chunk === this.chunks.length) {
      this.segment.truncateTo(at.mark);
      return;
    }
    for (const chunk of this.chunks.splice(at.chunk + 1)) discardChunk(chunk);
    this.segment = new BatchSegment(this.writerOptions);
    const chunk = this.chunks[at.chunk]!;
    for (const e of chunk.splice(at.mark.entries)) if (e.kind === 'rows') discardRows(e);
    for (let i = chunk.length - 1; i >= 0; i--) {
      const e = chunk[i]!;
      if (e.kind !== 'rows') continue;
      const [rows, before] = at.mark.rowsOf(e.relationId);
      e.keep = Math.min(e.keep, rows);
      e.keepBefore = Math.min(e.keepBefore, before);
      if (e.keep === 0 && e.keepBefore === 0) {
        discardRows(e);
        chunk.splice(i, 1);
      }
    }
  }

  /**
   * Closes the transaction at Stream Commit: the number of chunks to deliver.
   * Each is then read back on demand with {@link StreamedTransaction.chunk},
   * in order, so a spilled transaction is never in memory as a whole.
   */
  seal(): number {
    this.cut();
    return this.chunks.length;
  }

  /** Rows chunk `i` holds (without reading it back). */
  chunkRows(i: number): number {
    let n = 0;
    for (const e of this.chunks[i] ?? []) if (e.kind === 'rows') n += e.keep;
    return n;
  }

  /** Chunk `i`, materialized (read back and its file removed when spilled), `_etl_lsn` set to the commit LSN. */
  chunk(i: number, commitLsn: Lsn): SealedEntry[] {
    const chunk = this.chunks[i];
    if (!chunk) return [];
    // Dropped once read: what was handed out is the consumer's, and a later discard() must not touch it.
    this.chunks[i] = [];
    return chunk.map((e) => {
      if (e.kind !== 'rows') return e;
      const data = e.file ? e.file.read(e.keep) : e.memory!.data.slice(0, e.keep);
      const before = e.beforeFile
        ? e.beforeFile.read(e.keepBefore)
        : e.memory?.before?.slice(0, e.keepBefore);
      fillLsn(data, commitLsn);
      return {
        kind: 'rows',
        relationId: e.relationId,
        table: e.table,
        data,
        before: before && before.numRows > 0 ? before : undefined,
      };
    });
  }

  /** Drops everything (Stream Abort of the whole transaction, or a reset). */
  discard(): void {
    for (const chunk of this.chunks) discardChunk(chunk);
    this.chunks.length = 0;
    this.segment = new BatchSegment(this.writerOptions);
  }
}

function inMemory(e: Extract<SealedEntry, { kind: 'rows' }>): ChunkRows {
  return {
    kind: 'rows',
    relationId: e.relationId,
    table: e.table,
    memory: { data: e.data, before: e.before },
    file: undefined,
    beforeFile: undefined,
    keep: e.data.numRows,
    keepBefore: e.before?.numRows ?? 0,
  };
}

function discardRows(e: ChunkRows): void {
  e.file?.remove();
  e.beforeFile?.remove();
}

function discardChunk(chunk: ChunkEntry[]): void {
  for (const e of chunk) if (e.kind === 'rows') discardRows(e);
}

/** Sets every row's `_etl_lsn` (written as 0 while the commit LSN was unknown). */
function fillLsn(batch: RecordBatch, lsn: Lsn): void {
  const col = batch.getChild(LSN_COLUMN);
  if (!col) return;
  for (const d of col.data) (d.values as BigUint64Array).subarray(0, d.length).fill(lsn);
}
