/**
 * Log sequence numbers. An LSN is a 64-bit position in the PostgreSQL WAL; we
 * carry it as a `bigint` everywhere, and print it the way Postgres does
 * (`16/B374D848`).
 */
import { EtlError } from './errors.js';

/** A WAL position. */
export type Lsn = bigint;

/** The zero LSN (`0/0`): "nothing yet". */
export const ZERO_LSN: Lsn = 0n;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parses Postgres's `X/Y` text form. Throws a clear error on anything else. */
export function parseLsn(text: string): Lsn {
  const m = LSN_TEXT.exec(text.trim());
  if (!m) {
    throw new EtlError('CONFIG_INVALID', `Not an LSN: ${JSON.stringify(text)}`, {
      hint: 'An LSN looks like 16/B374D848 (two hex numbers separated by a slash).',
    });
  }
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats an LSN as Postgres prints it (upper-case hex, no leading zeros). */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The larger of two LSNs. */
export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}

/** The smaller of two LSNs. */
export function minLsn(a: Lsn, b: Lsn): Lsn {
  return a < b ? a : b;
}
