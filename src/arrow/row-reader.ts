import { type Data, type DataType, type RecordBatch, Type } from 'apache-arrow';
import { civilFromDays } from './temporal-codec.js';

const utf8 = new TextDecoder();
const US_PER_DAY = 86_400_000_000n;
const US_PER_SECOND = 1_000_000n;

/**
 * Reads row `index` of a record batch as a plain object (column name →
 * value), exactly: int8 and `_etl_lsn` → `bigint`, numeric → exact decimal
 * `string`, timestamps → ISO 8601 text with microseconds (`Z` for
 * timestamptz; years outside 0000–9999 as ±YYYYYY, astronomical), date →
 * `YYYY-MM-DD` (`YYYY-MM-DD BC` before year 1, as PostgreSQL prints it), time
 * → `HH:MM:SS.ffffff`, bytea → `Uint8Array`, lists → arrays, `_etl_unchanged`
 * → `string[] | null`. Used by the convenience view `ChangeBatch.rows()`;
 * never on the hot path.
 */
export function readRow(batch: RecordBatch, index: number): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  batch.schema.fields.forEach((field, i) => {
    const data = batch.data.children[i];
    row[field.name] = data ? valueAt(data, index) : null;
  });
  return row;
}

/** The exact friendly value of element `i` of `data` (see {@link readRow}). */
export function valueAt(data: Data, i: number): unknown {
  if (!data.getValid(i)) return null;
  const type: DataType = data.type;
  switch (type.typeId) {
    case Type.Bool: {
      const bit = data.offset + i;
      return ((data.values[bit >> 3] >> (bit & 7)) & 1) === 1;
    }
    case Type.Int:
    case Type.Float:
      return data.values[i];
    case Type.Decimal:
      return decimalText(data.values as Uint32Array, i, (type as unknown as { scale: number }).scale);
    case Type.Utf8:
      return utf8.decode(bytesAt(data, i));
    case Type.Binary:
      return bytesAt(data, i).slice();
    case Type.Date:
      return dateText(Number(data.values[i]));
    case Type.Time:
      return clockText(BigInt(data.values[i]));
    case Type.Timestamp:
      return timestampText(
        BigInt(data.values[i]),
        Boolean((type as unknown as { timezone?: string | null }).timezone),
      );
    case Type.List: {
      const offsets = data.valueOffsets as Int32Array;
      const child = data.children[0]!;
      const out: unknown[] = [];
      for (let k = offsets[i]!; k < offsets[i + 1]!; k++) out.push(valueAt(child, k));
      return out;
    }
    case Type.Dictionary: {
      const dict = data.dictionary?.data[0];
      return dict ? valueAt(dict, Number(data.values[i])) : null;
    }
    default:
      return null;
  }
}

function bytesAt(data: Data, i: number): Uint8Array {
  const offsets = data.valueOffsets as Int32Array;
  return (data.values as Uint8Array).subarray(offsets[i]!, offsets[i + 1]!);
}

/** Exact decimal text of a Decimal128 (four little-endian 32-bit words, two's complement). */
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

const pad = (n: number | bigint, width: number): string => String(n).padStart(width, '0');

function dateText(days: number): string {
  const { year, month, day } = civilFromDays(days);
  if (year >= 1) return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
  return `${pad(1 - year, 4)}-${pad(month, 2)}-${pad(day, 2)} BC`;
}

function isoDate(days: number): string {
  const { year, month, day } = civilFromDays(days);
  const y = year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`;
  return `${y}-${pad(month, 2)}-${pad(day, 2)}`;
}

function clockText(us: bigint): string {
  const s = us / US_PER_SECOND;
  return `${pad(s / 3600n, 2)}:${pad((s / 60n) % 60n, 2)}:${pad(s % 60n, 2)}.${pad(us % US_PER_SECOND, 6)}`;
}

function timestampText(us: bigint, utc: boolean): string {
  let days = us / US_PER_DAY;
  let rest = us % US_PER_DAY;
  if (rest < 0n) {
    rest += US_PER_DAY;
    days -= 1n;
  }
  return `${isoDate(Number(days))}T${clockText(rest)}${utc ? 'Z' : ''}`;
}
