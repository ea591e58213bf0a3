/**
 * The demo's verdict: every row of every demo table, value by value, in
 * PostgreSQL and in DuckDB. Each side renders each column as canonical text
 * in its own SQL (numerics exact, timestamps in UTC with microseconds, jsonb
 * in PostgreSQL's normal form, booleans as true/false), then the two row sets
 * are matched by primary key and compared column by column.
 */
import type pg from 'pg';

/** Runs a query on the DuckDB file (the destination's `query()`): JSON-safe rows. */
export type DuckQuery = (sql: string, params?: readonly string[]) => Promise<Record<string, unknown>[]>;

/** One value that differs. */
export interface ValueMismatch {
  readonly key: string;
  readonly column: string;
  readonly source: string | null;
  readonly destination: string | null;
}

/** The comparison of one table. */
export interface TableComparison {
  readonly table: string;
  /** Columns compared: the table's columns now (added ones included, dropped ones gone). */
  readonly columns: readonly string[];
  /** DuckDB columns the source no longer has (dropped at the source), not compared. */
  readonly ignored: readonly string[];
  readonly sourceRows: number;
  readonly destinationRows: number;
  /** Keys in PostgreSQL but not in DuckDB. */
  readonly missing: readonly string[];
  /** Keys in DuckDB but not in PostgreSQL (rows that should have been deleted). */
  readonly extra: readonly string[];
  /** Keys DuckDB holds more than once. */
  readonly duplicates: readonly string[];
  /** Rows present on both sides with at least one differing value. */
  readonly differingRows: number;
  /** Every differing value (of those rows). */
  readonly mismatches: readonly ValueMismatch[];
  /** Values compared (rows on both sides × columns). */
  readonly valuesCompared: number;
  /** The last row (by key) found equal on both sides, as compared: column → canonical text. */
  readonly sample: { readonly key: string; readonly values: readonly [string, string | null][] } | undefined;
}

/** True when the table is the same on both sides. */
export function matches(c: TableComparison): boolean {
  return (
    c.missing.length === 0 &&
    c.extra.length === 0 &&
    c.duplicates.length === 0 &&
    c.differingRows === 0 &&
    c.sourceRows === c.destinationRows
  );
}

