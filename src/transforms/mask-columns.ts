import { type Data, DataType, Utf8, vectorFromArray } from 'apache-arrow';
import { type ColumnSchema, qualifiedName } from '../change/table-schema.js';
import { configError, EtlError } from '../errors.js';
import { TableSettings } from './table-pattern.js';
import type { ColumnConverter } from './table-rewriter.js';
import { TableRewriter } from './table-rewriter.js';
import type { Transform } from './transform.js';

/** Postgres `text`: what a masked column becomes when replaced by fixed text. */
const TEXT_OID = 25;

/**
 * Replaces the values of the listed columns: with a fixed text (the column
 * becomes `text`; null values stay null, so "had a value" is still visible),
 * or with null (type kept). `{ table: { column: '***' | null } }`; keys are
 * table patterns, maps of several matches are merged. Key columns cannot be
 * masked (every row would get the same key): use {@link hashColumns}.
 * Old row images are masked too.
 *
 * @example
 * ```ts
 * pipeline.transform(maskColumns({ 'public.users': { email: '***', phone: null } }));
 * ```
 */
export function maskColumns(
  masks: Readonly<Record<string, Readonly<Record<string, string | null>>>>,
): Transform {
  const settings = new TableSettings(masks, 'maskColumns');
  for (const [pattern, map] of Object.entries(masks)) {
    if (
      typeof map !== 'object' ||
      map === null ||
      !Object.values(map).every((v) => v === null || typeof v === 'string')
    ) {
      throw configError(`maskColumns["${pattern}"]`, 'must map column names to a replacement text or null');
    }
  }
  const rewriter = new TableRewriter('maskColumns', (table) => {
    const maps = settings.for(qualifiedName(table));
    if (maps.length === 0) return undefined;
    const map: Record<string, string | null> = Object.assign({}, ...maps);
    return {
      columns: table.columns.map((c) => {
        if (!(c.name in map)) return { from: c.name, to: c.name };
        if (c.key) {
          throw new EtlError(
            'CONFIG_INVALID',
            `maskColumns cannot mask key column "${c.name}" of ${qualifiedName(table)}`,
            {
              hint: 'Use hashColumns for key columns: equal keys stay equal, so updates and deletes still apply.',
            },
          );
        }
        return { from: c.name, to: c.name, convert: maskWith(map[c.name] ?? null) };
      }),
    };
  });
  return (batch) => rewriter.apply(batch);
}

function maskWith(replacement: string | null): ColumnConverter {
  if (replacement === null) {
    return {
      schema: (c) => ({ ...c, nullable: true, arrowType: plainType(c.arrowType) }),
      data: (data, c) => vectorFromArray(new Array(data.length).fill(null), c.arrowType).data[0]!,
    };
  }
  return {
    schema: (c): ColumnSchema => ({
      ...c,
      typeOid: TEXT_OID,
      typeName: 'text',
      typeModifier: -1,
      arrowType: new Utf8(),
    }),
    data: (data: Data) => {
      const values: (string | null)[] = new Array(data.length);
      for (let i = 0; i < data.length; i++) values[i] = data.getValid(i) ? replacement : null;
      return vectorFromArray(values, new Utf8()).data[0]!;
    },
  };
}

/** Dictionary columns (enums) become plain text once every value is null. */
function plainType(type: DataType): DataType {
  return DataType.isDictionary(type) ? new Utf8() : type;
}
