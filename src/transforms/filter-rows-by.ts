import type { Vector } from 'apache-arrow';
import { valueAt } from '../arrow/row-reader.js';
import { filterRows } from './filter-rows.js';
import type { Transform } from './transform.js';

/**
 * {@link filterRows} with a per-row predicate over plain objects (the values
 * `batch.rows()` gives: int8 as `bigint`, numeric as exact `string`,
 * timestamps as ISO text, plus `_etl_op`, `_etl_lsn`, `_etl_seq`,
 * `_etl_unchanged`). Same semantics: failing inserts are removed, failing
 * updates become deletes, deletes are kept. Simpler to write, slower than a
 * vectorised predicate (one object per row).
 *
 * @example
 * ```ts
 * pipeline.transform(filterRowsBy('public.orders', (row) => row.status !== 'draft'));
 * ```
 */
export function filterRowsBy(table: string, predicate: (row: Record<string, unknown>) => boolean): Transform {
  return filterRows(table, (columns, numRows) => {
    const mask = new Uint8Array(numRows);
    const names = Object.keys(columns);
    for (let i = 0; i < numRows; i++) {
      mask[i] = predicate(rowAt(columns, names, i)) ? 1 : 0;
    }
    return mask;
  });
}

/** Row `i` as a plain object; each column of a record batch is one Arrow `Data`. */
function rowAt(
  columns: Record<string, Vector>,
  names: readonly string[],
  i: number,
): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const name of names) row[name] = valueAt(columns[name]!.data[0]!, i);
  return row;
}
