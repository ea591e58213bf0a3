/**
 * Exact date and time arithmetic for PostgreSQL values: civil dates (the
 * proleptic Gregorian calendar, year 0 = 1 BC, as PostgreSQL uses) to days
 * since the Unix epoch and back, and 64-bit microsecond counts kept as two
 * 32-bit words so nothing passes through an inexact JS `number` or a
 * per-value `bigint`.
 */

/** Days from 1970-01-01 to 2000-01-01, the PostgreSQL epoch: 30 years, 7 of them leap years. */
export const PG_EPOCH_DAYS = 10_957;
/** Microseconds from the Unix epoch to the PostgreSQL epoch (10 957 days × 86 400 000 000). */
export const PG_EPOCH_MICROS = 946_684_800_000_000;
const TWO_32 = 4_294_967_296;
const TWO_22 = 4_194_304;

/** Days since 1970-01-01 of a proleptic Gregorian date (astronomical year: 1 BC = 0). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The proleptic Gregorian date of a day count since 1970-01-01 (astronomical year). */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/**
 * Writes the 64-bit integer `seconds × 1 000 000 + micros` as two little-endian
 * 32-bit words at `words[at]`, `words[at + 1]`. `seconds` may be negative,
 * `0 ≤ micros < 1 000 000`. Returns false (writing nothing) when it does not
 * fit in a signed 64-bit integer.
 */
export function writeMicros(words: Int32Array, at: number, seconds: number, micros: number): boolean {
  const sh = Math.floor(seconds / TWO_22);
  const sl = seconds - sh * TWO_22;
  let a = sh * 1_000_000;
  const b = sl * 1_000_000 + micros;
  const bh = Math.floor(b / TWO_22);
  const bl = b - bh * TWO_22;
  a += bh;
  const hi = Math.floor(a / 1024);
  const lo = (a - hi * 1024) * TWO_22 + bl;
  if (hi > 0x7fffffff || hi < -0x80000000) return false;
  words[at] = lo | 0;
  words[at + 1] = hi;
  return true;
}

/** Writes a safe integer as a little-endian 64-bit two's complement pair of words. */
export function writeInt64(words: Int32Array, at: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  words[at] = (value - hi * TWO_32) | 0;
  words[at + 1] = hi | 0;
}

/** Parsed pieces of a text date/timestamp; a reused scratch object (no allocation per value). */
export interface ParsedTemporal {
  /** 0: finite, 1: +infinity, -1: -infinity, 2: not parseable. */
  status: number;
  /** Days since 1970-01-01 (dates) or seconds since 1970-01-01T00:00:00 UTC (timestamps). */
  whole: number;
  /** Microseconds within the second, 0..999 999. */
  micros: number;
}

const scratch: ParsedTemporal = { status: 0, whole: 0, micros: 0 };
let pos = 0;

function digits(buf: Uint8Array, end: number): number {
  let n = 0;
  let c = buf[pos]!;
  while (pos < end && c >= 48 && c <= 57) {
    n = n * 10 + (c - 48);
    c = buf[++pos]!;
  }
  return n;
}

function special(buf: Uint8Array, start: number): number {
  const c = buf[start];
  if (c === 0x69 /* i */) return 1;
  if (c === 0x2d /* - */ && buf[start + 1] === 0x69) return -1;
  return 0;
}

function isBc(buf: Uint8Array, end: number): boolean {
  // " BC" suffix
  return end - pos >= 3 && buf[end - 2] === 0x42 && buf[end - 1] === 0x43;
}

function parseDatePart(buf: Uint8Array, start: number, end: number): number {
  pos = start;
  let year = digits(buf, end);
  pos++; // '-'
  const month = digits(buf, end);
  pos++;
  const day = digits(buf, end);
  if (isBc(buf, end)) year = 1 - year;
  return daysFromCivil(year, month, day);
}

/** Parses an ISO `date` text (`2024-02-29`, `0044-03-15 BC`, `infinity`). */
export function parseDateText(buf: Uint8Array, start: number, end: number): ParsedTemporal {
  const inf = special(buf, start);
  scratch.status = inf;
  scratch.micros = 0;
  if (inf === 0) scratch.whole = parseDatePart(buf, start, end);
  return scratch;
}

function parseClock(buf: Uint8Array, end: number): number {
  const h = digits(buf, end);
  pos++; // ':'
  const m = digits(buf, end);
  pos++;
  const s = digits(buf, end);
  let micros = 0;
  if (buf[pos] === 0x2e /* . */ && pos < end) {
    pos++;
    let scale = 100_000;
    let c = buf[pos]!;
    while (pos < end && c >= 48 && c <= 57) {
      micros += (c - 48) * scale;
      scale /= 10;
      c = buf[++pos]!;
    }
  }
  scratch.micros = micros;
  return h * 3600 + m * 60 + s;
}

/** Parses a `time` text (`13:45:00.123456`, `24:00:00`) into microseconds since midnight. */
export function parseTimeText(buf: Uint8Array, start: number, end: number): number {
  pos = start;
  const seconds = parseClock(buf, end);
  return seconds * 1_000_000 + scratch.micros;
}

/**
 * Parses an ISO `timestamp`/`timestamptz` text (`2024-02-29 13:45:00.5+05:30`,
 * `0044-03-15 12:00:00+00 BC`, `infinity`) into seconds since the Unix epoch
 * (UTC, offset applied) and microseconds.
 */
export function parseTimestampText(buf: Uint8Array, start: number, end: number): ParsedTemporal {
  const inf = special(buf, start);
  scratch.status = inf;
  if (inf !== 0) return scratch;
  const days = parseDatePart(buf, start, end);
  pos++; // ' '
  let seconds = days * 86_400 + parseClock(buf, end);
  const sign = buf[pos];
  if (pos < end && (sign === 0x2b || sign === 0x2d)) {
    pos++;
    let offset = digits(buf, end) * 3600;
    if (buf[pos] === 0x3a && pos < end) {
      pos++;
      offset += digits(buf, end) * 60;
      if (buf[pos] === 0x3a && pos < end) {
        pos++;
        offset += digits(buf, end);
      }
    }
    seconds -= sign === 0x2b ? offset : -offset;
  }
  scratch.whole = seconds;
  return scratch;
}
