import {
  Decimal,
  Int32,
  Int64,
  makeData,
  makeVector,
  Table,
  Type,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import type { RowsEntry } from '../../change/change-entry.js';
import {
  ChangeOp,
  LSN_COLUMN,
  OP_COLUMN,
  SEQ_COLUMN,
  UNCHANGED_COLUMN,
} from '../../change/metadata-columns.js';
import { qualifiedName } from '../../change/table-schema.js';
import { EtlError } from '../../errors.js';
import { listToJsonText } from './json-text.js';
import {
  STAGING_MOVED_FROM_COLUMN,
  STAGING_UNCHANGED_COLUMN,
  TARGET_LSN_COLUMN,
  TARGET_OP_COLUMN,
  TARGET_SEQ_COLUMN,
} from './naming.js';
import type { StagingForm } from './snowflake-type.js';

/** A table's rows, shaped for its staging table, ready for Parquet encoding. */
export interface StagedTable {
  /** User columns under their Snowflake names, then `_ETL_OP`, `_ETL_LSN`, `_ETL_SEQ`, `_ETL_UNCHANGED`. */
  readonly table: Table;
  /** 1-based positions of the user columns some change left unchanged (TOAST). */
  readonly unchangedPositions: ReadonlySet<number>;
  /** Number of rows. */
  readonly rows: number;
  /** Some key change left columns unchanged (`_ETL_MOVED_FROM` is set). */
  readonly moves: boolean;
}

/** How the user columns of a table are staged. */
export interface StagingLayout {
  /** Snowflake column names, one per source column, in source order. */
  readonly names: readonly string[];
  /** Staging form per source column. */
  readonly forms: readonly StagingForm[];
}

/**
 * Converts a rows entry to the staging shape:
 * - user columns renamed; JSON-form columns as text (arrays rendered as JSON,
 *   json/jsonb kept verbatim), dictionaries and 16-byte uuids as text, time
 *   and timestamp (without time zone) as their Int64 microseconds;
 * - `_etl_op` → `_ETL_OP` Int32; `_etl_lsn` (Uint64) → `_ETL_LSN`
 *   Decimal128(20,0), since Parquet has no unsigned 64-bit Snowflake reads as
 *   NUMBER and 20 digits hold every uint64; `_etl_seq` → `_ETL_SEQ` Int64 plus
 *   `seqOffset` (chunks of one transaction are numbered apart);
 * - `_etl_unchanged` (List<Utf8> of names) → `_ETL_UNCHANGED`, null or one
 *   `0`/`1` character per user column, which the MERGE reads with SUBSTR.
 */
export function toStagedTable(entry: RowsEntry, layout: StagingLayout, seqOffset = 0n): StagedTable {
  const rb = entry.data;
  const n = rb.numRows;
  const columns: Record<string, Vector> = {};
  entry.table.columns.forEach((col, i) => {
    const source = rb.getChild(col.name);
    const name = layout.names[i]!;
    if (!source) return; // not in this batch: COPY leaves it null
    columns[name] = stageUserColumn(source, layout.forms[i]!, col.typeName, {
      table: qualifiedName(entry.table),
      column: col.name,
    });
  });
  const ops = new Int32Array(n);
  const lsnWords = new Uint32Array(n * 4);
  const seqs = new BigInt64Array(n);
  const op = valuesOf<Uint8Array>(rb, OP_COLUMN);
  const lsn = valuesOf<BigUint64Array>(rb, LSN_COLUMN);
  const seq = valuesOf<Uint32Array>(rb, SEQ_COLUMN);
  for (let r = 0; r < n; r++) {
    ops[r] = op ? op[r]! : 0;
    const l = lsn ? lsn[r]! : 0n;
    lsnWords[r * 4] = Number(l & 0xffffffffn);
    lsnWords[r * 4 + 1] = Number(l >> 32n);
    seqs[r] = BigInt(seq ? seq[r]! : r) + seqOffset;
  }
  columns[TARGET_OP_COLUMN] = makeVector(makeData({ type: new Int32(), length: n, data: ops }));
  columns[TARGET_LSN_COLUMN] = makeVector(
    makeData({ type: new Decimal(0, 20, 128), length: n, data: lsnWords }),
  );
  columns[TARGET_SEQ_COLUMN] = makeVector(makeData({ type: new Int64(), length: n, data: seqs }));
  const { masks, positions } = unchangedMasks(entry);
  columns[STAGING_UNCHANGED_COLUMN] = vectorFromArray(masks, new Utf8());
  // A key change arrives as a DELETE of the old key right before the UPDATE of the new one
  // (same transaction, consecutive seq); when that UPDATE left TOAST columns unchanged, the
  // MERGE finds their values under the old key.
  const moved: (bigint | null)[] = new Array(n).fill(null);
  let moves = false;
  for (let r = 1; r < n; r++) {
    if (
      ops[r] === ChangeOp.Update &&
      masks[r] !== null &&
      ops[r - 1] === ChangeOp.Delete &&
      seqs[r - 1]! + 1n === seqs[r] &&
      lsnWords[r * 4] === lsnWords[(r - 1) * 4] &&
      lsnWords[r * 4 + 1] === lsnWords[(r - 1) * 4 + 1]
    ) {
      moved[r] = seqs[r - 1]!;
      moves = true;
    }
  }
  columns[STAGING_MOVED_FROM_COLUMN] = vectorFromArray(moved, new Int64());
  return { table: new Table(columns), unchangedPositions: positions, rows: n, moves };
}

/** The value buffer of a single-chunk, null-free metadata column (Arrow JS slices it to the rows). */
function valuesOf<T>(rb: RowsEntry['data'], name: string): T | undefined {
  const data = rb.getChild(name)?.data;
  return data && data.length === 1 ? (data[0]!.values as T) : undefined;
}

/** Microseconds in a day: Snowflake's TIME ends at 23:59:59.999999999, PostgreSQL's at 24:00:00. */
const US_PER_DAY = 86_400_000_000n;

function stageUserColumn(
  source: Vector,
  form: StagingForm,
  typeName: string,
  where: { table: string; column: string },
): Vector {
  const type = source.type;
  if (form === 'time-micros' || form === 'ntz-micros') {
    // The integer microseconds, as a plain INT64 Parquet column.
    const values: (bigint | null)[] = [];
    for (const data of source.data) {
      const raw = data.values as BigInt64Array;
      for (let i = 0; i < data.length; i++) values.push(data.getValid(i) ? BigInt(raw[i]!) : null);
    }
    if (form === 'time-micros' && values.some((v) => v !== null && v >= US_PER_DAY)) {
      // TIME_FROM_PARTS would wrap 24:00:00 to 00:00:00: refuse instead of changing the value.
      throw new EtlError(
        'VALUE_UNREPRESENTABLE',
        `Column "${where.column}" of ${where.table} holds the time 24:00:00, which a Snowflake TIME cannot hold (it ends at 23:59:59.999999999)`,
        {
          details: { ...where, value: '24:00:00' },
          hint: 'Update the value in PostgreSQL (e.g. to 23:59:59.999999), or map the column to text with a transform before the Snowflake destination.',
        },
      );
    }
    return vectorFromArray(values, new Int64());
  }
  if (form === 'json' && type.typeId === Type.List) {
    const values: (string | null)[] = [];
    for (const data of source.data)
      for (let i = 0; i < data.length; i++) values.push(listToJsonText(data, i, typeName));
    return vectorFromArray(values, new Utf8());
  }
  if (type.typeId === Type.Dictionary || type.typeId === Type.FixedSizeBinary) {
    const values: (string | null)[] = [];
    for (let i = 0; i < source.length; i++) {
      const v = source.get(i) as unknown;
      values.push(v === null || v === undefined ? null : v instanceof Uint8Array ? uuidText(v) : String(v));
    }
    return vectorFromArray(values, new Utf8());
  }
  return source;
}

function uuidText(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Renders each row's unchanged-column list as a position mask and collects the positions used. */
function unchangedMasks(entry: RowsEntry): { masks: (string | null)[]; positions: Set<number> } {
  const rb = entry.data;
  const col = rb.getChild(UNCHANGED_COLUMN);
  const positions = new Set<number>();
  const masks: (string | null)[] = new Array(rb.numRows).fill(null);
  if (!col || col.nullCount === rb.numRows) return { masks, positions };
  const index = new Map(entry.table.columns.map((c, i) => [c.name, i]));
  const width = entry.table.columns.length;
  for (let r = 0; r < rb.numRows; r++) {
    const names = col.get(r) as Vector | null;
    if (!names || names.length === 0) continue;
    const chars = new Array<string>(width).fill('0');
    for (let k = 0; k < names.length; k++) {
      const i = index.get(String(names.get(k)));
      if (i === undefined) continue;
      chars[i] = '1';
      positions.add(i + 1);
    }
    masks[r] = chars.join('');
  }
  return { masks, positions };
}
