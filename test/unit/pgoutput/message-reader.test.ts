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

  it('a value cut short is a PG_PROTOCOL error', () => {
    expect(() => new MessageReader(Buffer.alloc(7)).u64()).toThrow(
      expect.objectContaining({ code: 'PG_PROTOCOL' }),
    );
  });
});
