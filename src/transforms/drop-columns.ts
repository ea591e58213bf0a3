import { qualifiedName } from '../change/table-schema.js';
import { configError } from '../errors.js';
import { TableSettings } from './table-pattern.js';
import { TableRewriter } from './table-rewriter.js';
import type { Transform } from './transform.js';

/**
 * Removes the listed columns from the matching tables, so they never reach
 * a destination (e.g. card numbers, password hashes). Keys are table patterns
 * (`public.orders`, `*.users`); when several match, their lists add up.
 * Listed columns a table does not have are ignored. Dropping a key column is
 * refused with `CONFIG_INVALID` (hash it with {@link hashColumns} instead).
 *
 * Row data, old row images, `_etl_unchanged` and the `TableSchema` of rows,
 * schema and truncate entries are all updated; metadata columns are kept.
 *
 * @example
 * ```ts
 * pipeline.transform(dropColumns({ 'public.orders': ['card_number'], '*.users': ['password_hash'] }));
 * ```
 */
export function dropColumns(columns: Readonly<Record<string, readonly string[]>>): Transform {
  const settings = new TableSettings(columns, 'dropColumns');
  for (const [pattern, list] of Object.entries(columns)) {
    if (!Array.isArray(list) || !list.every((c) => typeof c === 'string')) {
      throw configError(`dropColumns["${pattern}"]`, 'must be a list of column names');
    }
  }
  const rewriter = new TableRewriter('dropColumns', (table) => {
    const lists = settings.for(qualifiedName(table));
    if (lists.length === 0) return undefined;
    const drop = new Set(lists.flat());
    return {
      columns: table.columns.filter((c) => !drop.has(c.name)).map((c) => ({ from: c.name, to: c.name })),
    };
  });
  return (batch) => rewriter.apply(batch);
}
