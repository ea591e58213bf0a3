import { DateDay, makeData, TimeMicrosecond, TimestampMicrosecond } from 'apache-arrow';
import type { ValueContext } from './column-writer.js';
import { FixedWidthWriter } from './fixed-width-writer.js';
import { readI32 } from './number-writers.js';
import {
  PG_EPOCH_DAYS,
  PG_EPOCH_MICROS,
  parseDateText,
  parseTimestampText,
  parseTimeText,
  writeInt64,
  writeMicros,
} from './temporal-codec.js';

const TWO_32 = 4_294_967_296;
const EPOCH_HI = Math.floor(PG_EPOCH_MICROS / TWO_32);
const EPOCH_LO = PG_EPOCH_MICROS - EPOCH_HI * TWO_32;
const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;

/** `date` → Date32 (days since 1970-01-01); ±infinity follows the unrepresentable-value policy. */
export class DateWriter extends FixedWidthWriter {
  declare private values: Int32Array;
  constructor(ctx: ValueContext) {
    super(new DateDay(), ctx, 4);
  }
  protected remap(): void {
    this.values = new Int32Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number, end: number): void {
    const p = parseDateText(buf, start, end);
    if (p.status !== 0) {
      this.unrepresentable(`date ${p.status > 0 ? '' : '-'}infinity has no Date32 value`);
      return;
    }
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = p.whole;
  }
  appendBinary(buf: Uint8Array, start: number): void {
    const days = readI32(buf, start);
    if (days === INT32_MAX || days === INT32_MIN) {
      this.unrepresentable(`date ${days > 0 ? '' : '-'}infinity has no Date32 value`);
      return;
    }
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = days + PG_EPOCH_DAYS;
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    const data = new Int32Array(buffer, 0, count);
    return makeData({ type: new DateDay(), length: count, nullCount, nullBitmap, data });
  }
}

/** `time` → Time64(µs). */
export class TimeWriter extends FixedWidthWriter {
  declare private words: Int32Array;
  constructor(ctx: ValueContext) {
    super(new TimeMicrosecond(), ctx, 8);
  }
  protected remap(): void {
    this.words = new Int32Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number, end: number): void {
    const row = this.beginValid();
    writeInt64(this.words, row * 2, parseTimeText(buf, start, end));
  }
  appendBinary(buf: Uint8Array, start: number): void {
    const row = this.beginValid();
    this.words[row * 2] = readI32(buf, start + 4);
    this.words[row * 2 + 1] = readI32(buf, start);
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    const data = new BigInt64Array(buffer, 0, count);
    return makeData({ type: new TimeMicrosecond(), length: count, nullCount, nullBitmap, data });
  }
}

/**
 * `timestamp` → Timestamp(µs) and `timestamptz` → Timestamp(µs, 'UTC'):
 * microseconds since the Unix epoch, converted from the PostgreSQL epoch with
 * exact word arithmetic. ±infinity and instants past the int64 range
 * (beyond year 294 246) follow the unrepresentable-value policy.
 */
export class TimestampWriter extends FixedWidthWriter {
  declare private words: Int32Array;
  constructor(
    private readonly utc: boolean,
    ctx: ValueContext,
  ) {
    super(new TimestampMicrosecond(utc ? 'UTC' : null), ctx, 8);
  }
  protected remap(): void {
    this.words = new Int32Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number, end: number): void {
    const p = parseTimestampText(buf, start, end);
    if (p.status !== 0) {
      this.unrepresentable(`timestamp ${p.status > 0 ? '' : '-'}infinity has no value`);
      return;
    }
    this.reserve();
    if (!writeMicros(this.words, this.length * 2, p.whole, p.micros)) {
      this.unrepresentable('timestamp is outside the int64 microseconds range of Arrow');
      return;
    }
    this.markRow(true);
    this.length++;
  }
  appendBinary(buf: Uint8Array, start: number): void {
    const hi = readI32(buf, start);
    const lo = readI32(buf, start + 4) >>> 0;
    if (hi === INT32_MAX && lo === 0xffffffff) {
      this.unrepresentable('timestamp infinity has no value');
      return;
    }
    if (hi === INT32_MIN && lo === 0) {
      this.unrepresentable('timestamp -infinity has no value');
      return;
    }
    let sumLo = lo + EPOCH_LO;
    let carry = 0;
    if (sumLo >= TWO_32) {
      sumLo -= TWO_32;
      carry = 1;
    }
    const sumHi = hi + EPOCH_HI + carry;
    if (sumHi > INT32_MAX) {
      this.unrepresentable('timestamp is outside the int64 microseconds range of Arrow');
      return;
    }
    const row = this.beginValid();
    this.words[row * 2] = sumLo | 0;
    this.words[row * 2 + 1] = sumHi;
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    const data = new BigInt64Array(buffer, 0, count);
    return makeData({
      type: new TimestampMicrosecond(this.utc ? 'UTC' : null),
      length: count,
      nullCount,
      nullBitmap,
      data,
    });
  }
}
