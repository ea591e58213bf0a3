/**
 * Hand-built batches for the transform tests: `public.orders(id int8 key,
 * customer text, card_number text, total float8, tags text[])` and
 * `public.items(id int4 key, label text)`.
 */
import {
  type DataType,
  Field,
  Float64,
  Int32,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Uint8,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { readRow } from '../../../src/arrow/row-reader.js';
import { ChangeBatch } from '../../../src/change/change-batch.js';
import type { ChangeEntry } from '../../../src/change/change-entry.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import type { ColumnSchema, TableSchema } from '../../../src/change/table-schema.js';

export { ChangeOp };

const text = (): DataType => new Utf8();
const textList = () => new List(new Field('item', new Utf8(), true));

function column(
  name: string,
  typeOid: number,
  typeName: string,
  arrowType: DataType,
  key = false,
): ColumnSchema {
  return { name, typeOid, typeName, typeModifier: -1, arrowType, nullable: !key, key };
}

export const ORDERS: TableSchema = {
  id: 100,
  schema: 'public',
  name: 'orders',
  columns: [
    column('id', 20, 'bigint', new Int64(), true),
    column('customer', 25, 'text', text()),
    column('card_number', 25, 'text', text()),
    column('total', 701, 'double precision', new Float64()),
    column('tags', 1009, 'text[]', textList()),
  ],
  primaryKey: ['id'],
  replicaIdentity: 'default',
};

export const ITEMS: TableSchema = {
  id: 101,
  schema: 'public',
  name: 'items',
  columns: [column('id', 23, 'integer', new Int32(), true), column('label', 25, 'text', text())],
  primaryKey: ['id'],
  replicaIdentity: 'default',
};

/** One change: user values by column name, plus metadata. */
export interface Change {
  values: Record<string, unknown>;
  op: ChangeOp;
  lsn: bigint;
  seq: number;
  unchanged?: string[] | null;
}

/** A record batch of `table`'s user columns plus the metadata columns. */
export function rowsBatch(table: TableSchema, changes: Change[]): RecordBatch {
  const unchangedType = textList();
  const fields = [
    ...table.columns.map((c) => new Field(c.name, c.arrowType, c.nullable)),
    new Field('_etl_op', new Uint8(), false),
    new Field('_etl_lsn', new Uint64(), false),
    new Field('_etl_seq', new Uint32(), false),
    new Field('_etl_unchanged', unchangedType, true),
  ];
  const vectors = [
    ...table.columns.map((c) =>
      vectorFromArray(changes.map((ch) => ch.values[c.name] ?? null) as never[], c.arrowType),
    ),
    vectorFromArray(
      changes.map((c) => c.op),
      new Uint8(),
    ),
    vectorFromArray(
      changes.map((c) => c.lsn),
      new Uint64(),
    ),
    vectorFromArray(
      changes.map((c) => c.seq),
      new Uint32(),
    ),
    vectorFromArray(
      changes.map((c) => c.unchanged ?? null),
      unchangedType,
    ),
  ];
  const data = makeData({
    type: new Struct(fields),
    length: changes.length,
    nullCount: 0,
    children: vectors.map((v) => v.data[0]!),
  });
  return new RecordBatch(new Schema(fields), data);
}

/** A batch of the given entries, checkpoint at commit LSN 0x100. */
export function batchOf(entries: ChangeEntry[]): ChangeBatch {
  return new ChangeBatch({
    firstLsn: 0x10n,
    checkpoint: { lsn: 0x101n, commitLsn: 0x100n },
    transactions: 1,
    lastCommitTimeUs: 0n,
    entries,
  });
}

/** Every row of a record batch as plain objects (exact values). */
export function tableRows(rb: RecordBatch): Record<string, unknown>[] {
  return Array.from({ length: rb.numRows }, (_, i) => readRow(rb, i));
}

/** Field names and type names of a record batch. */
export function fieldsOf(rb: RecordBatch): string[] {
  return rb.schema.fields.map((f) => `${f.name}: ${String(f.type)}`);
}

/** A typical orders batch: insert 1, insert 2, update 1 (card and tags unchanged), delete 2. */
export function ordersChanges(): Change[] {
  return [
    {
      values: { id: 1n, customer: 'ann', card_number: '4111', total: 10.5, tags: ['a'] },
      op: ChangeOp.Insert,
      lsn: 0x10n,
      seq: 0,
    },
    {
      values: { id: 2n, customer: 'bob', card_number: '5500', total: 200, tags: null },
      op: ChangeOp.Insert,
      lsn: 0x10n,
      seq: 1,
    },
    {
      values: { id: 1n, customer: 'ann b', total: 11 },
      op: ChangeOp.Update,
      lsn: 0x20n,
      seq: 2,
      unchanged: ['card_number', 'tags'],
    },
    { values: { id: 2n }, op: ChangeOp.Delete, lsn: 0x20n, seq: 3 },
  ];
}

/** Old row images: `table`'s user columns plus `_etl_seq`. */
export function beforeBatch(table: TableSchema, changes: Omit<Change, 'op' | 'lsn'>[]): RecordBatch {
  const fields = [
    ...table.columns.map((c) => new Field(c.name, c.arrowType, c.nullable)),
    new Field('_etl_seq', new Uint32(), false),
  ];
  const vectors = [
    ...table.columns.map((c) =>
      vectorFromArray(changes.map((ch) => ch.values[c.name] ?? null) as never[], c.arrowType),
    ),
    vectorFromArray(
      changes.map((c) => c.seq),
      new Uint32(),
    ),
  ];
  const data = makeData({
    type: new Struct(fields),
    length: changes.length,
    nullCount: 0,
    children: vectors.map((v) => v.data[0]!),
  });
  return new RecordBatch(new Schema(fields), data);
}
