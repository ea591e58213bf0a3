/**
 * Canonical text of a value, so a PostgreSQL value and its Snowflake copy can
 * be compared as strings. Written for the tests only, independently of the
 * destination's code:
 *
 * - integers and fixed-scale numerics: the exact decimal, without leading or
 *   trailing zeros (`1.10` → `1.1`, `-0` → `0`);
 * - unconstrained numerics (VARCHAR in Snowflake, DESIGN §4): the exact text;
 * - floats: the shortest text that round-trips the double (`NaN`,
 *   `Infinity`, `-Infinity`; `-0` equals `0`);
 * - dates: ISO `YYYY-MM-DD`, astronomical years (`0044-03-15 BC` →
 *   `-0043-03-15`); times `HH:MM:SS.ffffff`; timestamps
 *   `YYYY-MM-DDTHH:MM:SS.ffffff`, in UTC with a `Z` for timestamptz;
 * - binary: lower-case hex; JSON: compact, keys sorted, numbers exact;
 * - arrays: nested JSON arrays of the canonical text of their elements.
 */

/** How a column's values are compared (decided from the PostgreSQL type). */
export type Kind =
  | 'bool'
  | 'int'
  | 'float'
  | 'decimal'
  | 'numeric-text'
  | 'text'
  | 'bytea'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'json';

/** Exact decimal text without leading/trailing zeros; accepts exponents (`-1.5e3` → `-1500`). */
export function normDecimal(text: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`not a decimal: ${text.slice(0, 60)}`);
  let digits = `${m[2]}${m[3] ?? ''}`;
  let point = m[2]!.length + Number(m[4] ?? '0');
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const int = digits.slice(0, point).replace(/^0+/, '') || '0';
  const frac = digits.slice(point).replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return m[1] === '-' && body !== '0' ? `-${body}` : body;
}

/**
 * A double as the shortest round-trip text; special values spelled out.
 * `-0` and `0` are equal here (IEEE 754 equality): the emulator's result
 * encoding sends both as `0`, and what Snowflake's does is not known.
 */
export function renderFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return 'Infinity';
  if (v === Number.NEGATIVE_INFINITY) return '-Infinity';
  return String(v);
}

const pad = (v: number | bigint, n: number) => String(v).padStart(n, '0');
const US_PER_DAY = 86_400_000_000n;

/** ISO date of `days` since 1970-01-01 (proleptic Gregorian, astronomical year). */
export function isoDate(days: bigint | number): string {
  const d = new Date(Number(days) * 86_400_000);
  const y = d.getUTCFullYear();
  const year = y < 0 ? `-${pad(-y, 4)}` : y > 9999 ? `+${y}` : pad(y, 4);
  return `${year}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

/** `HH:MM:SS.ffffff` of microseconds since midnight (24:00:00 allowed). */
export function isoTime(us: bigint): string {
  const s = us / 1_000_000n;
  return `${pad(s / 3600n, 2)}:${pad((s / 60n) % 60n, 2)}:${pad(s % 60n, 2)}.${pad(us % 1_000_000n, 6)}`;
}

/** ISO timestamp of microseconds since the epoch; `utc` appends `Z`. */
export function isoTimestamp(us: bigint, utc: boolean): string {
  let days = us / US_PER_DAY;
  let rest = us % US_PER_DAY;
  if (rest < 0n) {
    rest += US_PER_DAY;
    days -= 1n;
  }
  return `${isoDate(days)}T${isoTime(rest)}${utc ? 'Z' : ''}`;
}

// ── JSON with exact numbers ────────────────────────────────────────────────

/** A parsed JSON value whose numbers keep their text. */
export type Json = null | boolean | string | { num: string } | Json[] | { obj: [string, Json][] };

/** Parses JSON, keeping every number's text (no precision lost). */
export function parseJson(text: string): Json {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`bad JSON (${what}) at ${i}: ${text.slice(Math.max(0, i - 20), i + 20)}`);
  };
  const value = (): Json => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: [string, Json][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { obj };
      }
      for (;;) {
        ws();
        const key = value();
        if (typeof key !== 'string') fail('key');
        ws();
        if (text[i++] !== ':') fail('colon');
        obj.push([key as string, value()]);
        ws();
        const sep = text[i++];
        if (sep === '}') return { obj };
        if (sep !== ',') fail('object separator');
      }
    }
    if (c === '[') {
      i++;
      const arr: Json[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        const sep = text[i++];
        if (sep === ']') return arr;
        if (sep !== ',') fail('array separator');
      }
    }
    if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      return JSON.parse(text.slice(start, i)) as string;
    }
    const lit = /^(true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 100_000));
    if (!lit) return fail('value');
    i += lit[0].length;
    if (lit[0] === 'true') return true;
    if (lit[0] === 'false') return false;
    if (lit[0] === 'null') return null;
    return { num: lit[0] };
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing text');
  return v;
}

/** Compact JSON text: keys sorted, numbers exact and normalised. */
export function canonJson(v: Json): string {
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonJson).join(',')}]`;
  if ('num' in v) return normDecimal(v.num);
  const entries = [...v.obj].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonJson(x)}`).join(',')}}`;
}

// ── PostgreSQL side ────────────────────────────────────────────────────────

/** SQL rendering `x` (a value of a column of `kind`) as the text {@link fromPostgres} reads. */
export function pgExpression(kind: Kind, x: string): string {
  switch (kind) {
    case 'float':
      return `${x}::float8::text`;
    case 'bytea':
      return `encode(${x}, 'hex')`;
    case 'date':
      return `(${x} - date '1970-01-01')::text`;
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return `(extract(epoch FROM ${x}) * 1000000)::numeric(30,0)::text`;
    default:
      // The type's output function (bpchar keeps its padding, unlike a cast to text).
      return `CASE WHEN ${x} IS NULL THEN NULL ELSE format('%s', ${x}) END`;
  }
}

