import { createHash } from 'node:crypto';
import { type Data, Utf8, vectorFromArray } from 'apache-arrow';
import { valueAt } from '../arrow/row-reader.js';
import { type ColumnSchema, qualifiedName } from '../change/table-schema.js';
import { configError } from '../errors.js';
import { TableSettings } from './table-pattern.js';
import type { ColumnConverter } from './table-rewriter.js';
import { TableRewriter } from './table-rewriter.js';
import type { Transform } from './transform.js';

/** Options of {@link hashColumns}. */
export interface HashColumnsOptions {
  /**
   * Prepended to every value before hashing, so that hashes of guessable
   * values (emails, phone numbers) cannot be reversed with a dictionary.
   * Keep it secret and stable: changing it changes every hash.
   */
  readonly salt?: string;
}

/** Postgres `text`: what a hashed column becomes. */
const TEXT_OID = 25;

/**
 * Replaces the values of the listed columns with the SHA-256 of their exact
 * text (lowercase hex, 64 characters); the column becomes `text`, nulls stay
 * null. Equal values give equal hashes, so hashed key columns still identify
 * rows (updates and deletes apply) and joins on hashed columns still work.
 * The text hashed is the exact value (int8 and numeric digits, timestamps with
 * microseconds as ISO text); bytea hashes its bytes. Old row images are
 * hashed too.
 *
 * @example
 * ```ts
 * pipeline.transform(hashColumns({ 'public.users': ['email'] }, { salt: process.env.HASH_SALT }));
 * ```
 */
export function hashColumns(
  columns: Readonly<Record<string, readonly string[]>>,
  options: HashColumnsOptions = {},
): Transform {
  const settings = new TableSettings(columns, 'hashColumns');
  for (const [pattern, list] of Object.entries(columns)) {
    if (!Array.isArray(list) || !list.every((c) => typeof c === 'string')) {
      throw configError(`hashColumns["${pattern}"]`, 'must be a list of column names');
    }
  }
  if (options.salt !== undefined && typeof options.salt !== 'string') {
    throw configError('salt', 'must be a string');
  }
  const converter = hashWith(options.salt ?? '');
  const rewriter = new TableRewriter('hashColumns', (table) => {
    const lists = settings.for(qualifiedName(table));
    if (lists.length === 0) return undefined;
    const hashed = new Set(lists.flat());
    return {
      columns: table.columns.map((c) => ({
        from: c.name,
        to: c.name,
        ...(hashed.has(c.name) ? { convert: converter } : {}),
      })),
    };
  });
  return (batch) => rewriter.apply(batch);
}

function hashWith(salt: string): ColumnConverter {
  return {
    schema: (c): ColumnSchema => ({
      ...c,
      typeOid: TEXT_OID,
      typeName: 'text',
      typeModifier: -1,
      arrowType: new Utf8(),
    }),
    data: (data: Data) => {
      const hashes: (string | null)[] = new Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const value = valueAt(data, i);
        hashes[i] =
          value === null ? null : createHash('sha256').update(salt).update(hashInput(value)).digest('hex');
      }
      return vectorFromArray(hashes, new Utf8()).data[0]!;
    },
  };
}

/** The exact bytes or text of a value: bytes as they are, lists as JSON, the rest as their text. */
function hashInput(value: unknown): string | Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value))
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  return String(value);
}
