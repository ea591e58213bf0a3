import { qualifiedName } from '../change/table-schema.js';
import { configError } from '../errors.js';
import { TableSettings } from './table-pattern.js';
import { TableRewriter } from './table-rewriter.js';
import type { Transform } from './transform.js';

/**
 * Renames columns of the matching tables: `{ table: { oldName: newName } }`.
 * Keys are table patterns; when several match, their maps are merged (later
 * ones win). Names a table does not have are ignored. Key columns may be
 * renamed (the `TableSchema`'s primary key follows); two columns ending up
 * with the same name is refused with `CONFIG_INVALID`.
 *
 * Row data, old row images, `_etl_unchanged` and the `TableSchema` of rows,
 * schema and truncate entries are all updated.
 *
 * @example
 * ```ts
 * pipeline.transform(renameColumns({ 'public.orders': { total: 'amount', created: 'created_at' } }));
 * ```
 */
export function renameColumns(
  renames: Readonly<Record<string, Readonly<Record<string, string>>>>,
): Transform {
  const settings = new TableSettings(renames, 'renameColumns');
  for (const [pattern, map] of Object.entries(renames)) {
    if (
      typeof map !== 'object' ||
      map === null ||
      !Object.values(map).every((v) => typeof v === 'string' && v)
    ) {
      throw configError(`renameColumns["${pattern}"]`, 'must map old column names to new, non-empty names');
    }
  }
  const rewriter = new TableRewriter('renameColumns', (table) => {
    const maps = settings.for(qualifiedName(table));
    if (maps.length === 0) return undefined;
    const map: Record<string, string> = Object.assign({}, ...maps);
    return { columns: table.columns.map((c) => ({ from: c.name, to: map[c.name] ?? c.name })) };
  });
  return (batch) => rewriter.apply(batch);
}
