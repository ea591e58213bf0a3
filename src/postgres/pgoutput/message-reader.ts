import { EtlError } from '../../errors.js';

const utf8 = new TextDecoder();
/** High words below this make a 64-bit value below 2^53. */
const SAFE_HI = 0x20_0000;
const SIGN_BIT = 1n << 63n;

/**
 * A cursor over one pgoutput message: big-endian integers, LSNs as bigint,
 * NUL-terminated strings. Reading past the end throws a `PG_PROTOCOL` error.
 */
export class MessageReader {
  pos = 0;
  constructor(public buf: Uint8Array = new Uint8Array(0)) {}

  /** Points the reader at another message, at `pos`. */
  reset(buf: Uint8Array, pos = 0): this {
    this.buf = buf;
    this.pos = pos;
    return this;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new EtlError(
        'PG_PROTOCOL',
        `pgoutput message ends early (needs ${n} more bytes at offset ${this.pos})`,
        {
          hint: 'The replication stream is corrupt or of an unsupported protocol version; reconnecting resends it.',
          retryable: true,
        },
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  i16(): number {
    this.need(2);
    const b = this.buf;
    const v = ((b[this.pos]! << 24) | (b[this.pos + 1]! << 16)) >> 16;
    this.pos += 2;
    return v;
  }

  i32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  u32(): number {
    return this.i32() >>> 0;
  }

  /** A 64-bit unsigned value (LSNs, timestamps as raw words) as bigint. */
  u64(): bigint {
    const hi = this.u32();
    const lo = this.u32();
    // Below 2^53 (every LSN and timestamp in practice) the value is exact as a double: one BigInt, not four.
    return hi < SAFE_HI ? BigInt(hi * 0x1_0000_0000 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Skips `n` bytes. */
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /**
   * A 64-bit signed value as a number when it is exact as one (|v| < 2^53:
   * every timestamp in practice), else as bigint; no BigInt on the common path.
   */
  i64Lazy(): number | bigint {
    const at = this.pos;
    const hi = this.u32();
    if (hi < SAFE_HI) return hi * 0x1_0000_0000 + this.u32();
    this.pos = at;
    return this.i64();
  }

  /** A 64-bit signed value as bigint. */
  i64(): bigint {
    const v = this.u64();
    return v < SIGN_BIT ? v : BigInt.asIntN(64, v);
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) this.need(this.buf.length - this.pos + 1);
    const s = utf8.decode(this.buf.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  /** `n` raw bytes (a view, not a copy). */
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }
}
