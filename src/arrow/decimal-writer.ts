import { Decimal, makeData } from 'apache-arrow';
import type { ValueContext } from './column-writer.js';
import { FixedWidthWriter } from './fixed-width-writer.js';
import { DecimalStatus, decimalFromBinary, decimalFromText } from './numeric-codec.js';

const STATUS_REASON: Record<number, string> = {
  [DecimalStatus.NaN]: 'numeric NaN has no Decimal128 value',
  [DecimalStatus.Infinity]: 'numeric Infinity has no Decimal128 value',
  [DecimalStatus.NegativeInfinity]: 'numeric -Infinity has no Decimal128 value',
  [DecimalStatus.Overflow]: 'numeric value does not fit its Decimal128 precision and scale',
};

/** `numeric(p,s)` with p ≤ 38 → Decimal128(p,s), exact (digits accumulated into 128-bit limbs). */
export class DecimalWriter extends FixedWidthWriter {
  declare private words: Uint32Array;
  constructor(
    private readonly precision: number,
    private readonly scale: number,
    ctx: ValueContext,
  ) {
    super(new Decimal(scale, precision, 128), ctx, 16);
  }
  protected remap(): void {
    this.words = new Uint32Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number, end: number): void {
    this.reserve();
    const status = decimalFromText(buf, start, end, this.scale, this.words, this.length);
    this.finishValue(status);
  }
  appendBinary(buf: Uint8Array, start: number): void {
    this.reserve();
    const status = decimalFromBinary(buf, start, this.scale, this.words, this.length);
    this.finishValue(status);
  }
  private finishValue(status: DecimalStatus): void {
    if (status !== DecimalStatus.Ok) {
      this.unrepresentable(STATUS_REASON[status]!);
      return;
    }
    this.markRow(true);
    this.length++;
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    const data = new Uint32Array(buffer, 0, count * 4);
    return makeData({
      type: new Decimal(this.scale, this.precision, 128),
      length: count,
      nullCount,
      nullBitmap,
      data,
    });
  }
}
