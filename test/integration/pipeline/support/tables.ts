/**
 * Whole-table comparison for pipeline tests: a table as PostgreSQL renders
 * it, and the same table as a destination holds it, both reduced to rows of
 * canonical text (one string per column, null for NULL), sorted by key.
 * PostgreSQL does the source side's rendering; the destination side is read
 * back independently (memory rows, or DuckDB SQL), so the comparison does
 * not rely on the code under test to say what a value should be.
 *
 * Canonical text per type: integers and numeric as PostgreSQL prints them,
 * booleans `true`/`false`, timestamptz as microseconds since the epoch,
 * bytea as lower-case hex, json/jsonb and text as is. Columns whose values
 * are large (TOAST) can be compared by md5.
 */
import { createHash } from 'node:crypto';
import type { MemoryDestination } from '../../../../src/destinations/memory-destination.js';
import type { TestDatabase } from '../../../support/postgres.js';

/** A column as the comparison sees it. */
export interface Column {
  readonly name: string;
  /** PostgreSQL `udt_name` (int4, numeric, timestamptz, ...). */
  readonly type: string;
}

/** What to compare: the table, its key column (an integer), and columns compared by md5. */
export interface TableSpec {
  readonly table: string;
  readonly key: string;
  readonly md5?: readonly string[];
}

/** Rows of canonical text, sorted by key. */
export type Rows = (string | null)[][];

const q = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The table's current columns, as PostgreSQL has them now (dropped ones gone, added ones in). */
export async function columnsOf(db: TestDatabase, table: string): Promise<Column[]> {
  const [schema, name] = table.split('.') as [string, string];
  const { rows } = await db.query<{ column_name: string; udt_name: string }>(
    `SELECT column_name, udt_name FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [schema, name],
  );
  return rows.map((r) => ({ name: r.column_name, type: r.udt_name }));
}

function pgExpression(c: Column, md5: boolean): string {
  const col = q(c.name);
  if (md5) return `md5(${col})`;
  switch (c.type) {
    case 'timestamptz':
      return `((extract(epoch FROM ${col}) * 1000000)::bigint)::text`;
    case 'bytea':
      return `encode(${col}, 'hex')`;
    default:
      return `${col}::text`;
  }
}

/** The table as PostgreSQL renders it now. */
export async function sourceRows(
  db: TestDatabase,
  spec: TableSpec,
  columns: readonly Column[],
): Promise<Rows> {
  const md5 = new Set(spec.md5 ?? []);
  const select = columns.map((c, i) => `${pgExpression(c, md5.has(c.name))} AS c${i}`).join(', ');
  const { rows } = await db.query(`SELECT ${select} FROM ${spec.table} ORDER BY ${q(spec.key)}`);
  return aliasedRows(rows, columns);
}

function duckExpression(c: Column, md5: boolean): string {
  const col = q(c.name);
  if (md5) return `md5(${col})`;
  switch (c.type) {
    case 'timestamptz':
      return `CAST(epoch_us(${col}) AS VARCHAR)`;
    case 'bytea':
      return `lower(hex(${col}))`;
    default:
      return `CAST(${col} AS VARCHAR)`;
  }
}

/** SQL that reads the table from a DuckDB destination in canonical text, one aliased column per source column. */
export function duckdbSelect(spec: TableSpec, columns: readonly Column[]): string {
  const md5 = new Set(spec.md5 ?? []);
  const select = columns.map((c, i) => `${duckExpression(c, md5.has(c.name))} AS c${i}`).join(', ');
  return `SELECT ${select} FROM ${spec.table} ORDER BY ${q(spec.key)}`;
}

/** Rows selected as c0..cn (by {@link duckdbSelect}, or PostgreSQL), as {@link Rows}. */
export function aliasedRows(objects: readonly Record<string, unknown>[], columns: readonly Column[]): Rows {
  return objects.map((o) =>
    columns.map((_, i) => {
      const v = o[`c${i}`];
      return v === null || v === undefined ? null : String(v);
    }),
  );
}

function isoToMicros(iso: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(iso);
  if (!m) throw new Error(`not an ISO UTC timestamp: ${iso}`);
  const seconds = BigInt(Date.parse(`${m[1]}Z`)) / 1000n;
  return String(seconds * 1_000_000n + BigInt((m[2] ?? '0').padEnd(6, '0')));
}

function memoryText(value: unknown, c: Column, md5: boolean): string | null {
  if (value === null || value === undefined) return null;
  if (md5) return createHashHex(String(value));
  if (c.type === 'timestamptz') return isoToMicros(String(value));
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return String(value);
}

/** The table as a memory destination holds it, in canonical text. */
export function memoryRows(dest: MemoryDestination, spec: TableSpec, columns: readonly Column[]): Rows {
  const md5 = new Set(spec.md5 ?? []);
  const rows = dest
    .rows(spec.table)
    .map((r) => columns.map((c) => memoryText(r[c.name], c, md5.has(c.name))));
  const k = columns.findIndex((c) => c.name === spec.key);
  return rows.sort((a, b) => Number(a[k]) - Number(b[k]));
}

function createHashHex(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/** What differs between two row sets keyed by column `keyIndex`: readable, and empty when equal. */
export interface RowsDiff {
  readonly missing: string[];
  readonly extra: string[];
  readonly duplicated: string[];
  readonly different: { key: string; source: (string | null)[]; destination: (string | null)[] }[];
}

/** Compares whole row sets value by value; reports at most `limit` examples of each kind. */
export function diffRows(source: Rows, destination: Rows, keyIndex = 0, limit = 5): RowsDiff {
  const byKey = new Map<string, (string | null)[]>();
  const duplicated: string[] = [];
  for (const row of destination) {
    const key = String(row[keyIndex]);
    if (byKey.has(key)) duplicated.push(key);
    byKey.set(key, row);
  }
  const missing: string[] = [];
  const different: RowsDiff['different'] = [];
  const seen = new Set<string>();
  for (const row of source) {
    const key = String(row[keyIndex]);
    seen.add(key);
    const got = byKey.get(key);
    if (!got) missing.push(key);
    else if (got.some((v, i) => v !== row[i])) different.push({ key, source: row, destination: got });
  }
  const extra = [...byKey.keys()].filter((k) => !seen.has(k));
  return {
    missing: missing.slice(0, limit),
    extra: extra.slice(0, limit),
    duplicated: duplicated.slice(0, limit),
    different: different.slice(0, limit),
  };
}

/** The empty diff, for `expect(diffRows(...)).toEqual(NO_DIFF)`. */
export const NO_DIFF: RowsDiff = { missing: [], extra: [], duplicated: [], different: [] };
