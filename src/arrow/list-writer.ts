import { type Data, type DataType, type List, makeData } from 'apache-arrow';
import { type ArrayLiteralVisitor, parseArrayLiteral } from './array-literal.js';
import { ColumnWriter, INITIAL_ROWS, type ValueContext } from './column-writer.js';
import { readI32 } from './number-writers.js';

/**
 * PostgreSQL arrays → Arrow `List<T>`, nested once per declared dimension
 * (`int[][]` → `List<List<Int32>>`). Elements go straight into one leaf
 * writer; each nesting level keeps its own offsets. Lower bounds are dropped.
 * A value whose dimensionality differs from the column's (other than the
 * empty array) follows the unrepresentable-value policy.
 */
export class ListWriter extends ColumnWriter implements ArrayLiteralVisitor {
  /** offsets[k]: offsets of the lists at level k (level 0 = rows). */
  private readonly offsets: Int32Array[] = [];
  /** counts[k]: lists at level k (counts[0] mirrors `length` during a parse). */
  private readonly counts: number[] = [];
  private readonly levelTypes: DataType[] = [];
  private depthNow = 0;
  private pos = 0;

  constructor(
    type: DataType,
    private readonly leaf: ColumnWriter,
    private readonly depth: number,
    private readonly delimiter: number,
    ctx: ValueContext,
  ) {
    super(type, ctx);
    let t: DataType = type;
    for (let k = 0; k < depth; k++) {
      this.offsets.push(new Int32Array(INITIAL_ROWS + 1));
      this.counts.push(0);
      this.levelTypes.push(t);
      t = (t as List).children[0]!.type;
    }
  }

  private children(level: number): number {
    return level + 1 < this.depth ? this.counts[level + 1]! : this.leaf.length;
  }

  private pushOffset(level: number, value: number): void {
    let offs = this.offsets[level]!;
    const at = this.counts[level]! + 1;
    if (at >= offs.length) {
      const next = new Int32Array(offs.length * 2);
      next.set(offs);
      this.offsets[level] = offs = next;
    }
    offs[at] = value;
    this.counts[level]!++;
  }

  open(): boolean {
    if (this.depthNow >= this.depth) return false;
    this.depthNow++;
    return true;
  }

  close(): void {
    const level = --this.depthNow;
    this.pushOffset(level, this.children(level));
    if (level === 0) {
      this.markRow(true);
      this.length++;
    }
  }

  element(buf: Uint8Array, start: number, end: number): boolean {
    if (this.depthNow !== this.depth) return false;
    this.leaf.appendText(buf, start, end);
    return true;
  }

  nullElement(): boolean {
    if (this.depthNow !== this.depth) return false;
    this.leaf.appendNull();
    return true;
  }

  appendText(buf: Uint8Array, start: number, end: number): void {
    const saved = this.save();
    this.depthNow = 0;
    if (!parseArrayLiteral(buf, start, end, this.delimiter, this)) this.reject(saved);
  }

  appendBinary(buf: Uint8Array, start: number): void {
    const ndim = readI32(buf, start);
    if (ndim === 0) {
      this.pushOffset(0, this.children(0));
      this.markRow(true);
      this.length++;
      return;
    }
    if (ndim !== this.depth) {
      this.reject(this.save(), ndim);
      return;
    }
    this.pos = start + 12 + ndim * 8;
    this.depthNow = 1;
    this.binaryLevel(buf, start + 12, 0, ndim);
    this.close();
  }

  private binaryLevel(buf: Uint8Array, dimsAt: number, dim: number, ndim: number): void {
    const n = readI32(buf, dimsAt + dim * 8);
    for (let i = 0; i < n; i++) {
      if (dim === ndim - 1) {
        const len = readI32(buf, this.pos);
        this.pos += 4;
        if (len < 0) this.leaf.appendNull();
        else {
          this.leaf.appendBinary(buf, this.pos, this.pos + len);
          this.pos += len;
        }
      } else {
        this.depthNow++;
        this.binaryLevel(buf, dimsAt, dim + 1, ndim);
        this.close();
      }
    }
  }

  private save(): number[] {
    return [...this.counts.slice(1), this.leaf.length];
  }

  private reject(saved: number[], ndim?: number): void {
    for (let k = 1; k < this.depth; k++) this.counts[k] = saved[k - 1]!;
    this.leaf.truncate(saved[saved.length - 1]!);
    this.depthNow = 0;
    this.unrepresentable(
      ndim === undefined
        ? `array value does not have ${this.depth} dimension(s) (or is malformed)`
        : `array value has ${ndim} dimension(s), the column ${this.depth}`,
    );
  }

  appendNull(): void {
    this.pushOffset(0, this.children(0));
    this.markRow(false);
    this.length++;
  }

  get byteLength(): number {
    return this.leaf.byteLength + this.length * 4;
  }

  finish(count = this.length): Data {
    const { bitmap, nullCount } = this.packValidity(count);
    const n: number[] = [count];
    for (let k = 0; k < this.depth; k++) n.push(this.offsets[k]![n[k]!]!);
    let child = this.leaf.finish(n[this.depth]!);
    for (let k = this.depth - 1; k >= 0; k--) {
      const valueOffsets = this.offsets[k]!.subarray(0, n[k]! + 1);
      child = makeData({
        type: this.levelTypes[k] as List,
        length: n[k]!,
        nullCount: k === 0 ? nullCount : 0,
        nullBitmap: k === 0 ? bitmap : undefined,
        valueOffsets,
        child,
      });
    }
    this.counts[0] = this.length;
    for (let k = 0; k < this.depth; k++) {
      const total = this.counts[k]!;
      const rest = total - n[k]!;
      const base = this.offsets[k]![n[k]!]!;
      const next = new Int32Array(Math.max(INITIAL_ROWS, rest * 2) + 1);
      for (let i = 0; i <= rest; i++) next[i] = this.offsets[k]![n[k]! + i]! - base;
      this.offsets[k] = next;
      this.counts[k] = rest;
    }
    this.keepValidityTail(count, nullCount);
    return child;
  }

  truncate(count: number): void {
    let n = count;
    this.counts[0] = count;
    for (let k = 0; k < this.depth; k++) {
      const childCount = this.offsets[k]![n]!;
      if (k + 1 < this.depth) this.counts[k + 1] = childCount;
      else this.leaf.truncate(childCount);
      n = childCount;
    }
    this.truncateValidity(count);
  }
}
