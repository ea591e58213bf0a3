import type { ColumnWriter } from '../../arrow/column-writer.js';
import { EtlError } from '../../errors.js';

/** Per-column kind bytes of pgoutput TupleData. */
export const TupleKind = { Null: 0x6e, Unchanged: 0x75, Text: 0x74, Binary: 0x62 } as const;

function protocolError(message: string): EtlError {
  return new EtlError('PG_PROTOCOL', message, {
    hint: 'The replication stream does not match the relation it names; reconnecting resends it.',
    retryable: true,
  });
}

function readI32(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

/**
 * Writes one TupleData (`int16 ncols`, then per column `n`, `u`, or
 * `t`/`b` + `int32 len` + bytes) straight into the column writers. Indexes
 * of unchanged-TOAST columns (`u`) are pushed to `unchanged` (their value
 * column gets a null). Returns the position after the tuple.
 */
export function writeTuple(
  buf: Uint8Array,
  pos: number,
  writers: ColumnWriter[],
  unchanged: number[],
): number {
  const n = (buf[pos]! << 8) | buf[pos + 1]!;
  pos += 2;
  if (n !== writers.length) throw protocolError(`tuple has ${n} columns, relation ${writers.length}`);
  for (let i = 0; i < n; i++) {
    const kind = buf[pos++];
    const w = writers[i]!;
    if (kind === TupleKind.Text || kind === TupleKind.Binary) {
      const len = readI32(buf, pos);
      pos += 4;
      const end = pos + len;
      if (end > buf.length) throw protocolError('tuple value runs past the end of the message');
      if (kind === TupleKind.Text) w.appendText(buf, pos, end);
      else w.appendBinary(buf, pos, end);
      pos = end;
    } else if (kind === TupleKind.Null) w.appendNull();
    else if (kind === TupleKind.Unchanged) {
      w.appendNull();
      unchanged.push(i);
    } else throw protocolError(`unknown tuple column kind ${kind}`);
  }
  return pos;
}

/**
 * The column layout of one TupleData, scanned without decoding, so old and
 * new images can be compared (key changes) and written more than once.
 * Reused across messages: no allocation per tuple once sized.
 */
export class TupleScan {
  kinds = new Uint8Array(64);
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  count = 0;
  buf: Uint8Array = new Uint8Array(0);

  /** Scans the tuple at `pos`; returns the position after it. */
  scan(buf: Uint8Array, pos: number): number {
    const n = (buf[pos]! << 8) | buf[pos + 1]!;
    pos += 2;
    if (n > this.kinds.length) {
      this.kinds = new Uint8Array(n);
      this.starts = new Int32Array(n);
      this.ends = new Int32Array(n);
    }
    this.buf = buf;
    this.count = n;
    for (let i = 0; i < n; i++) {
      const kind = buf[pos++]!;
      this.kinds[i] = kind;
      if (kind === TupleKind.Text || kind === TupleKind.Binary) {
        const len = readI32(buf, pos);
        pos += 4;
        this.starts[i] = pos;
        pos += len;
        this.ends[i] = pos;
        if (pos > buf.length) throw protocolError('tuple value runs past the end of the message');
      } else if (kind !== TupleKind.Null && kind !== TupleKind.Unchanged) {
        throw protocolError(`unknown tuple column kind ${kind}`);
      }
    }
    return pos;
  }

  /**
   * Writes the scanned tuple into `writers`. With `only`, columns outside it
   * are written as null. Unchanged-TOAST columns take their value from
   * `old` (a whole old row, REPLICA IDENTITY FULL) when it has one; else
   * they are pushed to `unchanged`.
   */
  write(
    writers: ColumnWriter[],
    unchanged: number[] | undefined,
    only?: readonly boolean[],
    old?: TupleScan,
  ): void {
    if (this.count !== writers.length)
      throw protocolError(`tuple has ${this.count} columns, relation ${writers.length}`);
    for (let i = 0; i < this.count; i++) {
      const w = writers[i]!;
      const kind = this.kinds[i];
      if (only && !only[i]) w.appendNull();
      else if (kind === TupleKind.Text || kind === TupleKind.Binary) this.#value(w, i);
      else if (kind === TupleKind.Unchanged && old && old.count === this.count && old.hasValue(i))
        old.#value(w, i);
      else {
        w.appendNull();
        if (kind === TupleKind.Unchanged) unchanged?.push(i);
      }
    }
  }

  /** True when column `i` carries a value (text or binary), not null or unchanged. */
  hasValue(i: number): boolean {
    const k = this.kinds[i];
    return k === TupleKind.Text || k === TupleKind.Binary;
  }

  #value(w: ColumnWriter, i: number): void {
    if (this.kinds[i] === TupleKind.Text) w.appendText(this.buf, this.starts[i]!, this.ends[i]!);
    else w.appendBinary(this.buf, this.starts[i]!, this.ends[i]!);
  }

  /** True when column `i` has the same kind and bytes in both scans. */
  sameValue(other: TupleScan, i: number): boolean {
    const k = this.kinds[i];
    if (k !== other.kinds[i]) return false;
    if (k !== TupleKind.Text && k !== TupleKind.Binary) return true;
    const len = this.ends[i]! - this.starts[i]!;
    if (len !== other.ends[i]! - other.starts[i]!) return false;
    const a = this.buf;
    const b = other.buf;
    const sa = this.starts[i]!;
    const sb = other.starts[i]!;
    for (let j = 0; j < len; j++) if (a[sa + j] !== b[sb + j]) return false;
    return true;
  }
}
