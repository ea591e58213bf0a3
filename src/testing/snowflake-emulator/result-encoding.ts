/**
 * Encodes engine results in the JSON rowset format `snowflake-sdk` parses
 * (lib/connection/result/column.js): a `rowtype` entry per column (Snowflake
 * type name, precision, scale, length) and every cell as a string —
 * decimals as text, dates as days since the epoch, times and timestamps as
 * seconds with a 9-digit fraction, TIMESTAMP_TZ followed by its offset
 * (minutes + 1440), binary as upper-case hex, semi-structured values as JSON.
 */
import type { DuckDBType } from '@duckdb/node-api';
import { decodeName } from './names.js';

/** One column of a result, as the driver reads it. */
export interface RowType {
  readonly name: string;
  readonly type: string;
  readonly precision: number | null;
  readonly scale: number | null;
  readonly length: number | null;
  readonly byteLength: number | null;
  readonly nullable: boolean;
  readonly database: string;
  readonly schema: string;
  readonly table: string;
  readonly collation: null;
}

/** A result ready to send. */
export interface EncodedResult {
  readonly rowtype: RowType[];
  readonly rowset: (string | null)[][];
}

type Encoder = (v: unknown) => string | null;

/** A text column (status rows, SHOW output). */
export function textColumn(name: string): RowType {
  return column(name, 'text', { length: 16_777_216, byteLength: 16_777_216 });
}

/** A NUMBER(38,0) column. */
export function fixedColumn(name: string): RowType {
  return column(name, 'fixed', { precision: 38, scale: 0 });
}

function column(name: string, type: string, extra: Partial<RowType> = {}): RowType {
  return {
    name,
    type,
    precision: null,
    scale: null,
    length: null,
    byteLength: null,
    nullable: true,
    database: '',
    schema: '',
    table: '',
    collation: null,
    ...extra,
  };
}

/** Encodes rows read from the engine. `timezone` is the session's TIMEZONE (for TIMESTAMP_TZ offsets). */
export function encodeRows(
  names: readonly string[],
  types: readonly DuckDBType[],
  rows: readonly (readonly unknown[])[],
  timezone: string,
): EncodedResult {
  const cols = types.map((t, i) => describe(decodeName(names[i]!), t, timezone));
  return {
    rowtype: cols.map((c) => c.rowtype),
    rowset: rows.map((row) => row.map((v, i) => (v === null || v === undefined ? null : cols[i]!.encode(v)))),
  };
}

function describe(name: string, t: DuckDBType, timezone: string): { rowtype: RowType; encode: Encoder } {
  const text = t.toString();
  if (t.alias === 'JSON') return { rowtype: column(name, 'variant'), encode: (v) => String(v) };
  const dec = /^DECIMAL\((\d+),(\d+)\)$/.exec(text);
  if (dec)
    return {
      rowtype: column(name, 'fixed', { precision: Number(dec[1]), scale: Number(dec[2]) }),
      encode: (v) => String(v),
    };
  if (/^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(text))
    return { rowtype: column(name, 'fixed', { precision: 38, scale: 0 }), encode: (v) => String(v) };
  if (text === 'DOUBLE' || text === 'FLOAT') return { rowtype: column(name, 'real'), encode: realText };
  if (text === 'BOOLEAN') return { rowtype: column(name, 'boolean'), encode: (v) => (v ? '1' : '0') };
  if (text === 'DATE')
    return { rowtype: column(name, 'date'), encode: (v) => String((v as { days: number }).days) };
  if (text === 'TIME')
    return {
      rowtype: column(name, 'time', { scale: 9, precision: 0 }),
      encode: (v) => secondsText((v as { micros: bigint }).micros * 1000n),
    };
  if (text === 'TIMESTAMP WITH TIME ZONE')
    return {
      rowtype: column(name, 'timestamp_tz', { scale: 9, precision: 0 }),
      encode: (v) => {
        const micros = (v as { micros: bigint }).micros;
        const offset = offsetMinutes(timezone, Number(micros / 1000n));
        return `${secondsText(micros * 1000n)} ${offset + 1440}`;
      },
    };
  if (text.startsWith('TIMESTAMP'))
    return { rowtype: column(name, 'timestamp_ntz', { scale: 9, precision: 0 }), encode: timestampText };
  if (text === 'BLOB')
    return {
      rowtype: column(name, 'binary', { length: 8_388_608, byteLength: 8_388_608 }),
      encode: (v) =>
        Buffer.from((v as { bytes: Uint8Array }).bytes)
          .toString('hex')
          .toUpperCase(),
    };
  if (text.endsWith(']')) return { rowtype: column(name, 'array'), encode: jsonText };
  if (text.startsWith('STRUCT') || text.startsWith('MAP'))
    return { rowtype: column(name, 'object'), encode: jsonText };
  return { rowtype: textColumn(name), encode: (v) => String(v) };
}

function realText(v: unknown): string {
  const n = Number(v);
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'inf';
  if (n === Number.NEGATIVE_INFINITY) return '-inf';
  return String(n);
}

/** `nanos` as seconds with a 9-digit fraction, exact: `-1` → `-0.000000001`. */
function secondsText(nanos: bigint): string {
  const neg = nanos < 0n;
  const abs = neg ? -nanos : nanos;
  return `${neg ? '-' : ''}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

function timestampText(v: unknown): string {
  const o = v as { micros?: bigint; nanos?: bigint; millis?: bigint; seconds?: bigint };
  if (o.nanos !== undefined) return secondsText(o.nanos);
  if (o.millis !== undefined) return secondsText(o.millis * 1_000_000n);
  if (o.seconds !== undefined) return secondsText(o.seconds * 1_000_000_000n);
  return secondsText((o.micros ?? 0n) * 1000n);
}

/** The UTC offset of a time zone at an instant, in minutes. */
export function offsetMinutes(timezone: string, epochMs: number): number {
  if (/^(UTC|GMT|Etc\/UTC|Z)$/i.test(timezone)) return 0;
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'longOffset' })
      .formatToParts(new Date(epochMs))
      .find((p) => p.type === 'timeZoneName')?.value;
    const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(part ?? '');
    if (!m) return 0;
    return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
  } catch {
    return 0;
  }
}

/** A nested engine value (list, struct, map) as JSON text; big integers and decimals stay exact. */
function jsonText(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : JSON.stringify(realText(v));
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.items)) return `[${(o.items as unknown[]).map(jsonText).join(',')}]`;
  if (Array.isArray(o.entries))
    return `{${(o.entries as { key: unknown; value: unknown }[])
      .map((e) => `${JSON.stringify(String(e.key))}:${jsonText(e.value)}`)
      .join(',')}}`;
  if (o.entries && typeof o.entries === 'object')
    return `{${Object.entries(o.entries as object)
      .map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`)
      .join(',')}}`;
  if ('width' in o && 'scale' in o) return String(v);
  if (o.bytes instanceof Uint8Array)
    return JSON.stringify(Buffer.from(o.bytes).toString('hex').toUpperCase());
  return JSON.stringify(String(v));
}
