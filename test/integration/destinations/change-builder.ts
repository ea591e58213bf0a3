/**
 * Hand-built change batches for destination tests: tables declared with
 * their columns, rows given as plain values (decimals as text, timestamps as
 * bigint microseconds), metadata given per change.
 */
import {
  type Data,
  type DataType,
  type Decimal,
  Field,
  Int32,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Type,
  Uint8,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { ChangeBatch } from '../../../src/change/change-batch.js';
import type { ChangeEntry } from '../../../src/change/change-entry.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import type { ColumnSchema, TableSchema } from '../../../src/change/table-schema.js';

export { ChangeOp };

export function col(name: string, typeName: string, arrowType: DataType, key = false): ColumnSchema {
  return { name, typeOid: 0, typeName, typeModifier: -1, arrowType, nullable: !key, key };
}

export function table(schema: string, name: string, columns: ColumnSchema[]): TableSchema {
  return {
    id: name.length,
    schema,
    name,
    columns,
    primaryKey: columns.filter((c) => c.key).map((c) => c.name),
    replicaIdentity: 'default',
  };
}

/** `public.docs(id int8 key, title text, body text)`: body stands for a TOASTed column. */
export const DOCS = table('public', 'docs', [
  col('id', 'bigint', new Int64(), true),
  col('title', 'text', new Utf8()),
  col('body', 'text', new Utf8()),
]);

/** DOCS after `ALTER TABLE docs ADD COLUMN rating integer`. */
export const DOCS_V2 = table('public', 'docs', [...DOCS.columns, col('rating', 'integer', new Int32())]);

/** `public.events(msg text)`: no key. */
export const EVENTS = table('public', 'events', [col('msg', 'text', new Utf8())]);

export interface Change {
  op: ChangeOp;
  lsn: bigint;
  values: Record<string, unknown>;
  unchanged?: string[];
}

const ins = (lsn: bigint, values: Record<string, unknown>): Change => ({ op: ChangeOp.Insert, lsn, values });
const upd = (lsn: bigint, values: Record<string, unknown>, unchanged?: string[]): Change => ({
  op: ChangeOp.Update,
  lsn,
  values,
  ...(unchanged ? { unchanged } : {}),
});
const del = (lsn: bigint, values: Record<string, unknown>): Change => ({ op: ChangeOp.Delete, lsn, values });
export const change = { ins, upd, del };

/** Arrow data for one column's values: decimals from text, timestamps from bigint µs, the rest by vectorFromArray. */
function columnData(type: DataType, values: unknown[]): Data {
  if (type.typeId === Type.Decimal) {
    const { scale } = type as Decimal;
    const words = new Uint32Array(values.length * 4);
    const valid = new Uint8Array(Math.ceil(values.length / 8));
    let nulls = 0;
    values.forEach((v, i) => {
      if (v === null || v === undefined) {
        nulls++;
        return;
      }
      valid[i >> 3]! |= 1 << (i & 7);
      const [whole, frac = ''] = String(v).replace('-', '').split('.');
      let n = BigInt(whole + frac.padEnd(scale, '0'));
      if (String(v).startsWith('-')) n = (1n << 128n) - n;
      for (let w = 0; w < 4; w++) {
        words[i * 4 + w] = Number(n & 0xffffffffn);
        n >>= 32n;
      }
    });
    return makeData({
      type: type as Decimal,
      length: values.length,
      nullCount: nulls,
      nullBitmap: valid,
      data: words,
    });
  }
  if (type.typeId === Type.Timestamp || type.typeId === Type.Time) {
    const valid = new Uint8Array(Math.ceil(values.length / 8));
    let nulls = 0;
    const data = new BigInt64Array(values.length);
    values.forEach((v, i) => {
      if (v === null || v === undefined) nulls++;
      else {
        valid[i >> 3]! |= 1 << (i & 7);
        data[i] = v as bigint;
      }
    });
    return makeData({
      type: type as never,
      length: values.length,
      nullCount: nulls,
      nullBitmap: valid,
      data,
    } as never);
  }
  return vectorFromArray(values as never[], type).data[0]!;
}

/** A rows entry; `_etl_seq` is `seq` + position, or `seq[position]` when a list is given. */
export function rows(t: TableSchema, changes: Change[], seq: number | number[] = 0): ChangeEntry {
  const seqs = Array.isArray(seq) ? seq : changes.map((_, i) => seq + i);
  const unchangedType = new List(new Field('item', new Utf8(), true));
  const fields = [
    ...t.columns.map((c) => new Field(c.name, c.arrowType, c.nullable)),
    new Field('_etl_op', new Uint8(), false),
    new Field('_etl_lsn', new Uint64(), false),
    new Field('_etl_seq', new Uint32(), false),
    new Field('_etl_unchanged', unchangedType, true),
  ];
  const children = [
    ...t.columns.map((c) =>
      columnData(
        c.arrowType,
        changes.map((ch) => ch.values[c.name] ?? null),
      ),
    ),
    vectorFromArray(
      changes.map((c) => c.op),
      new Uint8(),
    ).data[0]!,
    vectorFromArray(
      changes.map((c) => c.lsn),
      new Uint64(),
    ).data[0]!,
    vectorFromArray(seqs, new Uint32()).data[0]!,
    vectorFromArray(
      changes.map((c) => c.unchanged ?? null),
      unchangedType,
    ).data[0]!,
  ];
  const data = makeData({ type: new Struct(fields), length: changes.length, nullCount: 0, children });
  return { kind: 'rows', table: t, data: new RecordBatch(new Schema(fields), data) };
}

export function truncate(tables: TableSchema[], lsn: bigint, seq: number): ChangeEntry {
  return { kind: 'truncate', tables, cascade: false, restartIdentity: false, lsn, seq };
}

export function schemaChange(
  t: TableSchema,
  previous: TableSchema | undefined,
  lsn: bigint,
  seq: number,
): ChangeEntry {
  return { kind: 'schema', table: t, previous, lsn, seq };
}

/** A batch whose transactions run from `firstLsn` to `commitLsn` (end LSN = commit + 1). */
export function batch(
  firstLsn: bigint,
  commitLsn: bigint,
  entries: ChangeEntry[],
  partial = false,
): ChangeBatch {
  return new ChangeBatch({
    firstLsn,
    checkpoint: { lsn: commitLsn + 1n, commitLsn },
    transactions: 1,
    lastCommitTimeUs: 0n,
    entries,
    partial,
  });
}
