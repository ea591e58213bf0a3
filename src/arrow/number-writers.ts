import {
  Bool,
  type Data,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  makeData,
  Uint8,
  Uint32,
  Uint64,
} from 'apache-arrow';
import type { ValueContext } from './column-writer.js';
import { FixedWidthWriter } from './fixed-width-writer.js';
import { writeInt64 } from './temporal-codec.js';

const latin1 = new TextDecoder('latin1');

/** Parses ASCII decimal digits with an optional sign; values here have at most 15 digits. */
export function parseIntAscii(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  let n = 0;
  for (; i < end; i++) n = n * 10 + (buf[i]! - 48);
  return negative ? -n : n;
}

/** Big-endian signed 32-bit read. */
export function readI32(buf: Uint8Array, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}

// Scratch for big-endian float reads without a DataView per buffer (little-endian host assumed, as Arrow is).
const f32 = new Float32Array(1);
const f32Bytes = new Uint8Array(f32.buffer);
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

/** Big-endian IEEE 754 single read. */
export function readF32(buf: Uint8Array, at: number): number {
  f32Bytes[0] = buf[at + 3]!;
  f32Bytes[1] = buf[at + 2]!;
  f32Bytes[2] = buf[at + 1]!;
  f32Bytes[3] = buf[at]!;
  return f32[0]!;
}

/** Big-endian IEEE 754 double read. */
export function readF64(buf: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = buf[at + 7 - i]!;
  return f64[0]!;
}

/** `bool` → Arrow Bool (one byte per row while writing, packed to bits at finish). */
export class BoolWriter extends FixedWidthWriter {
  declare private bytes: Uint8Array;
  constructor(ctx: ValueContext) {
    super(new Bool(), ctx, 1);
  }
  protected remap(): void {
    this.bytes = new Uint8Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.bytes[row] = buf[start] === 0x74 /* t */ ? 1 : 0;
  }
  appendBinary(buf: Uint8Array, start: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.bytes[row] = buf[start] === 0 ? 0 : 1;
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    const src = new Uint8Array(buffer);
    const bits = new Uint8Array(((count + 63) >> 6) << 3);
    for (let i = 0; i < count; i++) if (src[i] === 1) bits[i >> 3]! |= 1 << (i & 7);
    return makeData({ type: new Bool(), length: count, nullCount, nullBitmap, data: bits });
  }
}

/** `int2` → Int16. */
export class Int16Writer extends FixedWidthWriter {
  declare private values: Int16Array;
  constructor(ctx: ValueContext) {
    super(new Int16(), ctx, 2);
  }
  protected remap(): void {
    this.values = new Int16Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number, end: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = parseIntAscii(buf, start, end);
  }
  appendBinary(buf: Uint8Array, start: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = (buf[start]! << 8) | buf[start + 1]!;
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    const data = new Int16Array(buffer, 0, count);
    return makeData({ type: new Int16(), length: count, nullCount, nullBitmap, data });
  }
}

/** `int4` (and `oid`-free 32-bit ints) → Int32. */
export class Int32Writer extends FixedWidthWriter {
  declare private values: Int32Array;
  constructor(ctx: ValueContext) {
    super(new Int32(), ctx, 4);
  }
  protected remap(): void {
    this.values = new Int32Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number, end: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = parseIntAscii(buf, start, end);
  }
  appendBinary(buf: Uint8Array, start: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = readI32(buf, start);
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    const data = new Int32Array(buffer, 0, count);
    return makeData({ type: new Int32(), length: count, nullCount, nullBitmap, data });
  }
}

/** Digits beyond which an int8 text value may not fit a double exactly. */
const SAFE_INT_DIGITS = 15;

/** `int8` → Int64, never through a JS `number` beyond 15 digits. */
export class Int64Writer extends FixedWidthWriter {
  declare private words: Int32Array;
  declare private big: BigInt64Array;
  constructor(ctx: ValueContext) {
    super(new Int64(), ctx, 8);
  }
  protected remap(): void {
    this.words = new Int32Array(this.buffer);
    this.big = new BigInt64Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number, end: number): void {
    const row = this.beginValid();
    const digits = end - start - (buf[start] === 0x2d ? 1 : 0);
    if (digits <= SAFE_INT_DIGITS) writeInt64(this.words, row * 2, parseIntAscii(buf, start, end));
    else this.big[row] = BigInt(latin1.decode(buf.subarray(start, end)));
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
    return makeData({ type: new Int64(), length: count, nullCount, nullBitmap, data });
  }
}

