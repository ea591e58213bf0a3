/**
 * numeric → Decimal128 and numeric binary → text. Expected limbs are derived
 * by hand (hex of the unscaled integer, two's complement for negatives).
 */
import { describe, expect, it } from 'vitest';
import {
  DecimalStatus,
  decimalFromBinary,
  decimalFromText,
  numericTextFromBinary,
} from '../../../src/arrow/numeric-codec.js';

const ascii = (s: string) => new TextEncoder().encode(s);

function fromText(text: string, scale: number): { status: number; words: number[] } {
  const out = new Uint32Array(8).fill(0xdeadbeef);
  const b = ascii(text);
  const status = decimalFromText(b, 0, b.length, scale, out, 1);
  return { status, words: [...out.subarray(4, 8)] };
}

/** numeric_send bytes: ndigits, weight, sign, dscale, base-10000 digits. */
function numericBinary(weight: number, sign: number, dscale: number, digits: number[]): Uint8Array {
  const b = Buffer.alloc(8 + digits.length * 2);
  b.writeUInt16BE(digits.length, 0);
  b.writeInt16BE(weight, 2);
  b.writeUInt16BE(sign, 4);
  b.writeUInt16BE(dscale, 6);
  for (const [i, d] of digits.entries()) b.writeUInt16BE(d, 8 + i * 2);
  return b;
}

function fromBinary(bytes: Uint8Array, scale: number): { status: number; words: number[] } {
  const out = new Uint32Array(4);
  const status = decimalFromBinary(bytes, 0, scale, out, 0);
  return { status, words: [...out] };
}

describe('decimalFromText', () => {
  it('builds small values exactly, padding to the scale', () => {
    expect(fromText('12345.67', 2)).toEqual({ status: 0, words: [1234567, 0, 0, 0] });
    expect(fromText('1.1', 3)).toEqual({ status: 0, words: [1100, 0, 0, 0] });
    expect(fromText('0', 10)).toEqual({ status: 0, words: [0, 0, 0, 0] });
  });

  it('negates in two’s complement', () => {
    // 1.5 × 10^10 = 15 000 000 000 = 0x3_7E11_D600; negated: ~x + 1.
    expect(fromText('-1.5', 10)).toEqual({
      status: 0,
      words: [0x81ee2a00, 0xfffffffc, 0xffffffff, 0xffffffff],
    });
    expect(fromText('-1', 0)).toEqual({ status: 0, words: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff] });
  });

  it('holds 38 nines (10^38 - 1 = 0x4B3B4CA8_5A86C47A_098A223F_FFFFFFFF)', () => {
    expect(fromText('9'.repeat(38), 0)).toEqual({
      status: 0,
      words: [0xffffffff, 0x098a223f, 0x5a86c47a, 0x4b3b4ca8],
    });
    expect(fromText(`${'9'.repeat(28)}.${'9'.repeat(10)}`, 10).words).toEqual([
      0xffffffff, 0x098a223f, 0x5a86c47a, 0x4b3b4ca8,
    ]);
  });

  it('reports NaN, ±Infinity and values that do not fit', () => {
    expect(fromText('NaN', 2).status).toBe(DecimalStatus.NaN);
    expect(fromText('Infinity', 2).status).toBe(DecimalStatus.Infinity);
    expect(fromText('-Infinity', 2).status).toBe(DecimalStatus.NegativeInfinity);
    expect(fromText('1.234', 2).status).toBe(DecimalStatus.Overflow);
    expect(fromText('1.230', 2)).toEqual({ status: 0, words: [123, 0, 0, 0] });
    expect(fromText('9'.repeat(40), 0).status).toBe(DecimalStatus.Overflow);
  });
});

describe('decimalFromBinary', () => {
  it('scales base-10000 digits exactly', () => {
    // 12345.678 = [1][2345].[6780], weight 1
    const v = numericBinary(1, 0, 3, [1, 2345, 6780]);
    expect(fromBinary(v, 3)).toEqual({ status: 0, words: [12345678, 0, 0, 0] });
    expect(fromBinary(v, 5)).toEqual({ status: 0, words: [1234567800, 0, 0, 0] });
    expect(fromBinary(v, 2).status).toBe(DecimalStatus.Overflow);
  });

  it('handles small fractions, negatives and 38 digits', () => {
    expect(fromBinary(numericBinary(-1, 0, 4, [1]), 4)).toEqual({ status: 0, words: [1, 0, 0, 0] }); // 0.0001
    expect(fromBinary(numericBinary(0, 0x4000, 0, [1]), 0).words).toEqual([
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
    ]);
    // 10^38 - 1 = 99 9999×9, weight 9
    const nines = numericBinary(9, 0, 0, [99, ...Array(9).fill(9999)]);
    expect(fromBinary(nines, 0).words).toEqual([0xffffffff, 0x098a223f, 0x5a86c47a, 0x4b3b4ca8]);
  });

  it('reports NaN and ±Infinity', () => {
    expect(fromBinary(numericBinary(0, 0xc000, 0, []), 2).status).toBe(DecimalStatus.NaN);
    expect(fromBinary(numericBinary(0, 0xd000, 0, []), 2).status).toBe(DecimalStatus.Infinity);
    expect(fromBinary(numericBinary(0, 0xf000, 0, []), 2).status).toBe(DecimalStatus.NegativeInfinity);
  });
});

describe('numericTextFromBinary', () => {
  it('renders as numeric_out does', () => {
    expect(numericTextFromBinary(numericBinary(1, 0, 3, [1, 2345, 6780]), 0)).toBe('12345.678');
    expect(numericTextFromBinary(numericBinary(-1, 0, 4, [1]), 0)).toBe('0.0001');
    expect(numericTextFromBinary(numericBinary(-8, 0, 30, [100]), 0)).toBe(`0.${'0'.repeat(29)}1`);
    expect(numericTextFromBinary(numericBinary(0, 0x4000, 4, [12, 3400]), 0)).toBe('-12.3400');
    expect(numericTextFromBinary(numericBinary(2, 0, 0, [1]), 0)).toBe('100000000');
    expect(numericTextFromBinary(numericBinary(0, 0, 0, []), 0)).toBe('0');
    expect(numericTextFromBinary(numericBinary(0, 0xc000, 0, []), 0)).toBe('NaN');
    expect(numericTextFromBinary(numericBinary(0, 0xf000, 0, []), 0)).toBe('-Infinity');
  });
});
