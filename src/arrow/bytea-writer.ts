import { Binary, makeData } from 'apache-arrow';
import type { ValueContext } from './column-writer.js';
import { VariableWidthWriter } from './variable-width-writer.js';

function hexValue(c: number): number {
  if (c <= 0x39) return c - 0x30;
  return (c | 0x20) - 0x57; // a-f / A-F
}

/** `bytea` → Binary. Text values are `\x` hex (or the legacy escape format); binary values are the bytes. */
export class ByteaWriter extends VariableWidthWriter {
  constructor(ctx: ValueContext) {
    super(new Binary(), ctx);
  }

  appendText(buf: Uint8Array, start: number, end: number): void {
    if (buf[start] === 0x5c && buf[start + 1] === 0x78) {
      this.appendHex(buf, start + 2, end);
      return;
    }
    this.appendEscaped(buf, start, end);
  }

  appendBinary(buf: Uint8Array, start: number, end: number): void {
    this.appendCopy(buf, start, end);
  }

  private appendHex(buf: Uint8Array, start: number, end: number): void {
    const n = (end - start) >> 1;
    this.reserveBytes(n);
    const out = this.bytes;
    let o = this.used;
    for (let i = start; i + 1 < end; i += 2) out[o++] = (hexValue(buf[i]!) << 4) | hexValue(buf[i + 1]!);
    this.used = o;
    this.endRow(true);
  }

  /** `bytea_output = escape`: `\\` is a backslash, `\ooo` an octal byte, anything else itself. */
  private appendEscaped(buf: Uint8Array, start: number, end: number): void {
    this.reserveBytes(end - start);
    const out = this.bytes;
    let o = this.used;
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c !== 0x5c) out[o++] = c;
      else if (buf[i + 1] === 0x5c) {
        out[o++] = 0x5c;
        i++;
      } else {
        out[o++] = ((buf[i + 1]! - 48) << 6) | ((buf[i + 2]! - 48) << 3) | (buf[i + 3]! - 48);
        i += 3;
      }
    }
    this.used = o;
    this.endRow(true);
  }

  protected dataOf(
    valueOffsets: Int32Array,
    data: Uint8Array,
    count: number,
    nullBitmap: Uint8Array | undefined,
    nullCount: number,
  ) {
    return makeData({ type: new Binary(), length: count, nullCount, nullBitmap, valueOffsets, data });
  }
}