interface SourceColumn {
  readonly name: string;
  /** `format_type`, e.g. `numeric(12,2)`, `timestamp with time zone`. */
  readonly type: string;
  readonly key: boolean;
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const UTC_MICROS_PG = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const UTC_MICROS_DUCK = `'%Y-%m-%dT%H:%M:%S.%fZ'`;

/** The canonical text of a column in PostgreSQL. */
function pgText(c: SourceColumn): string {
  const col = ident(c.name);
  switch (c.type) {
    case 'timestamp with time zone':
      return `to_char(${col} AT TIME ZONE 'UTC', ${UTC_MICROS_PG})`;
    case 'timestamp without time zone':
      return `to_char(${col}, 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
    default:
      // numeric keeps every digit and its scale; jsonb prints its normal form; bool prints true/false.
      return `${col}::text`;
  }
}

/** The canonical text of the same column in DuckDB (whatever type the destination gave it). */
function duckText(c: SourceColumn): string {
  const col = ident(c.name);
  switch (c.type) {
    case 'timestamp with time zone':
      // epoch_us is time-zone free: the same instant, rendered in UTC.
      return `strftime(make_timestamp(epoch_us(${col})), ${UTC_MICROS_DUCK})`;
    case 'timestamp without time zone':
      return `strftime(${col}, '%Y-%m-%dT%H:%M:%S.%f')`;
    default:
      return `CAST(${col} AS VARCHAR)`;
  }
}

async function sourceColumns(client: pg.Client, table: string): Promise<SourceColumn[]> {
  const { rows } = await client.query<{ name: string; type: string; key: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            coalesce(a.attnum = ANY(i.indkey), false) AS key
       FROM pg_attribute a
       LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table],
  );
  return rows;
}

/** Rows as key → values (each value canonical text or null). */
type RowSet = { rows: Map<string, (string | null)[]>; count: number; duplicates: string[] };

function toRowSet(records: Record<string, unknown>[], keyCount: number): RowSet {
  const rows = new Map<string, (string | null)[]>();
  const duplicates: string[] = [];
  for (const r of records) {
    const values = Object.values(r).map((v) => (v === null || v === undefined ? null : String(v)));
    const key = values.slice(0, keyCount).join(',');
    if (rows.has(key)) duplicates.push(key);
    rows.set(key, values.slice(keyCount));
  }
  return { rows, count: records.length, duplicates };
}

/**
 * Compares one table: PostgreSQL's rows now against DuckDB's. Call it once
 * the pipeline has caught up and stopped.
 */
export async function compareTable(
  client: pg.Client,
  duck: DuckQuery,
  table: string,
): Promise<TableComparison> {
  const [schema, name] = table.split('.') as [string, string];
  const columns = await sourceColumns(client, table);
  const keys = columns.filter((c) => c.key);
  if (keys.length === 0) throw new Error(`${table} has no primary key: the demo compares rows by key`);
  const ordered = [...keys, ...columns.filter((c) => !c.key)];
  const values = ordered.filter((c) => !c.key);

  const duckColumns = (
    await duck(
      'SELECT column_name FROM duckdb_columns() WHERE schema_name = $1 AND table_name = $2 AND NOT internal',
      [schema, name],
    )
  ).map((r) => String(r.column_name));
  const known = new Set(columns.map((c) => c.name));
  const ignored = duckColumns.filter((c) => !known.has(c) && !c.startsWith('_etl_'));
  const absent = columns.filter((c) => !duckColumns.includes(c.name)).map((c) => c.name);
  if (absent.length > 0) throw new Error(`DuckDB's ${table} lacks column(s) ${absent.join(', ')}`);

  const target = `${ident(schema)}.${ident(name)}`;
  const select = (render: (c: SourceColumn) => string) =>
    `SELECT ${ordered.map((c, i) => `${render(c)} AS c${i}`).join(', ')} FROM ${target}`;
  const source = toRowSet((await client.query(select(pgText))).rows, keys.length);
  const dest = toRowSet(await duck(select(duckText)), keys.length);

  const missing: string[] = [];
  const mismatches: ValueMismatch[] = [];
  let differingRows = 0;
  let valuesCompared = 0;
  for (const [key, s] of source.rows) {
    const d = dest.rows.get(key);
    if (!d) {
      missing.push(key);
      continue;
    }
    let differs = false;
    values.forEach((c, i) => {
      valuesCompared++;
      if (s[i] === d[i]) return;
      differs = true;
      mismatches.push({ key, column: c.name, source: s[i] ?? null, destination: d[i] ?? null });
    });
    if (differs) differingRows++;
  }
  const extra = [...dest.rows.keys()].filter((k) => !source.rows.has(k));
  const byKey = (a: string, b: string) => compareKeys(a, b);
  // A row to show: the fullest one (fewest NULLs) that matched, the latest of those.
  let sampleKey: string | undefined;
  let sampleNulls = Number.POSITIVE_INFINITY;
  const differing = new Set(mismatches.map((m) => m.key));
  for (const [key, s] of source.rows) {
    if (!dest.rows.has(key) || differing.has(key)) continue;
    const nulls = s.filter((v) => v === null).length;
    if (nulls < sampleNulls || (nulls === sampleNulls && byKey(key, sampleKey!) > 0)) {
      sampleKey = key;
      sampleNulls = nulls;
    }
  }
  return {
    table,
    columns: ordered.map((c) => c.name),
    ignored,
    sourceRows: source.count,
    destinationRows: dest.count,
    missing: missing.sort(byKey),
    extra: extra.sort(byKey),
    duplicates: dest.duplicates.sort(byKey),
    differingRows,
    mismatches: mismatches.sort((a, b) => byKey(a.key, b.key)),
    valuesCompared: valuesCompared + keys.length * (source.rows.size - missing.length),
    sample:
      sampleKey === undefined
        ? undefined
        : { key: sampleKey, values: values.map((c, i) => [c.name, source.rows.get(sampleKey)![i] ?? null]) },
  };
}

/** Orders keys numerically when they are integers, else as text. */
function compareKeys(a: string, b: string): number {
  if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b)) {
    const d = BigInt(a) - BigInt(b);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `--corrupt`: changes one value and deletes one row in DuckDB only, so the
 * comparison has something to find. Returns what it did.
 */
export async function corruptDestination(duck: DuckQuery, schema: string): Promise<string> {
  const [order] = await duck(
    `UPDATE ${ident(schema)}.orders SET amount = amount + 0.01 WHERE id = (SELECT min(id) FROM ${ident(schema)}.orders) RETURNING id`,
  );
  const [customer] = await duck(
    `DELETE FROM ${ident(schema)}.customers WHERE id = (SELECT max(id) FROM ${ident(schema)}.customers) RETURNING id`,
  );
  return `--corrupt: in DuckDB only, added 0.01 to the amount of order ${order?.id} and deleted customer ${customer?.id}.`;
}
