import { describe, expect, it } from 'vitest';
import { EtlError } from '../../src/errors.js';
import { formatLsn, maxLsn, minLsn, parseLsn } from '../../src/lsn.js';

describe('lsn', () => {
  it('parses Postgres text form into a 64-bit position', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe(0x16n * 2n ** 32n + 0xb374d848n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(2n ** 64n - 1n);
    expect(parseLsn(' 1/a ')).toBe(2n ** 32n + 10n);
  });
  it('formats the way Postgres prints', () => {
    expect(formatLsn(0n)).toBe('0/0');
    expect(formatLsn(0x16n * 2n ** 32n + 0xb374d848n)).toBe('16/B374D848');
    expect(formatLsn(2n ** 32n)).toBe('1/0');
  });
  it('rejects text that is not an LSN with a hint', () => {
    for (const bad of ['', '16', '16/', 'G/1', '1/2/3', '123456789/0']) {
      expect(() => parseLsn(bad)).toThrowError(EtlError);
    }
    try {
      parseLsn('nope');
    } catch (err) {
      expect((err as EtlError).code).toBe('CONFIG_INVALID');
      expect((err as EtlError).hint).toMatch(/16\/B374D848/);
    }
  });
  it('orders positions', () => {
    expect(maxLsn(1n, 2n)).toBe(2n);
    expect(minLsn(1n, 2n)).toBe(1n);
  });
});
