import { makeData, Utf8 } from 'apache-arrow';
import type { ValueContext } from './column-writer.js';
import { numericTextFromBinary } from './numeric-codec.js';
import { VariableWidthWriter } from './variable-width-writer.js';

/**
 * How a Utf8 column's binary values are laid out:
 * - `text`: the text itself (text, varchar, bpchar, name, citext, enum, json);
 * - `jsonb`: a version byte (1), then the text;
 * - `uuid`: 16 bytes, rendered as canonical lower-case text;
 * - `numeric`: `numeric_send`, rendered exactly as `numeric_out` does;
 * - `none`: no binary decoder (the source streams such tables in text mode).
 */
export type TextBinaryForm = 'text' | 'jsonb' | 'uuid' | 'numeric' | 'none';

const HEX = new Uint8Array([...'0123456789abcdef'].map((c) => c.charCodeAt(0)));
const JSONB_VERSION = 1;

/**
 * Utf8 columns. Text-format values are copied byte for byte (PostgreSQL's
 * output function is the rendering we keep: json stays exact, big numbers
 * intact); binary-format values are converted according to {@link TextBinaryForm}.
 */
export class TextWriter extends VariableWidthWriter {
  constructor(
    private readonly binaryForm: TextBinaryForm,
    ctx: ValueContext,
  ) {
    super(new Utf8(), ctx);
  }

  appendText(buf: Uint8Array, start: number, end: number): void {
    this.appendCopy(buf, start, end);
  }

  appendBinary(buf: Uint8Array, start: number, end: number): void {
    switch (this.binaryForm) {
      case 'text':
        this.appendCopy(buf, start, end);
        return;
      case 'jsonb':
        if (buf[start] !== JSONB_VERSION) this.unrepresentable(`unknown jsonb binary version ${buf[start]}`);
        else this.appendCopy(buf, start + 1, end);
        return;
      case 'uuid':
        this.appendUuid(buf, start);
        return;
      case 'numeric':
        this.appendAscii(numericTextFromBinary(buf, start));
        return;
      case 'none':
        this.unrepresentable(
          `no binary decoder for ${this.ctx.column}'s type; stream this table in text mode`,
        );
        return;
    }
  }

  /** Appends an ASCII string. */
  appendAscii(text: string): void {
    const n = text.length;
    this.reserveBytes(n);
    const out = this.bytes;
    let o = this.used;
    for (let i = 0; i < n; i++) out[o++] = text.charCodeAt(i);
    this.used = o;
    this.endRow(true);
  }

  private appendUuid(buf: Uint8Array, start: number): void {
    this.reserveBytes(36);
    const out = this.bytes;
    let o = this.used;
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) out[o++] = 0x2d;
      const b = buf[start + i]!;
      out[o++] = HEX[b >> 4]!;
      out[o++] = HEX[b & 15]!;
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
    return makeData({ type: new Utf8(), length: count, nullCount, nullBitmap, valueOffsets, data });
  }
}
