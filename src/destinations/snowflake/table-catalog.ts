import { qualifiedName, type TableSchema } from '../../change/table-schema.js';
import { EtlError } from '../../errors.js';
import type { Naming, TargetTable } from './naming.js';
import type { SnowflakeSession } from './snowflake-session.js';
import {
  parseSnowflakeType,
  renderType,
  type SnowflakeType,
  type StagingForm,
  snowflakeTypeOf,
  stagingFormOf,
  stagingTypeOf,
  typeChange,
} from './snowflake-type.js';
import {
  addColumnSql,
  type ColumnDef,
  createSchemaSql,
  createStagingTableSql,
  createTableSql,
  describeColumnsSql,
  dropColumnSql,
  type MergeColumn,
  type ObjectRef,
  type TableMode,
  targetMetadataColumns,
  widenColumnSql,
} from './sql.js';
import type { StagingLayout } from './staged-table.js';

/** Everything the writer needs to load and apply one table's changes. */
export interface TablePlan {
  readonly source: TableSchema;
  readonly mode: TableMode;
  readonly target: ObjectRef;
  readonly staging: ObjectRef;
  readonly layout: StagingLayout;
  /** User columns for the MERGE (without the per-batch `unchanged` flag). */
  readonly columns: readonly Omit<MergeColumn, 'unchanged'>[];
}

/** Catalog policy, from the destination's options. */
export interface CatalogPolicy {
  readonly database: string;
  readonly naming: Naming;
  readonly deletes: 'hard' | 'soft';
  readonly droppedColumns: 'keep' | 'drop';
  readonly tablesWithoutKey: 'error' | 'append';
}

interface Known {
  /** Shape key of the source table the target was last reconciled with. */
  readonly shape: string;
  readonly plan: TablePlan;
}

/**
 * Creates and evolves target and staging tables. All of it is DDL, which
 * commits implicitly in Snowflake, so it runs before a batch's transaction.
 * Reconciliation is cached per source table shape: a batch whose tables did
 * not change costs no statement here.
 *
 * Evolution: new source columns are added; dropped ones are kept (left null
 * from then on) or dropped with `droppedColumns: 'drop'`; a type change is
 * applied when Snowflake can widen in place (NUMBER precision, VARCHAR
 * length), otherwise it fails with an error naming the table and column.
 */
export class TableCatalog {
  private readonly known = new Map<string, Known>();
  private readonly schemas = new Set<string>();

  constructor(private readonly policy: CatalogPolicy) {}

  /** Forgets what is known (after a failure that may have left DDL half done). */
  reset(): void {
    this.known.clear();
    this.schemas.clear();
  }

  /** Records that a schema exists (created during setup). */
  schemaExists(schema: string): void {
    this.schemas.add(schema);
  }

  /** Makes sure the target and staging tables of `table` exist with its current shape. */
  async ensure(session: SnowflakeSession, table: TableSchema, signal?: AbortSignal): Promise<TablePlan> {
    const key = qualifiedName(table);
    const shape = shapeKey(table);
    const cached = this.known.get(key);
    if (cached && cached.shape === shape) return cached.plan;
    const plan = this.planFor(table);
    const run = (sql: string, binds?: unknown[]) =>
      session.execute(sql, binds, { step: 'setup', table: key }, signal);
    if (!this.schemas.has(plan.target.schema)) {
      await run(createSchemaSql(this.policy.database, plan.target.schema));
      this.schemas.add(plan.target.schema);
    }
    const wanted: ColumnDef[] = [
      ...table.columns.map((c, i) => ({ name: plan.layout.names[i]!, type: snowflakeTypeOf(c) })),
      ...targetMetadataColumns(plan.mode),
    ];
    const existing = await this.describe(session, plan.target, signal, key);
    if (existing.size === 0) {
      await run(createTableSql(plan.target, wanted));
    } else {
      await this.evolve(run, plan, wanted, existing, key);
    }
    const stagingColumns = table.columns.map((c, i) => ({
      name: plan.layout.names[i]!,
      type: stagingTypeOf(snowflakeTypeOf(c)),
    }));
    await run(createStagingTableSql(plan.staging, stagingColumns));
    this.known.set(key, { shape, plan });
    return plan;
  }

