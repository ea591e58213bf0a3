/**
 * Calendar and microsecond arithmetic. Expected day counts come from
 * PostgreSQL (`date - '1970-01-01'`) and hand arithmetic, not from the code.
 */
import { describe, expect, it } from 'vitest';
import {
  civilFromDays,
  daysFromCivil,
  parseDateText,
  parseTimestampText,
  parseTimeText,
  writeMicros,
} from '../../../src/arrow/temporal-codec.js';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('days since the Unix epoch', () => {
  const cases: [y: number, m: number, d: number, days: number][] = [
    [1970, 1, 1, 0],
    [1969, 12, 31, -1],
    [2000, 1, 1, 10_957], // 30 × 365 + 7 leap days
    [2024, 2, 29, 19_782], // 54 × 365 + 13 leap days + 31 + 28
    [1, 1, 1, -719_162],
    [0, 12, 31, -719_163], // 1 BC
    [-43, 3, 15, -735_160], // 44 BC
    [9999, 12, 31, 2_932_896], // 10 000-01-01 minus a day: 8030 years of 365.2425 days - 1
  ];
  it.each(cases)('%i-%i-%i is day %i, and back', (y, m, d, days) => {
    expect(daysFromCivil(y, m, d)).toBe(days);
    expect(civilFromDays(days)).toEqual({ year: y, month: m, day: d });
  });

  it('parses ISO date text including BC and infinity', () => {
    const p = (s: string) => {
      const r = parseDateText(ascii(s), 0, s.length);
      return r.status === 0 ? r.whole : r.status;
    };
    expect(p('2024-02-29')).toBe(19_782);
    expect(p('0044-03-15 BC')).toBe(-735_160);
    expect(p('infinity')).toBe(1);
    expect(p('-infinity')).toBe(-1);
  });
});

describe('timestamps and times', () => {
  it('parses text with fractions, offsets and BC', () => {
    const ts = (s: string) => {
      const r = parseTimestampText(ascii(s), 0, s.length);
      return [r.whole, r.micros];
    };
    // 19782 days × 86400 + 12 h − 5 h 30 m
    expect(ts('2024-02-29 12:00:00.5+05:30')).toEqual([1_709_188_200, 500_000]);
    expect(ts('1969-12-31 23:59:59.999999')).toEqual([-1, 999_999]);
    expect(ts('2020-01-01 12:00:00+05:53:28')).toEqual([1_577_880_000 - 21_208, 0]);
    // PostgreSQL: extract(epoch from '0044-03-15 01:02:03.000001 BC') × 10^6 = -63517820276999999
    expect(ts('0044-03-15 01:02:03.000001 BC')).toEqual([-63_517_820_277, 1]);
  });

  it('parses time text up to 24:00:00', () => {
    expect(parseTimeText(ascii('24:00:00'), 0, 8)).toBe(86_400_000_000);
    expect(parseTimeText(ascii('12:34:56.5'), 0, 10)).toBe(45_296_500_000);
  });

  it('writes exact 64-bit microseconds and refuses overflow', () => {
    const w = new Int32Array(2);
    const as64 = () => new BigInt64Array(w.buffer)[0];
    expect(writeMicros(w, 0, -1, 999_999)).toBe(true);
    expect(as64()).toBe(-1n);
    expect(writeMicros(w, 0, -63_517_820_277, 1)).toBe(true);
    expect(as64()).toBe(-63_517_820_276_999_999n);
    expect(writeMicros(w, 0, 9_223_372_036_854, 775_807)).toBe(true);
    expect(as64()).toBe(9_223_372_036_854_775_807n);
    expect(writeMicros(w, 0, 9_223_372_036_854, 775_808)).toBe(false);
    expect(writeMicros(w, 0, -9_223_372_036_855, 224_192)).toBe(true);
    expect(as64()).toBe(-9_223_372_036_854_775_808n);
    expect(writeMicros(w, 0, -9_223_372_036_855, 224_191)).toBe(false);
  });
});
