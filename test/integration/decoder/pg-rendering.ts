/**
 * Test-side renderers: read a decoded Arrow value from its raw buffers and
 * compare it with PostgreSQL's own text output of the same value. Written
 * independently of the decoder (JS Date for the calendar, BigInt for
 * decimals and timestamps) so a shared bug cannot hide.
 */
import { type Data, Type } from 'apache-arrow';

const pad = (v: number | bigint, n: number) => String(v).padStart(n, '0');

function trimFraction(us: bigint): string {
  if (us === 0n) return '';
  return `.${pad(us, 6).replace(/0+$/, '')}`;
}

/** PostgreSQL's ISO rendering of a date given as days since 1970-01-01 (via JS Date, independent of the decoder). */
function pgDate(days: number): string {
  const d = new Date(days * 86_400_000);
  const year = d.getUTCFullYear();
  const md = `${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
  return year <= 0 ? `${pad(1 - year, 4)}-${md} BC` : `${pad(year, 4)}-${md}`;
}

function pgClock(us: bigint): string {
  const s = us / 1_000_000n;
  return `${pad(s / 3600n, 2)}:${pad((s / 60n) % 60n, 2)}:${pad(s % 60n, 2)}${trimFraction(us % 1_000_000n)}`;
}

function pgTimestamp(us: bigint, tz: boolean): string {
  const day = 86_400_000_000n;
  let days = us / day;
  let rest = us % day;
  if (rest < 0n) {
    rest += day;
    days -= 1n;
  }
  const date = pgDate(Number(days));
  const bc = date.endsWith(' BC');
  return `${bc ? date.slice(0, -3) : date} ${pgClock(rest)}${tz ? '+00' : ''}${bc ? ' BC' : ''}`;
}

function decimal(words: Uint32Array, i: number, scale: number): string {
  let v = 0n;
  for (let k = 0; k < 4; k++) v += BigInt(words[i * 4 + k]!) << BigInt(32 * k);
  v = BigInt.asIntN(128, v);
  const neg = v < 0n;
  const abs = (neg ? -v : v).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${abs.slice(0, abs.length - scale)}.${abs.slice(abs.length - scale)}` : abs;
  return neg ? `-${text}` : text;
}

function bytesAt(data: Data, i: number): Buffer {
  const o = data.valueOffsets as Int32Array;
  const v = data.values as Uint8Array;
  return Buffer.from(v.buffer, v.byteOffset + o[i]!, o[i + 1]! - o[i]!);
}

/**
 * Compares element `i` of `data` with PostgreSQL's text `expected` (null for
 * SQL NULL). Returns undefined when equal, else a description.
 */
export function compareScalar(data: Data, i: number, expected: string | null): string | undefined {
  const valid = data.getValid(i);
  if (expected === null) return valid ? 'expected NULL, got a value' : undefined;
  if (!valid) return `expected ${expected.slice(0, 80)}, got NULL`;
  let actual: string;
  switch (data.type.typeId) {
    case Type.Bool: {
      const bit = data.offset + i;
      actual = ((data.values as Uint8Array)[bit >> 3]! >> (bit & 7)) & 1 ? 't' : 'f';
      break;
    }
    case Type.Int:
      actual = String((data.values as ArrayLike<number | bigint>)[i]);
      break;
    case Type.Float: {
      const v = Number((data.values as ArrayLike<number>)[i]);
      const bits = (data.type as unknown as { precision: number }).precision;
      const e = bits === 1 ? Math.fround(Number(expected)) : Number(expected);
      return Object.is(v, e) || v === e ? undefined : `expected ${expected}, got ${v}`;
    }
    case Type.Decimal:
      actual = decimal(data.values as Uint32Array, i, (data.type as unknown as { scale: number }).scale);
      break;
    case Type.Utf8:
      actual = bytesAt(data, i).toString('utf8');
      break;
    case Type.Binary:
      actual = `\\x${bytesAt(data, i).toString('hex')}`;
      break;
    case Type.Date:
      actual = pgDate((data.values as Int32Array)[i]!);
      break;
    case Type.Time:
      actual = pgClock(BigInt((data.values as BigInt64Array)[i]!));
      break;
    case Type.Timestamp:
      actual = pgTimestamp(
        (data.values as BigInt64Array)[i]!,
        Boolean((data.type as unknown as { timezone?: string }).timezone),
      );
      break;
    default:
      return `unexpected Arrow type ${data.type}`;
  }
  return actual === expected
    ? undefined
    : `expected ${expected.slice(0, 120)} (${expected.length}), got ${actual.slice(0, 120)} (${actual.length})`;
}

/** Lengths per dimension and the flattened elements of list value `i`. */
export function flattenList(data: Data, i: number): { dims: number[]; leaf: Data; indexes: number[] } {
  const dims: number[] = [];
  let level = data;
  let from = i;
  let to = i + 1;
  while (level.type.typeId === Type.List) {
    const o = level.valueOffsets as Int32Array;
    if (to > from) dims.push(o[from + 1]! - o[from]!);
    const nextFrom = o[from]!;
    const nextTo = o[to]!;
    from = nextFrom;
    to = nextTo;
    level = level.children[0]!;
  }
  const indexes: number[] = [];
  for (let k = from; k < to; k++) indexes.push(k);
  return { dims: dims.length && dims[0] === 0 ? [] : dims, leaf: level, indexes };
}

/** `[0:1][1:2]` → [2, 2]; null (empty array) → []. */
export function parseArrayDims(text: string | null): number[] {
  if (!text) return [];
  return [...text.matchAll(/\[(-?\d+):(-?\d+)\]/g)].map((m) => Number(m[2]) - Number(m[1]) + 1);
}
