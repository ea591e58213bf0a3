import { qualifiedName } from '../change/table-schema.js';
import { configError } from '../errors.js';
import { TableRewriter } from './table-rewriter.js';
import type { Transform } from './transform.js';

/**
 * Renames tables as destinations see them: `{ 'public.orders': 'sales.orders' }`.
 * Keys and values are qualified names (`schema.table`); the value's schema
 * part is the Postgres schema destinations see (most map it to their own
 * schema or prefix). Tables not listed pass unchanged. Rows, schema-change
 * and truncate entries are all renamed, so `batch.rowsOf('sales.orders')`
 * finds the renamed rows.
 *
 * @example
 * ```ts
 * pipeline.transform(renameTables({ 'public.orders': 'public.shop_orders' }));
 * ```
 */
export function renameTables(renames: Readonly<Record<string, string>>): Transform {
  if (typeof renames !== 'object' || renames === null) {
    throw configError('renameTables', 'must map qualified table names to new qualified names');
  }
  const targets = new Map<string, { schema: string; name: string }>();
  for (const [from, to] of Object.entries(renames)) {
    const dot = typeof to === 'string' ? to.indexOf('.') : -1;
    if (!from.includes('.') || dot <= 0 || dot === to.length - 1) {
      throw configError(
        `renameTables["${from}"]`,
        'source and target must be qualified names like "public.orders"',
      );
    }
    targets.set(from, { schema: to.slice(0, dot), name: to.slice(dot + 1) });
  }
  const rewriter = new TableRewriter('renameTables', (table) => targets.get(qualifiedName(table)));
  return (batch) => rewriter.apply(batch);
}
