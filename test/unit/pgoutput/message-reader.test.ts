import { describe, expect, it } from 'vitest';
import { MessageReader } from '../../../src/postgres/pgoutput/message-reader.js';

/** 64-bit values around the edges of the reader's fast path (2^53) and of the sign bit. */
const EDGES = [
  0n,
  1n,
  0xffff_ffffn,
  0x1_0000_0000n,
  (1n << 53n) - 1n,
  1n << 53n,
  (1n << 53n) + 1n,
  0x16_b374_d849n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 64n) - 1n,
];

function encoded(values: readonly bigint[]): Buffer {
  const buf = Buffer.alloc(values.length * 8);
  for (const [i, v] of values.entries()) buf.writeBigUInt64BE(v, i * 8);
  return buf;
}

describe('MessageReader 64-bit reads', () => {
  it('u64 reads every value exactly, on both sides of 2^53', () => {
    const buf = encoded(EDGES);
    const r = new MessageReader(buf);
    for (let i = 0; i < EDGES.length; i++) expect(r.u64()).toBe(buf.readBigUInt64BE(i * 8));
  });

  it('i64 reads the same bytes as signed values', () => {
    const buf = encoded(EDGES);
    const r = new MessageReader(buf);
    for (let i = 0; i < EDGES.length; i++) expect(r.i64()).toBe(buf.readBigInt64BE(i * 8));
  });

  it('i64Lazy gives a number exactly when the value is one, a bigint otherwise, equal either way', () => {
    const buf = encoded(EDGES);
    const r = new MessageReader(buf);
    for (let i = 0; i < EDGES.length; i++) {
      const want = buf.readBigInt64BE(i * 8);
      const got = r.i64Lazy();
      expect(BigInt(got), `value ${i}`).toBe(want);
      expect(typeof got, `value ${i}`).toBe(want >= 0n && want < 1n << 53n ? 'number' : 'bigint');
    }
    expect(r.pos).toBe(buf.length);
  });

  it('skip moves past bytes, and not past the end', () => {
    const r = new MessageReader(encoded([7n, 9n]));
    r.skip(8);
    expect(r.u64()).toBe(9n);
    expect(() => r.skip(1)).toThrow(expect.objectContaining({ code: 'PG_PROTOCOL' }));
  });

  it('a value cut short is a PG_PROTOCOL error', () => {
    for (const read of [(r: MessageReader) => r.u64(), (r: MessageReader) => r.i64Lazy()]) {
      expect(() => read(new MessageReader(Buffer.alloc(7)))).toThrow(
        expect.objectContaining({ code: 'PG_PROTOCOL' }),
      );
    }
  });
});
