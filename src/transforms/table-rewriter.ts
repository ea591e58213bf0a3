import { type Data, Field, makeData, RecordBatch, Schema, Struct, vectorFromArray } from 'apache-arrow';
import { valueAt } from '../arrow/row-reader.js';
import type { ChangeBatch } from '../change/change-batch.js';
import type { ChangeEntry, RowsEntry } from '../change/change-entry.js';
import { isMetadataColumn, UNCHANGED_COLUMN } from '../change/metadata-columns.js';
import { type ColumnSchema, qualifiedName, type TableSchema } from '../change/table-schema.js';
import { EtlError } from '../errors.js';

/** How one output column is made from a source column. */
export interface ColumnOutput {
  /** Source column name. */
  readonly from: string;
  /** Output column name. */
  readonly to: string;
  /** Replaces the values (masking, hashing); absent keeps them. */
  readonly convert?: ColumnConverter;
}

/** A change of a column's values and, with them, of its schema. */
export interface ColumnConverter {
  /** The output column's schema (type, nullability) given the source column's. */
  schema(column: ColumnSchema): ColumnSchema;
  /** The output values given the source values (same length). */
  data(data: Data, column: ColumnSchema): Data;
}

/** What a transform changes in one table; every field is optional. */
export interface TableRewrite {
  /** Output Postgres schema name (renameTables). */
  readonly schema?: string;
  /** Output table name (renameTables). */
  readonly name?: string;
  /** Output user columns, in order; absent keeps every column as is. */
  readonly columns?: readonly ColumnOutput[];
}

/** A resolved rewrite of one table shape. */
interface TablePlan {
  readonly table: TableSchema;
  /** Absent when the columns are kept as they are. */
  readonly columns?: readonly {
    readonly from: string;
    readonly column: ColumnSchema;
    readonly convert?: ColumnConverter;
  }[];
  /** Source name → output name (absent: column removed), when any column was removed or renamed. */
  readonly names?: ReadonlyMap<string, string>;
}

/**
 * The engine of the column and table transforms: applies a per-table
 * {@link TableRewrite} to every entry of a batch, consistently — the rows
 * (user columns selected, renamed or converted; metadata columns kept; names
 * in `_etl_unchanged` dropped or renamed to match), the old row images, the
 * `TableSchema` of rows, schema-change and truncate entries. Plans are cached
 * per table shape.
 *
 * A rewrite that would remove a key column is refused with `CONFIG_INVALID`:
 * destinations could no longer apply updates and deletes.
 *
 * @example
 * ```ts
 * const upper = new TableRewriter('upperNames', (t) => ({ name: t.name.toUpperCase() }));
 * const out = upper.apply(batch);
 * ```
 */
export class TableRewriter {
  private readonly plans = new WeakMap<TableSchema, TablePlan | null>();

  /**
   * @param label the transform's name, for error messages.
   * @param rewriteFor what to change in a table; undefined leaves it alone.
   */
  constructor(
    private readonly label: string,
    private readonly rewriteFor: (table: TableSchema) => TableRewrite | undefined,
  ) {}

  /** The batch with every entry rewritten; the same batch when nothing changes. */
  apply(batch: ChangeBatch): ChangeBatch {
    let changed = false;
    const entries = batch.entries.map((entry) => {
      const next = this.rewriteEntry(entry);
      if (next !== entry) changed = true;
      return next;
    });
    return changed ? batch.withEntries(entries) : batch;
  }

  private rewriteEntry(entry: ChangeEntry): ChangeEntry {
    switch (entry.kind) {
      case 'rows': {
        const plan = this.planOf(entry.table);
        if (!plan) return entry;
        const out: RowsEntry = { kind: 'rows', table: plan.table, data: rewriteRows(entry.data, plan) };
        return entry.before ? { ...out, before: rewriteRows(entry.before, plan) } : out;
      }
      case 'schema': {
        const plan = this.planOf(entry.table);
        const previous = entry.previous && this.planOf(entry.previous);
        if (!plan && !previous) return entry;
        return { ...entry, table: plan?.table ?? entry.table, previous: previous?.table ?? entry.previous };
      }
      case 'truncate': {
        const tables = entry.tables.map((t) => this.planOf(t)?.table ?? t);
        return tables.every((t, i) => t === entry.tables[i]) ? entry : { ...entry, tables };
      }
    }
  }

