import { type Data, type DataType, Type } from 'apache-arrow';

/**
 * JSON text of list values (Postgres arrays), for ARRAY columns: Snowflake
 * gets `PARSE_JSON(text)`, which keeps up to 38 digits exactly. Values are
 * read from the Arrow buffers, never through JS `number` where precision
 * would be lost: int8 and numeric are printed digit for digit, timestamps as
 * ISO text with microseconds, bytea as hex, json elements embedded as is.
 */
export function listToJsonText(data: Data, index: number, elementTypeName: string): string | null {
  if (!isValid(data, index)) return null;
  const offsets = data.valueOffsets as Int32Array;
  const child = data.children[0]!;
  // Arrow JS slices value and offset buffers; only validity bitmaps keep `data.offset`.
  const start = offsets[index]!;
  const end = offsets[index + 1]!;
  const parts: string[] = [];
  for (let i = start; i < end; i++) parts.push(elementJson(child, i, elementTypeName));
  return `[${parts.join(',')}]`;
}

function isValid(data: Data, index: number): boolean {
  return data.getValid(index);
}

function elementJson(data: Data, index: number, typeName: string): string {
  if (!isValid(data, index)) return 'null';
  const type: DataType = data.type;
  const i = index;
  switch (type.typeId) {
    case Type.List:
      return listToJsonText(data, index, typeName) ?? 'null';
    case Type.Bool: {
      const v = data.values as Uint8Array;
      const bit = data.offset + i;
      return ((v[bit >> 3]! >> (bit & 7)) & 1) === 1 ? 'true' : 'false';
    }
    case Type.Int:
      return String((data.values as ArrayLike<number | bigint>)[i]);
    case Type.Float: {
      const f = Number((data.values as ArrayLike<number>)[i]);
      return Number.isFinite(f) ? String(f) : JSON.stringify(String(f));
    }
    case Type.Decimal:
      return decimalText(data.values as Uint32Array, i, (type as unknown as { scale: number }).scale);
    case Type.Utf8:
    case Type.LargeUtf8: {
      const text = utf8At(data, i);
      return /json/.test(typeName) ? text : JSON.stringify(text);
    }
    case Type.Dictionary: {
      const key = Number((data.values as ArrayLike<number | bigint>)[i]);
      const dict = data.dictionary?.data[0];
      return dict ? elementJson(dict, key, typeName) : 'null';
    }
    case Type.Binary:
      return JSON.stringify(Buffer.from(bytesAt(data, i)).toString('hex'));
    case Type.Date:
      return JSON.stringify(dateText(Number((data.values as Int32Array)[i])));
    case Type.Timestamp: {
      const tz = (type as unknown as { timezone?: string | null }).timezone;
      return JSON.stringify(timestampText((data.values as BigInt64Array)[i]!, !!tz));
    }
    case Type.Time:
      return JSON.stringify(timeText(BigInt((data.values as ArrayLike<number | bigint>)[i]!)));
    default:
      return JSON.stringify(String(data.type));
  }
}

function bytesAt(data: Data, i: number): Uint8Array {
  const offsets = data.valueOffsets as Int32Array;
  return (data.values as Uint8Array).subarray(offsets[i]!, offsets[i + 1]!);
}

function utf8At(data: Data, i: number): string {
  return Buffer.from(bytesAt(data, i)).toString('utf8');
}

/** Exact decimal text of a Decimal128 value (four little-endian 32-bit words, two's complement). */
export function decimalText(words: Uint32Array, index: number, scale: number): string {
  let v = 0n;
  for (let w = 3; w >= 0; w--) v = (v << 32n) | BigInt(words[index * 4 + w]!);
  if (v >= 1n << 127n) v -= 1n << 128n;
  const negative = v < 0n;
  let digits = (negative ? -v : v).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return negative ? `-${digits}` : digits;
}

const US_PER_DAY = 86_400_000_000n;

/**
 * ISO 8601 date text, proleptic Gregorian with astronomical years: `2024-02-29`,
 * `-0043-03-15` (44 BC), `+10000-01-01` (years beyond 9999 carry a sign).
 */
function dateText(days: number): string {
  const d = new Date(days * 86_400_000);
  const y = d.getUTCFullYear();
  const year = y < 0 ? `-${pad(-y, 4)}` : y > 9999 ? `+${y}` : pad(y, 4);
  return `${year}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

const pad = (v: number, width: number) => String(v).padStart(width, '0');

function timeText(us: bigint): string {
  const s = us / 1_000_000n;
  const frac = (us % 1_000_000n).toString().padStart(6, '0');
  const hh = (s / 3600n).toString().padStart(2, '0');
  const mm = ((s / 60n) % 60n).toString().padStart(2, '0');
  const ss = (s % 60n).toString().padStart(2, '0');
  return `${hh}:${mm}:${ss}.${frac}`;
}

function timestampText(us: bigint, utc: boolean): string {
  let days = us / US_PER_DAY;
  let rest = us % US_PER_DAY;
  if (rest < 0n) {
    rest += US_PER_DAY;
    days -= 1n;
  }
  return `${dateText(Number(days))}T${timeText(rest)}${utc ? 'Z' : ''}`;
}
