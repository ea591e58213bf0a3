import { configError } from '../errors.js';

/**
 * A compiled table pattern: a qualified name `schema.table` where `*`
 * matches any run of characters (`public.*`, `*.audit_log`, `*`). Matching is
 * case-sensitive, like quoted Postgres names.
 *
 * @example
 * ```ts
 * tablePattern('public.order*', 'include')('public.orders'); // true
 * ```
 */
export function tablePattern(pattern: string, field: string): (table: string) => boolean {
  if (typeof pattern !== 'string' || pattern === '')
    throw configError(field, 'table patterns must be non-empty strings');
  if (pattern !== '*' && !pattern.includes('.')) {
    throw configError(
      field,
      `table pattern "${pattern}" has no schema`,
      `Write it qualified, e.g. "public.${pattern}" or "*.${pattern}".`,
    );
  }
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`);
  return (table) => re.test(table);
}

/**
 * Per-table settings keyed by table patterns, as column transforms take them
 * (`{ 'public.orders': [...], '*.users': [...] }`): {@link TableSettings.for}
 * returns the settings of every pattern that matches a table, in the order
 * they were given.
 */
export class TableSettings<T> {
  private readonly entries: { matches: (table: string) => boolean; value: T }[];

  constructor(settings: Readonly<Record<string, T>>, field: string) {
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      throw configError(field, 'must be an object keyed by table, e.g. { "public.orders": ... }');
    }
    this.entries = Object.entries(settings).map(([pattern, value]) => ({
      matches: tablePattern(pattern, `${field}["${pattern}"]`),
      value,
    }));
  }

  /** The settings of every pattern matching `table` (a qualified name). */
  for(table: string): T[] {
    return this.entries.filter((e) => e.matches(table)).map((e) => e.value);
  }
}
