/**
 * The type matrix of the decoder's test (test/integration/decoder/type-matrix.test.ts):
 * every DESIGN §4 type and arrays of each, with edge values — minus the
 * values a Snowflake column cannot hold, which type-matrix.test.ts covers on
 * their own:
 * - the time `24:00:00` (Snowflake's TIME ends at 23:59:59.999999999; as an
 *   array element it is text and stays);
 * - years after 9999 (Snowflake recommends 1582–9999 and accepts only "some"
 *   years outside; the emulator, on DuckDB, would hold them, real Snowflake
 *   is not known to);
 * - the jsonb number `-1e400` (401 digits: a VARIANT keeps 38 digits exactly).
 * Every other value of the decoder's matrix is here, BC dates and 1000-digit
 * numerics included.
 */
import type { TestDatabase } from '../../../support/postgres.js';
import {
  createMatrixTypes as createDecoderMatrixTypes,
  CORE as DECODER_CORE,
  OTHER as DECODER_OTHER,
  type MatrixColumn,
} from '../../decoder/type-matrix-cases.js';

export type { MatrixColumn };

/** Values of the decoder's matrix that a Snowflake column cannot hold (see above), by column. */
function holdable(column: MatrixColumn): MatrixColumn {
  const values = column.values
    .filter((v) => !(column.type === 'time' && v === "'24:00:00'") && !/^'200000-/.test(v))
    .map((v) => v.replace(', "neg": -1e400', ''));
  return { ...column, values };
}

/** The decoder's first table, as Snowflake can hold it. */
export const CORE: MatrixColumn[] = DECODER_CORE.map(holdable);

/** The decoder's second table, as Snowflake can hold it. */
export const OTHER: MatrixColumn[] = DECODER_OTHER.map(holdable);

/** The enum, domains and extension the matrix uses. */
export async function createMatrixTypes(db: TestDatabase): Promise<void> {
  await createDecoderMatrixTypes((sql) => db.query(sql));
}

/** One VALUES tuple per row: row i holds each column's i-th value (NULL when a column has fewer); ids from `firstId`. */
export function rowsOf(columns: readonly MatrixColumn[], firstId: number): string[] {
  const n = Math.max(...columns.map((c) => c.values.length));
  const rows: string[] = [];
  for (let i = 0; i <= n; i++)
    rows.push(`(${[String(firstId + i), ...columns.map((c) => c.values[i] ?? 'NULL')].join(', ')})`);
  return rows;
}
