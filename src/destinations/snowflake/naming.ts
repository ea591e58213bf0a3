import type { TableSchema } from '../../change/table-schema.js';
import { configError, EtlError } from '../../errors.js';

/** How source names become Snowflake names. */
export interface SnowflakeNamingOptions {
  /**
   * Letter case of table and column names: `upper` (default; what unquoted
   * identifiers resolve to in Snowflake, so `SELECT id FROM orders` works),
   * `lower`, or `preserve` (exactly as in Postgres).
   */
  readonly case?: 'upper' | 'lower' | 'preserve';
  /** Prepended to every table name (before the case is applied), e.g. `PG_`. Default none. */
  readonly tablePrefix?: string;
  /**
   * Target schema per source schema, e.g. `{ public: 'PG_PUBLIC', sales: 'PG_SALES' }`.
   * Schemas not listed go to the destination's `schema`. Used exactly as given (no case change).
   */
  readonly schemas?: Readonly<Record<string, string>>;
}

/** Where one source table lands. */
export interface TargetTable {
  /** Target schema name (unquoted). */
  readonly schema: string;
  /** Target table name (unquoted). */
  readonly name: string;
  /** The staging table next to it that COPY loads and the MERGE reads. */
  readonly staging: string;
}

/** Metadata columns of target tables. Always upper case. */
export const TARGET_LSN_COLUMN = '_ETL_LSN';
/** When the row was last written by the destination. */
export const TARGET_SYNCED_AT_COLUMN = '_ETL_SYNCED_AT';
/** Soft-delete flag (with `deletes: 'soft'`). */
export const TARGET_DELETED_COLUMN = '_ETL_DELETED';
/** Change kind, in append-only tables (tables without a key). */
export const TARGET_OP_COLUMN = '_ETL_OP';
/** Order of the change inside its batch, in append-only tables. */
export const TARGET_SEQ_COLUMN = '_ETL_SEQ';
/** Staging-only: which columns were unchanged TOAST (a string of `0`/`1`, one per user column). */
export const STAGING_UNCHANGED_COLUMN = '_ETL_UNCHANGED';
/** Staging-only: on the UPDATE row of a key change, the `_ETL_SEQ` of the DELETE row of the old key. */
export const STAGING_MOVED_FROM_COLUMN = '_ETL_MOVED_FROM';
/** Suffix of staging table names. */
export const STAGING_SUFFIX = '__ETL_STAGING';

const RESERVED = new Set([
  TARGET_LSN_COLUMN,
  TARGET_SYNCED_AT_COLUMN,
  TARGET_DELETED_COLUMN,
  TARGET_OP_COLUMN,
  TARGET_SEQ_COLUMN,
  STAGING_UNCHANGED_COLUMN,
  STAGING_MOVED_FROM_COLUMN,
]);

/**
 * The naming policy: maps source schemas, tables and columns to Snowflake
 * names, and refuses mappings that would merge two names into one.
 */
export class Naming {
  private readonly letterCase: 'upper' | 'lower' | 'preserve';
  private readonly prefix: string;
  private readonly schemas: Readonly<Record<string, string>>;

  constructor(
    private readonly defaultSchema: string,
    options: SnowflakeNamingOptions = {},
  ) {
    const c = options.case ?? 'upper';
    if (c !== 'upper' && c !== 'lower' && c !== 'preserve') {
      throw configError('naming.case', `must be "upper", "lower" or "preserve", got ${JSON.stringify(c)}`);
    }
    if (options.tablePrefix !== undefined && typeof options.tablePrefix !== 'string') {
      throw configError('naming.tablePrefix', 'must be a string');
    }
    for (const [from, to] of Object.entries(options.schemas ?? {})) {
      if (typeof to !== 'string' || to.length === 0) {
        throw configError(`naming.schemas.${from}`, 'must be a non-empty schema name');
      }
    }
    this.letterCase = c;
    this.prefix = options.tablePrefix ?? '';
    this.schemas = options.schemas ?? {};
  }

  /** Applies the letter case. */
  private cased(name: string): string {
    return this.letterCase === 'upper'
      ? name.toUpperCase()
      : this.letterCase === 'lower'
        ? name.toLowerCase()
        : name;
  }

  /** The target of a source table. */
  table(table: Pick<TableSchema, 'schema' | 'name'>): TargetTable {
    const name = this.cased(`${this.prefix}${table.name}`);
    return {
      schema: this.schemas[table.schema] ?? this.defaultSchema,
      name,
      staging: `${name}${STAGING_SUFFIX}`,
    };
  }

  /** The target name of a source column. */
  column(name: string): string {
    return this.cased(name);
  }

  /**
   * Target column names of a table, in source order. Throws a non-retryable
   * error when two columns map to one name or a column takes a metadata name.
   */
  columns(table: TableSchema): string[] {
    const seen = new Map<string, string>();
    return table.columns.map((c) => {
      const target = this.column(c.name);
      const clash = seen.get(target.toUpperCase());
      if (clash !== undefined || RESERVED.has(target.toUpperCase())) {
        throw new EtlError(
          'SNOWFLAKE',
          `Column "${c.name}" of ${table.schema}.${table.name} maps to Snowflake column "${target}", which ${
            clash === undefined ? 'is reserved for metadata' : `column "${clash}" also maps to`
          }`,
          {
            hint: 'Rename the column in Postgres, drop it with a transform, or use naming.case: "preserve".',
            details: { table: `${table.schema}.${table.name}`, column: c.name },
          },
        );
      }
      seen.set(target.toUpperCase(), c.name);
      return target;
    });
  }
}
