import type { ChangeEntry } from '../change/change-entry.js';
import { qualifiedName } from '../change/table-schema.js';
import { configError } from '../errors.js';
import { tablePattern } from './table-pattern.js';
import type { Transform } from './transform.js';

/** Options of {@link filterTables}: give `include`, `exclude`, or both. */
export interface FilterTablesOptions {
  /** Table patterns to keep (`public.*`, `sales.orders`); absent keeps every table. */
  readonly include?: readonly string[];
  /** Table patterns to remove, applied after `include`. */
  readonly exclude?: readonly string[];
}

/**
 * Keeps the changes of some tables only. Rows and schema changes of other
 * tables are removed, and they are taken out of truncate entries (an entry
 * left with no table is removed). The batch keeps its LSN range and
 * checkpoint even when nothing is left, so its position is still confirmed.
 * Patterns are qualified names where `*` matches anything.
 *
 * @example
 * ```ts
 * pipeline.transform(filterTables({ include: ['public.*'], exclude: ['public.audit_*'] }));
 * ```
 */
export function filterTables(options: FilterTablesOptions): Transform {
  const { include, exclude } = options ?? {};
  if (include === undefined && exclude === undefined) {
    throw configError('include', 'give `include` or `exclude` table patterns');
  }
  for (const [field, list] of [
    ['include', include],
    ['exclude', exclude],
  ] as const) {
    if (list !== undefined && !Array.isArray(list))
      throw configError(field, 'must be a list of table patterns');
  }
  const included = include?.map((p, i) => tablePattern(p, `include[${i}]`));
  const excluded = exclude?.map((p, i) => tablePattern(p, `exclude[${i}]`)) ?? [];
  const keeps = (table: { schema: string; name: string }): boolean => {
    const name = qualifiedName(table);
    return (!included || included.some((m) => m(name))) && !excluded.some((m) => m(name));
  };
  return (batch) => {
    const entries: ChangeEntry[] = [];
    for (const entry of batch.entries) {
      if (entry.kind !== 'truncate') {
        if (keeps(entry.table)) entries.push(entry);
        continue;
      }
      const tables = entry.tables.filter(keeps);
      if (tables.length === entry.tables.length) entries.push(entry);
      else if (tables.length > 0) entries.push({ ...entry, tables });
    }
    return entries.length === batch.entries.length ? batch : batch.withEntries(entries);
  };
}
