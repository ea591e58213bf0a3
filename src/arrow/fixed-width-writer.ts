import type { Data } from 'apache-arrow';
import { ColumnWriter, INITIAL_ROWS, type ValueContext } from './column-writer.js';

/**
 * A column writer whose rows all take the same number of bytes (ints,
 * floats, dates, timestamps, decimals). Values live in one growable
 * `ArrayBuffer`; subclasses keep typed views of it (refreshed by `remap`) and
 * build the Arrow `Data` of a finished prefix in `dataOf`.
 */
export abstract class FixedWidthWriter extends ColumnWriter {
  protected buffer: ArrayBuffer;
  /** Rows the buffer is sized for when it is next allocated: the last finished batch's, so a reused writer does not regrow. */
  private rowsHint = INITIAL_ROWS;

  constructor(
    type: ConstructorParameters<typeof ColumnWriter>[0],
    ctx: ValueContext,
    protected readonly bytesPerRow: number,
  ) {
    super(type, ctx);
    this.buffer = new ArrayBuffer(INITIAL_ROWS * bytesPerRow);
    this.remap();
  }

  /** Refreshes the subclass's typed views after `buffer` was replaced. */
  protected abstract remap(): void;

  /** Arrow data over the first `count` rows of `buffer`. */
  protected abstract dataOf(
    buffer: ArrayBuffer,
    count: number,
    bitmap: Uint8Array | undefined,
    nullCount: number,
  ): Data;

  /** Ensures room for row `this.length`. */
  protected reserve(): void {
    if ((this.length + 1) * this.bytesPerRow <= this.buffer.byteLength) return;
    const rows = Math.max(this.rowsHint, (this.buffer.byteLength / this.bytesPerRow) * 2);
    const next = new ArrayBuffer(rows * this.bytesPerRow);
    new Uint8Array(next).set(new Uint8Array(this.buffer, 0, this.length * this.bytesPerRow));
    this.buffer = next;
    this.remap();
  }

  /** Appends a null: a zeroed slot (value buffers hold defined bytes under nulls). */
  appendNull(): void {
    this.reserve();
    new Uint8Array(this.buffer, this.length * this.bytesPerRow, this.bytesPerRow).fill(0);
    this.markRow(false);
    this.length++;
  }

  /** Starts a valid row; returns its index. */
  protected beginValid(): number {
    this.reserve();
    this.markRow(true);
    return this.length++;
  }

  get byteLength(): number {
    return this.length * this.bytesPerRow;
  }

  finish(count = this.length): Data {
    const { bitmap, nullCount } = this.packValidity(count);
    const data = this.dataOf(this.buffer, count, bitmap, nullCount);
    const rest = this.length - count;
    this.rowsHint = Math.max(INITIAL_ROWS, count);
    // Nothing left (the usual case: the writer is then dropped or refilled): allocate on the next append.
    const next = new ArrayBuffer(rest > 0 ? Math.max(INITIAL_ROWS, rest * 2) * this.bytesPerRow : 0);
    if (rest > 0) {
      new Uint8Array(next).set(
        new Uint8Array(this.buffer, count * this.bytesPerRow, rest * this.bytesPerRow),
      );
    }
    this.buffer = next;
    this.remap();
    this.keepValidityTail(count, nullCount);
    return data;
  }

  truncate(count: number): void {
    this.truncateValidity(count);
  }
}
