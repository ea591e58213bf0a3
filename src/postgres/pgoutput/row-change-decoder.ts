import type { TableBatchWriter } from '../../arrow/table-batch-writer.js';
import { ChangeOp } from '../../change/metadata-columns.js';
import type { Lsn } from '../../lsn.js';
import type { CachedRelation } from './relation-cache.js';
import { TupleScan, writeTuple } from './tuple-data.js';

const OLD_KEY = 0x4b; // K
const OLD_FULL = 0x4f; // O

/**
 * Decodes Insert, Update and Delete bodies (from the TupleData on) into a
 * table's writer. Reuses its scratch state across messages: one instance per
 * accumulator, not re-entrant.
 */
export class RowChangeDecoder {
  private readonly unchanged: number[] = [];
  private readonly oldScan = new TupleScan();
  private readonly newScan = new TupleScan();

  /** Insert: `N` + TupleData at `pos`. Returns the number of rows written (1). */
  insert(buf: Uint8Array, pos: number, writer: TableBatchWriter, lsn: Lsn, seq: number): number {
    this.unchanged.length = 0;
    writeTuple(buf, pos + 1, writer.columns, this.unchanged);
    writer.endRow(ChangeOp.Insert, lsn, seq, this.unchanged);
    return 1;
  }

  /**
   * Update: optional `K`/`O` + old TupleData, then `N` + new TupleData. When
   * the key changed, a Delete row of the old key comes first (with the whole
   * old row under REPLICA IDENTITY FULL, like any Delete); an `O` image
   * goes to the writer's old images, linked to the Update row's seq. Returns
   * the number of rows written (1 or 2), which is also the seqs used.
   */
  update(
    buf: Uint8Array,
    pos: number,
    relation: CachedRelation,
    writer: TableBatchWriter,
    lsn: Lsn,
    seq: number,
  ): number {
    const kind = buf[pos];
    let hasOld = false;
    if (kind === OLD_KEY || kind === OLD_FULL) {
      pos = this.oldScan.scan(buf, pos + 1);
      hasOld = true;
    }
    this.newScan.scan(buf, pos + 1);
    let used = 0;
    if (hasOld && this.keyChanged(relation.keyMask)) {
      // The old key's Delete: the whole old row under REPLICA IDENTITY FULL, as for any Delete.
      this.oldScan.write(writer.columns, undefined, kind === OLD_FULL ? undefined : relation.keyMask);
      writer.endRow(ChangeOp.Delete, lsn, seq + used++, undefined);
    }
    if (kind === OLD_FULL) {
      this.oldScan.write(writer.beforeColumns(), undefined);
      writer.endBeforeRow(seq + used);
    }
    this.unchanged.length = 0;
    // Under FULL the old row has every value, so unchanged TOAST values are filled in from it.
    this.newScan.write(
      writer.columns,
      this.unchanged,
      undefined,
      kind === OLD_FULL ? this.oldScan : undefined,
    );
    writer.endRow(ChangeOp.Update, lsn, seq + used++, this.unchanged);
    return used;
  }

  /** Delete: `K`/`O` + old TupleData. An `O` image also goes to the old images. Returns 1. */
  delete(buf: Uint8Array, pos: number, writer: TableBatchWriter, lsn: Lsn, seq: number): number {
    const kind = buf[pos];
    this.oldScan.scan(buf, pos + 1);
    this.oldScan.write(writer.columns, undefined);
    writer.endRow(ChangeOp.Delete, lsn, seq, undefined);
    if (kind === OLD_FULL) {
      this.oldScan.write(writer.beforeColumns(), undefined);
      writer.endBeforeRow(seq);
    }
    return 1;
  }

  private keyChanged(keyMask: readonly boolean[]): boolean {
    for (let i = 0; i < keyMask.length; i++) {
      if (keyMask[i] && !this.oldScan.sameValue(this.newScan, i)) return true;
    }
    return false;
  }
}