/** Canonical text of a PostgreSQL value rendered by {@link pgExpression}. */
export function fromPostgres(kind: Kind, text: string): string {
  switch (kind) {
    case 'bool':
      return text === 'true' || text === 't' ? 'true' : 'false';
    case 'int':
    case 'decimal':
      return normDecimal(text);
    case 'float':
      return renderFloat(Number(text));
    case 'bytea':
      return text.toLowerCase();
    case 'date':
      return isoDate(BigInt(text));
    case 'time':
      return isoTime(BigInt(text));
    case 'timestamp':
      return isoTimestamp(BigInt(text), false);
    case 'timestamptz':
      return isoTimestamp(BigInt(text), true);
    case 'json':
      return canonJson(parseJson(text));
    default:
      return text;
  }
}

/** SQL rendering an array column as `{dims, elems}` JSON: PostgreSQL's own dimensions and element text. */
export function pgArrayExpression(kind: Kind, col: string): string {
  return (
    `CASE WHEN ${col} IS NULL THEN NULL ELSE json_build_object('dims', array_dims(${col}), 'elems', ` +
    `(SELECT json_agg(CASE WHEN x IS NULL THEN NULL ELSE ${pgExpression(kind, 'x')} END ORDER BY o) ` +
    `FROM unnest(${col}) WITH ORDINALITY AS u(x, o)))::text END`
  );
}

type Nested = (string | null | Nested)[];

/** Canonical text of an array rendered by {@link pgArrayExpression}: nested JSON arrays. */
export function arrayFromPostgres(kind: Kind, text: string): string {
  const { dims, elems } = JSON.parse(text) as { dims: string | null; elems: (string | null)[] | null };
  if (!dims || !elems) return '[]';
  const lengths = [...dims.matchAll(/\[(-?\d+):(-?\d+)\]/g)].map((m) => Number(m[2]) - Number(m[1]) + 1);
  const leaves = elems.map((e) => (e === null ? null : fromPostgres(kind, e)));
  let k = 0;
  const build = (level: number): Nested => {
    const out: Nested = [];
    for (let n = 0; n < lengths[level]!; n++)
      out.push(level === lengths.length - 1 ? leaves[k++]! : build(level + 1));
    return out;
  };
  return JSON.stringify(build(0));
}

// ── Snowflake side (values as the emulator sends them on the wire) ─────────

/** `"1704067200.123456000"` (seconds with a 9-digit fraction) → microseconds, refusing lost digits. */
function wireMicros(text: string): bigint {
  const m = /^(-?)(\d+)\.(\d{9})$/.exec(text.trim());
  if (!m) throw new Error(`not seconds.fraction: ${text}`);
  const nanos = BigInt(m[2]!) * 1_000_000_000n + BigInt(m[3]!);
  if (nanos % 1000n !== 0n) throw new Error(`sub-microsecond digits: ${text}`);
  return (m[1] === '-' ? -nanos : nanos) / 1000n;
}

/** Canonical text of a Snowflake value as the driver receives it (JSON rowset cell). */
export function fromSnowflake(kind: Kind, text: string): string {
  switch (kind) {
    case 'bool':
      return text === '1' || text.toLowerCase() === 'true' ? 'true' : 'false';
    case 'int':
    case 'decimal':
      return normDecimal(text);
    case 'float':
      return renderFloat(
        text === 'inf' ? Number.POSITIVE_INFINITY : text === '-inf' ? -Infinity : Number(text),
      );
    case 'bytea':
      return text.toLowerCase();
    case 'date':
      return isoDate(BigInt(text));
    case 'time':
      return isoTime(wireMicros(text));
    case 'timestamp':
      return isoTimestamp(wireMicros(text), false);
    case 'timestamptz':
      return isoTimestamp(wireMicros(text.split(' ')[0]!), true);
    case 'json':
      return canonJson(parseJson(text));
    default:
      return text;
  }
}

/** Canonical text of one element of a Snowflake ARRAY (a JSON value). */
function elementFromSnowflake(kind: Kind, v: Json): string | null {
  if (v === null) return null;
  const asText = (): string => {
    if (typeof v !== 'string')
      throw new Error(`expected a JSON string for a ${kind} element, got ${canonJson(v)}`);
    return v;
  };
  switch (kind) {
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`expected a JSON boolean, got ${canonJson(v)}`);
      return String(v);
    case 'int':
    case 'decimal':
      if (typeof v !== 'object' || !('num' in v))
        throw new Error(`expected a JSON number, got ${canonJson(v)}`);
      return normDecimal(v.num);
    case 'float':
      return renderFloat(Number(typeof v === 'object' && 'num' in v ? v.num : asText()));
    case 'bytea':
      return asText().toLowerCase();
    case 'json':
      return canonJson(v);
    default:
      return asText();
  }
}

/** Canonical text of a Snowflake ARRAY value (JSON text). */
export function arrayFromSnowflake(kind: Kind, text: string): string {
  const walk = (v: Json): string | null | Nested =>
    Array.isArray(v) ? v.map(walk) : elementFromSnowflake(kind, v);
  const parsed = parseJson(text);
  if (!Array.isArray(parsed)) throw new Error(`not an ARRAY: ${text.slice(0, 80)}`);
  return JSON.stringify(walk(parsed));
}