/** `float4` → Float32 (NaN and ±Infinity kept). */
export class Float32Writer extends FixedWidthWriter {
  declare private values: Float32Array;
  constructor(ctx: ValueContext) {
    super(new Float32(), ctx, 4);
  }
  protected remap(): void {
    this.values = new Float32Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number, end: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = Number(latin1.decode(buf.subarray(start, end)));
  }
  appendBinary(buf: Uint8Array, start: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = readF32(buf, start);
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    const data = new Float32Array(buffer, 0, count);
    return makeData({ type: new Float32(), length: count, nullCount, nullBitmap, data });
  }
}

/** `float8` → Float64 (NaN and ±Infinity kept). */
export class Float64Writer extends FixedWidthWriter {
  declare private values: Float64Array;
  constructor(ctx: ValueContext) {
    super(new Float64(), ctx, 8);
  }
  protected remap(): void {
    this.values = new Float64Array(this.buffer);
  }
  appendText(buf: Uint8Array, start: number, end: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = Number(latin1.decode(buf.subarray(start, end)));
  }
  appendBinary(buf: Uint8Array, start: number): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.values[row] = readF64(buf, start);
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    const data = new Float64Array(buffer, 0, count);
    return makeData({ type: new Float64(), length: count, nullCount, nullBitmap, data });
  }
}

/** Metadata columns: typed values appended directly (`_etl_op` Uint8, `_etl_seq` Uint32, `_etl_lsn` Uint64). */
export class MetadataWriter extends FixedWidthWriter {
  declare private u8: Uint8Array;
  declare private u32: Uint32Array;
  declare private u64: BigUint64Array;
  constructor(
    private readonly kind: 'uint8' | 'uint32' | 'uint64',
    ctx: ValueContext,
  ) {
    super(
      kind === 'uint8' ? new Uint8() : kind === 'uint32' ? new Uint32() : new Uint64(),
      ctx,
      KIND_BYTES[kind],
    );
  }
  protected remap(): void {
    // Called from the base constructor, before `kind` is set: map every view.
    this.u8 = new Uint8Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer, 0, this.buffer.byteLength >> 2);
    this.u64 = new BigUint64Array(this.buffer, 0, this.buffer.byteLength >> 3);
  }
  /** Appends a small number (op code, sequence). */
  appendNumber(v: number): void {
    const row = this.beginValid();
    if (this.kind === 'uint8') this.u8[row] = v;
    else this.u32[row] = v;
  }
  /** Appends a 64-bit value (an LSN). */
  appendBigInt(v: bigint): void {
    const row = this.beginValid(); // before reading the (possibly regrown) view
    this.u64[row] = v;
  }
  /** Overwrites every row's 64-bit value (backfills the commit LSN of a streamed transaction). */
  fillBigInt(v: bigint): void {
    this.u64.fill(v, 0, this.length);
  }
  appendText(): void {
    throw new TypeError('metadata columns take typed values');
  }
  appendBinary(): void {
    throw new TypeError('metadata columns take typed values');
  }
  protected dataOf(
    buffer: ArrayBuffer,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ): Data {
    if (this.kind === 'uint8')
      return makeData({
        type: new Uint8(),
        length: count,
        nullCount,
        nullBitmap,
        data: new Uint8Array(buffer, 0, count),
      });
    if (this.kind === 'uint32')
      return makeData({
        type: new Uint32(),
        length: count,
        nullCount,
        nullBitmap,
        data: new Uint32Array(buffer, 0, count),
      });
    return makeData({
      type: new Uint64(),
      length: count,
      nullCount,
      nullBitmap,
      data: new BigUint64Array(buffer, 0, count),
    });
  }
}

const KIND_BYTES = { uint8: 1, uint32: 4, uint64: 8 } as const;
