import type { TableSchema } from '../../change/table-schema.js';
import type { DuckDBSession } from './duckdb-session.js';
import {
  addColumnSql,
  createSchemaSql,
  createTableSql,
  listColumnsSql,
  type TableRef,
} from './duckdb-sql.js';

/**
 * Creates and evolves the target tables: a table is created from its
 * `TableSchema` the first time it is seen, and columns the source adds
 * later are added (`ADD COLUMN`). Columns the source drops stay in the
 * target and are left null from then on; a column whose type changes keeps
 * its first type (DuckDB casts on write, or the write fails loudly).
 *
 * The known columns are cached per table; {@link DuckDBTables.forget} drops
 * the cache after a rolled-back transaction (its DDL was rolled back too).
 */
export class DuckDBTables {
  private readonly known = new Map<string, Set<string>>();
  private readonly schemas = new Set<string>();

  /** @param schema the DuckDB schema for every table, or undefined to use each source table's schema. */
  constructor(private readonly schema: string | undefined) {}

  /** Where a source table's rows go. */
  targetOf(table: Pick<TableSchema, 'schema' | 'name'>): TableRef {
    return { schema: this.schema ?? table.schema, name: table.name };
  }

  /**
   * Makes every table of `tables` exist with at least their columns. Runs
   * only DDL, and must run before any row of the transaction is written:
   * DuckDB refuses to commit a transaction that alters a table after
   * writing to it.
   */
  async prepare(session: DuckDBSession, tables: readonly TableSchema[]): Promise<void> {
    for (const table of tables) {
      const target = this.targetOf(table);
      if (!this.schemas.has(target.schema)) {
        await session.run(createSchemaSql(target.schema));
        this.schemas.add(target.schema);
      }
      const cacheKey = `${target.schema}.${target.name}`;
      let columns = this.known.get(cacheKey);
      if (!columns) {
        const rows = await session.rows(listColumnsSql(), [target.schema, target.name]);
        columns = new Set(rows.map((r) => String(r.column_name)));
        this.known.set(cacheKey, columns);
      }
      if (columns.size === 0) {
        await session.run(createTableSql(target, table.columns, table.primaryKey.length === 0));
        for (const c of table.columns) columns.add(c.name);
        continue;
      }
      for (const column of table.columns) {
        if (columns.has(column.name)) continue;
        await session.run(addColumnSql(target, column));
        columns.add(column.name);
      }
    }
  }

  /** Forgets what is known about existing tables (after a rollback). */
  forget(): void {
    this.known.clear();
    this.schemas.clear();
  }
}
