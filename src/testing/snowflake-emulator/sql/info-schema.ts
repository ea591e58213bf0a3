/**
 * INFORMATION_SCHEMA views (COLUMNS, TABLES, SCHEMATA, VIEWS, DATABASES) as
 * inline subqueries holding the catalog's current contents, with Snowflake's
 * column names and type names (DATA_TYPE `NUMBER`, `TEXT`, `TIMESTAMP_NTZ`…).
 */
import type { CatalogColumn, CatalogTable } from '../engine.js';
import { engineIdent, literal } from '../names.js';
import type { SfType } from '../types.js';

/** The catalog as one session sees it. */
export interface CatalogSnapshot {
  readonly tables: readonly CatalogTable[];
  readonly columns: readonly CatalogColumn[];
  readonly schemas: readonly { database: string; name: string }[];
  readonly databases: readonly string[];
}

type Cell = string | number | boolean | null;
type Col = readonly [name: string, type: 'VARCHAR' | 'BIGINT' | 'BOOLEAN'];

/** Snowflake's DATA_TYPE name of a type. */
export function dataTypeName(t: SfType): string {
  return t.base === 'VARCHAR' ? 'TEXT' : t.base;
}

/** A subquery with the rows of `[db.]INFORMATION_SCHEMA.<view>`. */
export function infoSchemaSql(view: string, db: string, cat: CatalogSnapshot): string {
  switch (view.toUpperCase()) {
    case 'COLUMNS':
      return values(
        [
          ['TABLE_CATALOG', 'VARCHAR'],
          ['TABLE_SCHEMA', 'VARCHAR'],
          ['TABLE_NAME', 'VARCHAR'],
          ['COLUMN_NAME', 'VARCHAR'],
          ['ORDINAL_POSITION', 'BIGINT'],
          ['COLUMN_DEFAULT', 'VARCHAR'],
          ['IS_NULLABLE', 'VARCHAR'],
          ['DATA_TYPE', 'VARCHAR'],
          ['CHARACTER_MAXIMUM_LENGTH', 'BIGINT'],
          ['CHARACTER_OCTET_LENGTH', 'BIGINT'],
          ['NUMERIC_PRECISION', 'BIGINT'],
          ['NUMERIC_PRECISION_RADIX', 'BIGINT'],
          ['NUMERIC_SCALE', 'BIGINT'],
          ['DATETIME_PRECISION', 'BIGINT'],
          ['COMMENT', 'VARCHAR'],
        ],
        cat.columns
          .filter((c) => c.database === db)
          .map((c) => {
            const t = c.type;
            const text = t.base === 'VARCHAR' || t.base === 'BINARY';
            const num = t.base === 'NUMBER';
            const temporal = t.base === 'TIME' || t.base.startsWith('TIMESTAMP');
            return [
              c.database,
              c.schema,
              c.table,
              c.name,
              c.position,
              c.default,
              c.nullable ? 'YES' : 'NO',
              dataTypeName(t),
              text ? (t.length ?? null) : null,
              text ? (t.base === 'VARCHAR' ? (t.length ?? 0) * 4 : (t.length ?? null)) : null,
              num ? (t.precision ?? 38) : t.base === 'FLOAT' ? 53 : null,
              num ? 10 : t.base === 'FLOAT' ? 2 : null,
              num ? (t.scale ?? 0) : null,
              temporal ? (t.scale ?? 9) : null,
              null,
            ];
          }),
      );
    case 'TABLES':
      return values(
        [
          ['TABLE_CATALOG', 'VARCHAR'],
          ['TABLE_SCHEMA', 'VARCHAR'],
          ['TABLE_NAME', 'VARCHAR'],
          ['TABLE_TYPE', 'VARCHAR'],
          ['IS_TRANSIENT', 'VARCHAR'],
          ['COMMENT', 'VARCHAR'],
        ],
        cat.tables
          .filter((t) => t.database === db)
          .map((t) => [t.database, t.schema, t.name, t.kind === 'VIEW' ? 'VIEW' : 'BASE TABLE', 'NO', null]),
      );
    case 'VIEWS':
      return values(
        [
          ['TABLE_CATALOG', 'VARCHAR'],
          ['TABLE_SCHEMA', 'VARCHAR'],
          ['TABLE_NAME', 'VARCHAR'],
        ],
        cat.tables
          .filter((t) => t.database === db && t.kind === 'VIEW')
          .map((t) => [t.database, t.schema, t.name]),
      );
    case 'SCHEMATA':
      return values(
        [
          ['CATALOG_NAME', 'VARCHAR'],
          ['SCHEMA_NAME', 'VARCHAR'],
          ['SCHEMA_OWNER', 'VARCHAR'],
        ],
        [
          ...cat.schemas.filter((s) => s.database === db).map((s) => [s.database, s.name, 'SYSADMIN']),
          [db, 'INFORMATION_SCHEMA', null],
        ],
      );
    case 'DATABASES':
      return values(
        [
          ['DATABASE_NAME', 'VARCHAR'],
          ['DATABASE_OWNER', 'VARCHAR'],
        ],
        cat.databases.map((d) => [d, 'SYSADMIN']),
      );
    default:
      throw Object.assign(new Error(`INFORMATION_SCHEMA.${view}`), { unsupportedView: true });
  }
}

function cell(v: Cell, type: Col[1]): string {
  if (v === null) return `CAST(NULL AS ${type})`;
  if (typeof v === 'number') return `CAST(${v} AS ${type})`;
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  return `CAST(${literal(v)} AS ${type})`;
}

function values(cols: readonly Col[], rows: readonly Cell[][]): string {
  const names = cols.map(([n]) => engineIdent(n));
  if (rows.length === 0) {
    return `(SELECT ${cols.map(([n, t]) => `CAST(NULL AS ${t}) AS ${engineIdent(n)}`).join(', ')} WHERE FALSE)`;
  }
  const body = rows.map((r) => `(${r.map((v, i) => cell(v, cols[i]![1])).join(', ')})`).join(', ');
  return `(SELECT * FROM (VALUES ${body}) AS _sf_v(${names.join(', ')}))`;
}