  private async evolve(
    run: (sql: string) => Promise<unknown>,
    plan: TablePlan,
    wanted: readonly ColumnDef[],
    existing: Map<string, SnowflakeType>,
    table: string,
  ): Promise<void> {
    const wantedNames = new Set(wanted.map((c) => c.name.toUpperCase()));
    for (const col of wanted) {
      const current = existing.get(col.name.toUpperCase());
      if (!current) {
        await run(addColumnSql(plan.target, col));
        continue;
      }
      const change = typeChange(current, col.type);
      if (change.kind === 'widen') {
        await run(widenColumnSql(plan.target, { name: col.name, type: change.to }));
      } else if (change.kind === 'incompatible') {
        throw new EtlError(
          'SNOWFLAKE',
          `Column "${col.name}" of ${table} (Snowflake ${qualifiedRef(plan.target)}) changed type to ${renderType(col.type)}, which Snowflake cannot convert its ${renderType(current)} column to in place`,
          {
            details: { table, column: col.name, from: renderType(current), to: renderType(col.type) },
            hint: `Migrate the Snowflake column by hand (e.g. add a new column, copy, swap), or recreate the table and resnapshot it.`,
          },
        );
      }
    }
    if (this.policy.droppedColumns !== 'drop') return;
    for (const name of existing.keys()) {
      if (!wantedNames.has(name) && !name.startsWith('_ETL_')) await run(dropColumnSql(plan.target, name));
    }
  }

  private async describe(
    session: SnowflakeSession,
    target: ObjectRef,
    signal: AbortSignal | undefined,
    table: string,
  ): Promise<Map<string, SnowflakeType>> {
    const rows = await session.execute(
      describeColumnsSql(this.policy.database),
      [target.schema, target.name],
      { step: 'describe', table },
      signal,
    );
    const out = new Map<string, SnowflakeType>();
    for (const r of rows) {
      const name = String(field(r, 'COLUMN_NAME') ?? '');
      if (!name) continue;
      out.set(
        name.toUpperCase(),
        parseSnowflakeType(
          String(field(r, 'DATA_TYPE') ?? 'VARCHAR'),
          num(field(r, 'NUMERIC_PRECISION')),
          num(field(r, 'NUMERIC_SCALE')),
          num(field(r, 'CHARACTER_MAXIMUM_LENGTH')),
        ),
      );
    }
    return out;
  }

  private planFor(table: TableSchema): TablePlan {
    const names = this.policy.naming.columns(table);
    const keyed = table.primaryKey.length > 0;
    if (!keyed && this.policy.tablesWithoutKey !== 'append') {
      throw new EtlError(
        'PG_NO_REPLICA_IDENTITY',
        `Table ${qualifiedName(table)} has no primary key, so its changes cannot be merged into Snowflake`,
        {
          details: { table: qualifiedName(table) },
          hint: 'Add a primary key in Postgres, or set tablesWithoutKey: "append" to append every change as a row.',
        },
      );
    }
    const mode: TableMode = !keyed ? 'append' : this.policy.deletes === 'soft' ? 'merge-soft' : 'merge-hard';
    const target: TargetTable = this.policy.naming.table(table);
    const forms: StagingForm[] = table.columns.map((c) => stagingFormOf(snowflakeTypeOf(c)));
    const keys = new Set(table.primaryKey);
    return {
      source: table,
      mode,
      target: { database: this.policy.database, schema: target.schema, name: target.name },
      staging: { database: this.policy.database, schema: target.schema, name: target.staging },
      layout: { names, forms },
      columns: table.columns.map((c, i) => ({
        name: names[i]!,
        position: i + 1,
        key: keys.has(c.name),
        form: forms[i]!,
      })),
    };
  }
}

function shapeKey(table: TableSchema): string {
  return JSON.stringify([
    table.schema,
    table.name,
    table.primaryKey,
    table.columns.map((c) => [c.name, c.typeName, String(c.arrowType)]),
  ]);
}

function qualifiedRef(ref: ObjectRef): string {
  return `${ref.database}.${ref.schema}.${ref.name}`;
}

/** Reads a column of an INFORMATION_SCHEMA row whatever case the server used. */
function field(row: Record<string, unknown>, name: string): unknown {
  if (name in row) return row[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(row)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function num(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}
