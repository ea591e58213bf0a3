/**
 * Whole tables in canonical text (see canonical.ts): a PostgreSQL table as
 * PostgreSQL renders it, and its Snowflake copy as the emulator returns it
 * over the wire, with a readable diff.
 */
import pg from 'pg';
import type { SnowflakeEmulator } from '../../../../src/testing/index.js';
import {
  arrayFromPostgres,
  arrayFromSnowflake,
  fromPostgres,
  fromSnowflake,
  type Kind,
  pgArrayExpression,
  pgExpression,
} from './canonical.js';

/** A source column as the comparison sees it. */
export interface ColumnInfo {
  readonly name: string;
  readonly kind: Kind;
  readonly array: boolean;
}

/** Rows of canonical text (null for SQL NULL), sorted. */
export type Rows = (string | null)[][];

const q = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  // Every value as PostgreSQL's own text: no parsing by node-pg.
  const client = new pg.Client({ connectionString: url, types: { getTypeParser: () => (v: string) => v } });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

interface PgType {
  typname: string;
  typtype: string;
  typcategory: string;
  typelem: string;
  typbasetype: string;
  typtypmod: string;
}

function kindOf(t: PgType, typmod: number): Kind {
  if (t.typtype === 'e') return 'text';
  switch (t.typname) {
    case 'bool':
      return 'bool';
    case 'int2':
    case 'int4':
    case 'int8':
      return 'int';
    case 'float4':
    case 'float8':
      return 'float';
    case 'numeric':
      return typmod >= 0 && (typmod - 4) >> 16 <= 38 ? 'decimal' : 'numeric-text';
    case 'bytea':
      return 'bytea';
    case 'date':
      return 'date';
    case 'time':
      return 'time';
    case 'timestamp':
      return 'timestamp';
    case 'timestamptz':
      return 'timestamptz';
    case 'json':
    case 'jsonb':
      return 'json';
    default:
      return 'text';
  }
}

/** The table's current columns with their comparison kinds (domains resolved to their base type). */
export async function columnsOf(url: string, table: string): Promise<ColumnInfo[]> {
  return withClient(url, async (c) => {
    const types = new Map<string, PgType>();
    const typeOf = async (oid: string): Promise<PgType> => {
      let t = types.get(oid);
      if (!t) {
        const { rows } = await c.query<PgType>(
          'SELECT typname, typtype, typcategory, typelem::text, typbasetype::text, typtypmod::text FROM pg_type WHERE oid = $1',
          [oid],
        );
        t = rows[0]!;
        types.set(oid, t);
      }
      return t;
    };
    const { rows } = await c.query<{ attname: string; atttypid: string; atttypmod: string }>(
      `SELECT attname, atttypid::text, atttypmod::text FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [table],
    );
    const out: ColumnInfo[] = [];
    for (const r of rows) {
      let oid = r.atttypid;
      let typmod = Number(r.atttypmod);
      let t = await typeOf(oid);
      let array = false;
      for (let guard = 0; guard < 4; guard++) {
        if (t.typtype === 'd') {
          if (Number(t.typtypmod) >= 0) typmod = Number(t.typtypmod);
          oid = t.typbasetype;
        } else if (t.typcategory === 'A' && t.typelem !== '0' && !array) {
          array = true;
          oid = t.typelem;
        } else break;
        t = await typeOf(oid);
      }
      out.push({ name: r.attname, kind: kindOf(t, typmod), array });
    }
    return out;
  });
}

function sortRows(rows: Rows): Rows {
  return rows
    .map((r) => [JSON.stringify(r), r] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, r]) => r);
}

/** The table as PostgreSQL renders it now, canonical, sorted. */
export async function sourceRows(url: string, table: string, columns: readonly ColumnInfo[]): Promise<Rows> {
  const select = columns
    .map(
      (c, i) =>
        `${c.array ? pgArrayExpression(c.kind, q(c.name)) : pgExpression(c.kind, q(c.name))} AS c${i}`,
    )
    .join(', ');
  const { rows } = await withClient(url, (c) => c.query(`SELECT ${select} FROM ${table}`));
  return sortRows(
    rows.map((r: Record<string, string | null>) =>
      columns.map((c, i) => {
        const v = r[`c${i}`] ?? null;
        return v === null ? null : c.array ? arrayFromPostgres(c.kind, v) : fromPostgres(c.kind, v);
      }),
    ),
  );
}

/** Where a source table lands in the emulator. */
export interface SnowflakeTable {
  readonly database: string;
  readonly schema: string;
  readonly name: string;
  /** Snowflake name of a source column (default: upper case, the destination's default naming). */
  readonly column?: (source: string) => string;
  /** Extra WHERE condition (e.g. live rows in soft-delete mode). */
  readonly where?: string;
}

/** The Snowflake copy, read over the wire through the emulator, canonical, sorted. */
export async function snowflakeRows(
  emu: SnowflakeEmulator,
  target: SnowflakeTable,
  columns: readonly ColumnInfo[],
): Promise<Rows> {
  const name = target.column ?? ((s: string) => s.toUpperCase());
  const select = columns.map((c, i) => `${q(name(c.name))} AS "C${i}"`).join(', ');
  const rows = await emu.query(
    `SELECT ${select} FROM ${q(target.database)}.${q(target.schema)}.${q(target.name)}${target.where ? ` WHERE ${target.where}` : ''}`,
  );
  return sortRows(
    rows.map((r) =>
      columns.map((c, i) => {
        const v = r[`C${i}`] ?? null;
        return v === null ? null : c.array ? arrayFromSnowflake(c.kind, v) : fromSnowflake(c.kind, v);
      }),
    ),
  );
}

/** What differs between two row sets, keyed by column `keyIndex`; empty lists when equal. */
export interface RowsDiff {
  readonly missing: string[];
  readonly extra: string[];
  readonly duplicated: string[];
  readonly different: { key: string; column: string; source: string | null; snowflake: string | null }[];
}

/** The empty diff. */
export const NO_DIFF: RowsDiff = { missing: [], extra: [], duplicated: [], different: [] };

const short = (v: string | null) =>
  v === null || v.length <= 200 ? v : `${v.slice(0, 200)}… (${v.length} chars)`;

/** Compares whole row sets value by value (at most `limit` examples of each kind). */
export function diffRows(
  columns: readonly ColumnInfo[],
  source: Rows,
  snowflake: Rows,
  keyIndex = 0,
  limit = 60,
): RowsDiff {
  const byKey = new Map<string, (string | null)[]>();
  const duplicated: string[] = [];
  for (const row of snowflake) {
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
    if (!got) {
      missing.push(key);
      continue;
    }
    columns.forEach((c, i) => {
      if (got[i] !== row[i])
        different.push({
          key,
          column: c.name,
          source: short(row[i] ?? null),
          snowflake: short(got[i] ?? null),
        });
    });
  }
  const extra = [...byKey.keys()].filter((k) => !seen.has(k));
  if (missing.length + extra.length + duplicated.length + different.length === 0) return NO_DIFF;
  return {
    missing: missing.slice(0, limit),
    extra: extra.slice(0, limit),
    duplicated: duplicated.slice(0, limit),
    different: different.slice(0, limit),
  };
}
