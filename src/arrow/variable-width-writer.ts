import type { Data } from 'apache-arrow';
import { ColumnWriter, INITIAL_ROWS } from './column-writer.js';

/** Bytes a fresh writer has room for; it doubles from there. */
const INITIAL_BYTES = 4096;
/** Below this length a byte loop beats `set()` of a view (measured on Node 20). */
const SHORT_COPY = 40;

/**
 * A column writer of variable-length values (Utf8, Binary): one Int32
 * offsets buffer and one growable byte buffer.
 */
export abstract class VariableWidthWriter extends ColumnWriter {
  protected offsets = new Int32Array(INITIAL_ROWS + 1);
  protected bytes = new Uint8Array(INITIAL_BYTES);
  /** Bytes used (= offsets[length]). */
  protected used = 0;
  /** Sizes for the next allocation after a finish: the finished batch's, so a reused writer does not regrow. */
  private rowsHint = INITIAL_ROWS;
  private bytesHint = INITIAL_BYTES;

  /** Arrow data over rows `[0, count)` given their offsets and bytes. */
  protected abstract dataOf(
    offsets: Int32Array,
    bytes: Uint8Array,
    count: number,
    bitmap: Uint8Array | undefined,
    nullCount: number,
  ): Data;

  /** Ensures room for `n` more bytes (small, so that it inlines into every append). */
  protected reserveBytes(n: number): void {
    if (this.used + n > this.bytes.length) this.growBytes(this.used + n);
  }

  private growBytes(need: number): void {
    let cap = Math.max(this.bytesHint, this.bytes.length * 2);
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.bytes.subarray(0, this.used));
    this.bytes = next;
  }

  /** Closes the current row (valid or null) at the current byte position. */
  protected endRow(isValid: boolean): void {
    if (this.length + 1 >= this.offsets.length) {
      const next = new Int32Array(Math.max(this.rowsHint + 1, this.offsets.length * 2));
      next.set(this.offsets);
      this.offsets = next;
    }
    this.markRow(isValid);
    this.offsets[++this.length] = this.used;
  }

  /** Appends `buf[start..end)` as one valid value. */
  protected appendCopy(buf: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserveBytes(n);
    if (n < SHORT_COPY) {
      const out = this.bytes;
      let o = this.used;
      for (let i = start; i < end; i++) out[o++] = buf[i]!;
    } else this.bytes.set(new Uint8Array(buf.buffer, buf.byteOffset + start, n), this.used);
    this.used += n;
    this.endRow(true);
  }

  appendNull(): void {
    this.endRow(false);
  }

  get byteLength(): number {
    return this.used + this.length * 4;
  }

  finish(count = this.length): Data {
    const { bitmap, nullCount } = this.packValidity(count);
    const end = this.offsets[count]!;
    const data = this.dataOf(
      this.offsets.subarray(0, count + 1),
      this.bytes.subarray(0, end),
      count,
      bitmap,
      nullCount,
    );
    const rest = this.length - count;
    const restBytes = this.used - end;
    this.rowsHint = Math.max(INITIAL_ROWS, count);
    this.bytesHint = Math.max(INITIAL_BYTES, end);
    // Nothing left (the usual case: the writer is then dropped or refilled): allocate on the next append.
    const offsets = new Int32Array(rest > 0 ? Math.max(INITIAL_ROWS, rest * 2) + 1 : 1);
    for (let i = 0; i <= rest; i++) offsets[i] = this.offsets[count + i]! - end;
    const bytes = new Uint8Array(rest > 0 ? Math.max(INITIAL_BYTES, restBytes * 2) : 0);
    if (rest > 0) bytes.set(this.bytes.subarray(end, this.used));
    this.offsets = offsets;
    this.bytes = bytes;
    this.used = restBytes;
    this.keepValidityTail(count, nullCount);
    return data;
  }

  truncate(count: number): void {
    this.used = this.offsets[count]!;
    this.truncateValidity(count);
  }
}
