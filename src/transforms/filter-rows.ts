import { makeData, type RecordBatch, Uint8, type Vector } from 'apache-arrow';
import type { ChangeEntry, RowsEntry } from '../change/change-entry.js';
import { ChangeOp, OP_COLUMN, SEQ_COLUMN } from '../change/metadata-columns.js';
import { qualifiedName } from '../change/table-schema.js';
import { configError, EtlError } from '../errors.js';
import { tablePattern } from './table-pattern.js';
import { takeRows } from './take-rows.js';
import type { Transform } from './transform.js';

/**
 * A vectorised row predicate: gets the columns of one table's rows (user
 * columns and the metadata columns `_etl_op`, `_etl_lsn`, `_etl_seq`,
 * `_etl_unchanged`, by name) and the row count, and returns one flag per row
 * (`1`/`true`: the row passes).
 */
export type RowPredicate = (
  columns: Record<string, Vector>,
  numRows: number,
) => Uint8Array | readonly boolean[];

/**
 * Keeps the rows of the matching tables that pass `predicate`, so a
 * destination holds exactly the source rows that pass it:
 *
 * - an insert or snapshot read that fails is removed;
 * - an update that fails becomes a delete of its key (the row left the
 *   filter; deleting a key the destination does not have changes nothing);
 * - deletes are always kept, whatever the predicate says (their non-key
 *   columns are usually null).
 *
 * The predicate runs once per table per batch over whole Arrow columns. A
 * column left unchanged by an update (unchanged TOAST, listed in
 * `_etl_unchanged`) is null there: do not filter on large toastable columns.
 * Old row images follow their rows. Tables not matching `table` (a qualified
 * name or pattern) pass unchanged. See {@link filterRowsBy} for a per-row
 * predicate.
 *
 * @example
 * ```ts
 * // Only orders above 100 (total is Float64 here).
 * pipeline.transform(filterRows('public.orders', (cols, n) => {
 *   const total = cols.total!;
 *   const mask = new Uint8Array(n);
 *   for (let i = 0; i < n; i++) mask[i] = Number(total.get(i)) > 100 ? 1 : 0;
 *   return mask;
 * }));
 * ```
 */
export function filterRows(table: string, predicate: RowPredicate): Transform {
  const matches = tablePattern(table, 'table');
  if (typeof predicate !== 'function')
    throw configError('predicate', 'must be a function (columns, numRows) => mask');
  return (batch) => {
    let changed = false;
    const entries: ChangeEntry[] = [];
    for (const entry of batch.entries) {
      if (entry.kind !== 'rows' || !matches(qualifiedName(entry.table))) {
        entries.push(entry);
        continue;
      }
      const next = filterEntry(entry, predicate);
      if (next !== entry) changed = true;
      if (next) entries.push(next);
    }
    return changed ? batch.withEntries(entries) : batch;
  };
}

function filterEntry(entry: RowsEntry, predicate: RowPredicate): RowsEntry | undefined {
  const rb = entry.data;
  const n = rb.numRows;
  const columns: Record<string, Vector> = {};
  rb.schema.fields.forEach((f, i) => {
    columns[f.name] = rb.getChildAt(i)!;
  });
  const mask = predicate(columns, n);
  if (!mask || mask.length !== n) {
    throw new EtlError(
      'CONFIG_INVALID',
      `filterRows predicate for ${qualifiedName(entry.table)} returned ${mask?.length} flags for ${n} rows`,
      {
        hint: 'Return one flag per row: a Uint8Array or boolean[] of length numRows.',
      },
    );
  }
  const ops = rb.getChild(OP_COLUMN)!.data[0]!.values as Uint8Array;
  const keep: number[] = [];
  const toDelete: number[] = [];
  for (let i = 0; i < n; i++) {
    if (mask[i] || ops[i] === ChangeOp.Delete) keep.push(i);
    else if (ops[i] === ChangeOp.Update) {
      toDelete.push(keep.length);
      keep.push(i);
    }
  }
  if (keep.length === n && toDelete.length === 0) return entry;
  if (keep.length === 0) return undefined;
  const data = withDeletes(takeRows(rb, keep), toDelete);
  if (!entry.before) return { ...entry, data };
  return { ...entry, data, before: beforeOf(entry.before, data) };
}

/** `rb` with the op of rows `rows` set to Delete. */
function withDeletes(rb: RecordBatch, rows: readonly number[]): RecordBatch {
  if (rows.length === 0) return rb;
  const index = rb.schema.fields.findIndex((f) => f.name === OP_COLUMN);
  const ops = (rb.data.children[index]!.values as Uint8Array).slice(0, rb.numRows);
  for (const r of rows) ops[r] = ChangeOp.Delete;
  const children = rb.data.children.slice();
  children[index] = makeData({ type: new Uint8(), length: rb.numRows, nullCount: 0, data: ops });
  return new (rb.constructor as typeof RecordBatch)(
    rb.schema,
    makeData({ type: rb.data.type, length: rb.numRows, nullCount: 0, children }),
  );
}

/** The old row images whose `_etl_seq` is still among `rows`. */
function beforeOf(before: RecordBatch, rows: RecordBatch): RecordBatch {
  const kept = new Set<number>();
  const seqs = rows.getChild(SEQ_COLUMN)!;
  for (let i = 0; i < rows.numRows; i++) kept.add(Number(seqs.get(i)));
  const beforeSeqs = before.getChild(SEQ_COLUMN)!;
  const keep: number[] = [];
  for (let i = 0; i < before.numRows; i++) if (kept.has(Number(beforeSeqs.get(i)))) keep.push(i);
  return keep.length === before.numRows ? before : takeRows(before, keep);
}