  private planOf(table: TableSchema): TablePlan | undefined {
    let plan = this.plans.get(table);
    if (plan === undefined) {
      const rewrite = this.rewriteFor(table);
      plan = rewrite ? this.resolve(table, rewrite) : null;
      this.plans.set(table, plan);
    }
    return plan ?? undefined;
  }

  private resolve(table: TableSchema, rewrite: TableRewrite): TablePlan | null {
    const renamed = { schema: rewrite.schema ?? table.schema, name: rewrite.name ?? table.name };
    if (!rewrite.columns) {
      if (renamed.schema === table.schema && renamed.name === table.name) return null;
      return { table: { ...table, ...renamed } };
    }
    const byName = new Map(table.columns.map((c) => [c.name, c]));
    const columns = rewrite.columns.flatMap((out) => {
      const source = byName.get(out.from);
      if (!source) return [];
      const converted = out.convert ? out.convert.schema(source) : source;
      return [{ from: out.from, column: { ...converted, name: out.to }, convert: out.convert }];
    });
    const names = new Map(columns.map((c) => [c.from, c.column.name]));
    if (new Set(names.values()).size !== names.size) {
      throw this.error(table, 'gives two columns the same name');
    }
    const primaryKey = table.primaryKey.map((key) => {
      const to = names.get(key);
      if (to === undefined) throw this.error(table, `removes its key column "${key}"`);
      return to;
    });
    const unchangedShape =
      columns.length === table.columns.length &&
      columns.every((c, i) => !c.convert && c.from === c.column.name && table.columns[i]!.name === c.from);
    if (unchangedShape && renamed.schema === table.schema && renamed.name === table.name) return null;
    const touchesNames = table.columns.some((c) => names.get(c.name) !== c.name);
    return {
      table: { ...table, ...renamed, columns: columns.map((c) => c.column), primaryKey },
      columns: unchangedShape ? undefined : columns,
      names: touchesNames ? names : undefined,
    };
  }

  private error(table: TableSchema, problem: string): EtlError {
    return new EtlError(
      'CONFIG_INVALID',
      `Transform ${this.label} ${problem} in table ${qualifiedName(table)}`,
      {
        hint: `Change the ${this.label} options for ${qualifiedName(table)}; key columns must stay (hash them instead of dropping them).`,
        details: { table: qualifiedName(table) },
      },
    );
  }
}

/** Rows (or old images) with the plan's user columns, then the metadata columns present. */
function rewriteRows(rb: RecordBatch, plan: TablePlan): RecordBatch {
  if (!plan.columns) return rb;
  const fields: Field[] = [];
  const children: Data[] = [];
  const index = new Map(rb.schema.fields.map((f, i) => [f.name, i]));
  for (const c of plan.columns) {
    const i = index.get(c.from);
    if (i === undefined) continue;
    const field = rb.schema.fields[i]!;
    const data = c.convert ? c.convert.data(rb.data.children[i]!, c.column) : rb.data.children[i]!;
    fields.push(
      new Field(c.column.name, data.type, c.convert ? c.column.nullable : field.nullable, field.metadata),
    );
    children.push(data);
  }
  rb.schema.fields.forEach((field, i) => {
    if (!isMetadataColumn(field.name)) return;
    const data = rb.data.children[i]!;
    fields.push(field);
    children.push(field.name === UNCHANGED_COLUMN && plan.names ? renameUnchanged(data, plan.names) : data);
  });
  const schema = new Schema(fields, rb.schema.metadata);
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(fields), length: rb.numRows, nullCount: 0, children }),
  );
}

/**
 * `_etl_unchanged` with removed columns dropped and renamed ones renamed. A
 * list left empty becomes null (nothing left to keep).
 */
function renameUnchanged(data: Data, names: ReadonlyMap<string, string>): Data {
  if (data.nullCount === data.length) return data;
  let changed = false;
  const lists: (string[] | null)[] = [];
  for (let i = 0; i < data.length; i++) {
    const list = valueAt(data, i) as string[] | null;
    if (list === null) {
      lists.push(null);
      continue;
    }
    const next = list.flatMap((name) => {
      const to = names.get(name);
      return to === undefined ? [] : [to];
    });
    if (next.length !== list.length || next.some((n, k) => n !== list[k])) changed = true;
    lists.push(next.length ? next : null);
  }
  return changed ? vectorFromArray(lists, data.type).data[0]! : data;
}
