import type { Data, DataType } from 'apache-arrow';
import { EtlError } from '../errors.js';

/** What to do with a value the Arrow type cannot hold (NaN in a Decimal column, an infinite date). */
export type UnrepresentablePolicy = 'fail' | 'null';

/** Where a column writer's values come from, for error messages and the unrepresentable-value policy. */
export interface ValueContext {
  /** Qualified table name, `schema.table`. */
  readonly table: string;
  readonly column: string;
  readonly unrepresentable: UnrepresentablePolicy;
  /** Called once per value written as null under the `null` policy. */
  readonly onUnrepresentable?: (info: { table: string; column: string; reason: string }) => void;
}

/** Rows a fresh writer has room for; it doubles from there. */
export const INITIAL_ROWS = 256;

/**
 * Appends the values of one column, straight from wire bytes, into growable
 * buffers, and hands them out as Arrow `Data`. One writer per column per
 * table batch; not thread-safe; every append adds exactly one row.
 *
 * `finish(count)` hands out the first `count` rows and keeps the others, so a
 * batch can be cut in the middle of a transaction; `truncate(count)` forgets
 * rows from `count` on (an aborted subtransaction).
 */
export abstract class ColumnWriter {
  /** Rows written and not yet finished. */
  length = 0;
  /**
   * One byte per row (1 = valid, 0 = null), packed into a bitmap only at
   * finish. Undefined while no held row is null, the usual case: rows
   * without nulls cost no validity bytes at all.
   */
  protected valid: Uint8Array | undefined;
  protected nulls = 0;

  constructor(
    readonly type: DataType,
    protected readonly ctx: ValueContext,
  ) {}

  /** Appends a value in PostgreSQL text output form: `buf[start..end)`. */
  abstract appendText(buf: Uint8Array, start: number, end: number): void;
  /** Appends a value in binary send (`typsend`, COPY binary) form: `buf[start..end)`. */
  abstract appendBinary(buf: Uint8Array, start: number, end: number): void;
  /** Appends a null. */
  abstract appendNull(): void;
  /** Approximate bytes held. */
  abstract get byteLength(): number;
  /** Arrow data of rows `[0, count)`; rows `[count, length)` stay in the writer as rows `[0, length - count)`. */
  abstract finish(count?: number): Data;
  /** Forgets rows `[count, length)`. */
  abstract truncate(count: number): void;

  /** Applies the unrepresentable-value policy: throws, or appends a null and reports it. */
  protected unrepresentable(reason: string): void {
    const { table, column } = this.ctx;
    if (this.ctx.unrepresentable === 'fail') {
      throw new EtlError('VALUE_UNREPRESENTABLE', `${table}.${column}: ${reason}`, {
        hint: "Change the column's type in PostgreSQL, or set the pipeline's unrepresentable-value policy to 'null'.",
        details: { table, column },
      });
    }
    this.ctx.onUnrepresentable?.({ table, column, reason });
    this.appendNull();
  }

  /** Records validity of row `this.length` (allocates the byte mask at the first null). */
  protected markRow(isValid: boolean): void {
    const i = this.length;
    let v = this.valid;
    if (v === undefined) {
      if (isValid) return;
      v = this.valid = new Uint8Array(Math.max(INITIAL_ROWS, (i + 1) * 2));
      v.fill(1, 0, i);
    } else if (i >= v.length) {
      const next = new Uint8Array(Math.max(INITIAL_ROWS, v.length * 2));
      next.set(v);
      v = this.valid = next;
    }
    if (isValid) v[i] = 1;
    else {
      v[i] = 0;
      this.nulls++;
    }
  }

  /** Packs the validity of rows `[0, count)` into an Arrow bitmap (undefined when none is null). */
  protected packValidity(count: number): { bitmap: Uint8Array | undefined; nullCount: number } {
    const v = this.valid;
    if (this.nulls === 0 || v === undefined) return { bitmap: undefined, nullCount: 0 };
    const bitmap = new Uint8Array(((count + 63) >> 6) << 3);
    let nullCount = 0;
    for (let i = 0; i < count; i++) {
      if (v[i] === 1) bitmap[i >> 3]! |= 1 << (i & 7);
      else nullCount++;
    }
    return { bitmap: nullCount === 0 ? undefined : bitmap, nullCount };
  }

  /** Moves the validity of rows `[count, length)` to the front after a finish; resets `length`. */
  protected keepValidityTail(count: number, prefixNulls: number): void {
    const rest = this.length - count;
    this.nulls -= prefixNulls;
    if (this.nulls === 0 || this.valid === undefined) this.valid = undefined;
    else {
      const next = new Uint8Array(Math.max(INITIAL_ROWS, rest * 2));
      next.set(this.valid.subarray(count, this.length));
      this.valid = next;
    }
    this.length = rest;
  }

  /** Forgets the validity of rows `[count, length)`; sets `length`. */
  protected truncateValidity(count: number): void {
    const v = this.valid;
    if (v !== undefined) {
      for (let i = count; i < this.length; i++) if (v[i] === 0) this.nulls--;
      if (this.nulls === 0) this.valid = undefined;
    }
    this.length = count;
  }
}
