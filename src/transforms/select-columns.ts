import { qualifiedName } from '../change/table-schema.js';
import { configError } from '../errors.js';
import { TableSettings } from './table-pattern.js';
import { TableRewriter } from './table-rewriter.js';
import type { Transform } from './transform.js';

/**
 * Keeps only the listed columns of the matching tables (in table order);
 * other tables pass unchanged. Keys are table patterns (`public.orders`,
 * `public.*`); when several match, their lists add up. Listed columns a
 * table does not have are ignored. Key columns must be listed: a table
 * without its key could not be updated or deleted in a destination (the
 * transform fails with `CONFIG_INVALID` naming the table).
 *
 * Row data, old row images, `_etl_unchanged` and the `TableSchema` of rows,
 * schema and truncate entries are all updated; metadata columns are kept.
 *
 * @example
 * ```ts
 * pipeline.transform(selectColumns({ 'public.orders': ['id', 'status', 'total'] }));
 * ```
 */
export function selectColumns(columns: Readonly<Record<string, readonly string[]>>): Transform {
  const settings = new TableSettings(columns, 'selectColumns');
  for (const [pattern, list] of Object.entries(columns)) {
    if (!Array.isArray(list) || !list.every((c) => typeof c === 'string')) {
      throw configError(`selectColumns["${pattern}"]`, 'must be a list of column names');
    }
  }
  const rewriter = new TableRewriter('selectColumns', (table) => {
    const lists = settings.for(qualifiedName(table));
    if (lists.length === 0) return undefined;
    const keep = new Set(lists.flat());
    return {
      columns: table.columns.filter((c) => keep.has(c.name)).map((c) => ({ from: c.name, to: c.name })),
    };
  });
  return (batch) => rewriter.apply(batch);
}
