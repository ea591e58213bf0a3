/**
 * Hand-built change batches for tests of the runtime, transforms and
 * destinations: a tiny `items(id int4 key, label text)` table.
 */
import {
  Field,
  Int32,
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
import { ChangeBatch } from '../../src/change/change-batch.js';
import type { ChangeOp } from '../../src/change/metadata-columns.js';
import type { TableSchema } from '../../src/change/table-schema.js';

export const ITEMS: TableSchema = {
  id: 1,
  schema: 'public',
  name: 'items',
  columns: [
    {
      name: 'id',
      typeOid: 23,
      typeName: 'integer',
      typeModifier: -1,
      arrowType: new Int32(),
      nullable: false,
      key: true,
    },
    {
      name: 'label',
      typeOid: 25,
      typeName: 'text',
      typeModifier: -1,
      arrowType: new Utf8(),
      nullable: true,
      key: false,
    },
  ],
  primaryKey: ['id'],
  replicaIdentity: 'default',
};

/** One change of an `items` row. */
export interface ItemChange {
  id: number;
  label: string | null;
  op: ChangeOp;
  lsn: bigint;
  unchanged?: string[];
}

/** A RecordBatch of `items` changes with the metadata columns. */
export function itemsRecordBatch(changes: ItemChange[]): RecordBatch {
  const unchangedType = new List(new Field('item', new Utf8(), true));
  const vectors = [
    vectorFromArray(
      changes.map((c) => c.id),
      new Int32(),
    ),
    vectorFromArray(
      changes.map((c) => c.label),
      new Utf8(),
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
      changes.map((_, i) => i),
      new Uint32(),
    ),
    vectorFromArray(
      changes.map((c) => c.unchanged ?? null),
      unchangedType,
    ),
  ];
  const schema = new Schema([
    new Field('id', new Int32(), false),
    new Field('label', new Utf8(), true),
    new Field('_etl_op', new Uint8(), false),
    new Field('_etl_lsn', new Uint64(), false),
    new Field('_etl_seq', new Uint32(), false),
    new Field('_etl_unchanged', unchangedType, true),
  ]);
  const data = makeData({
    type: new Struct(schema.fields),
    length: changes.length,
    nullCount: 0,
    children: vectors.map((v) => v.data[0]!),
  });
  return new RecordBatch(schema, data);
}

/**
 * A batch of one transaction per distinct LSN among `changes`. The checkpoint
 * is the last transaction's commit LSN and end LSN (commit + 1).
 */
export function itemsBatch(changes: ItemChange[]): ChangeBatch {
  const lsns = [...new Set(changes.map((c) => c.lsn))];
  const last = lsns[lsns.length - 1] ?? 0n;
  return new ChangeBatch({
    firstLsn: lsns[0] ?? 0n,
    checkpoint: { lsn: last + 1n, commitLsn: last },
    transactions: lsns.length,
    lastCommitTimeUs: 0n,
    entries: changes.length ? [{ kind: 'rows', table: ITEMS, data: itemsRecordBatch(changes) }] : [],
  });
}
