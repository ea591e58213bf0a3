/**
 * Builds `public.orders` change batches by hand, the way the Postgres source
 * produces them: user columns plus the metadata columns, one Arrow
 * RecordBatch per table. For the examples, which run without a database.
 */
import {
  Field,
  Float64,
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
import { ChangeBatch, ChangeOp, maxLsn, type TableSchema } from 'etl-stream';

export { ChangeOp };

export const ORDERS: TableSchema = {
  id: 16384,
  schema: 'public',
  name: 'orders',
  columns: [
    {
      name: 'id',
      typeOid: 20,
      typeName: 'bigint',
      typeModifier: -1,
      arrowType: new Int64(),
      nullable: false,
      key: true,
    },
    {
      name: 'customer',
      typeOid: 25,
      typeName: 'text',
      typeModifier: -1,
      arrowType: new Utf8(),
      nullable: true,
      key: false,
    },
    {
      name: 'email',
      typeOid: 25,
      typeName: 'text',
      typeModifier: -1,
      arrowType: new Utf8(),
      nullable: true,
      key: false,
    },
    {
      name: 'card_number',
      typeOid: 25,
      typeName: 'text',
      typeModifier: -1,
      arrowType: new Utf8(),
      nullable: true,
      key: false,
    },
    {
      name: 'total',
      typeOid: 701,
      typeName: 'double precision',
      typeModifier: -1,
      arrowType: new Float64(),
      nullable: true,
      key: false,
    },
    {
      name: 'status',
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

/** One change of an order: its values, what happened, its commit LSN, and the columns left unchanged (TOAST). */
export interface OrderChange {
  readonly op: ChangeOp;
  readonly lsn: bigint;
  readonly row: {
    id: bigint;
    customer?: string;
    email?: string;
    card_number?: string;
    total?: number;
    status?: string;
  };
  readonly unchanged?: string[];
}

/** A batch of whole transactions of `public.orders`; `_etl_seq` follows the order given. */
export function ordersBatch(changes: OrderChange[]): ChangeBatch {
  const unchangedType = new List(new Field('item', new Utf8(), true));
  const fields = [
    ...ORDERS.columns.map((c) => new Field(c.name, c.arrowType, c.nullable)),
    new Field('_etl_op', new Uint8(), false),
    new Field('_etl_lsn', new Uint64(), false),
    new Field('_etl_seq', new Uint32(), false),
    new Field('_etl_unchanged', unchangedType, true),
  ];
  const columns = [
    ...ORDERS.columns.map((c) =>
      vectorFromArray(
        changes.map((ch) => (ch.row as Record<string, unknown>)[c.name] ?? null) as never[],
        c.arrowType,
      ),
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
  const data = makeData({
    type: new Struct(fields),
    length: changes.length,
    nullCount: 0,
    children: columns.map((v) => v.data[0]!),
  });
  const lsns = changes.map((c) => c.lsn);
  const last = lsns.reduce(maxLsn, 0n);
  return new ChangeBatch({
    firstLsn: lsns[0] ?? 0n,
    checkpoint: { lsn: last + 1n, commitLsn: last },
    transactions: new Set(lsns).size,
    lastCommitTimeUs: 0n,
    entries: [{ kind: 'rows', table: ORDERS, data: new RecordBatch(new Schema(fields), data) }],
  });
}

/** A few orders placed, paid and cancelled over three transactions. */
export function sampleBatch(): ChangeBatch {
  return ordersBatch([
    {
      op: ChangeOp.Insert,
      lsn: 0x1000n,
      row: {
        id: 1n,
        customer: 'Ann',
        email: 'ann@example.com',
        card_number: '4111111111111111',
        total: 42.5,
        status: 'new',
      },
    },
    {
      op: ChangeOp.Insert,
      lsn: 0x1000n,
      row: {
        id: 2n,
        customer: 'Bob',
        email: 'bob@example.com',
        card_number: '5500000000000004',
        total: 7,
        status: 'draft',
      },
    },
    {
      op: ChangeOp.Update,
      lsn: 0x2000n,
      row: { id: 1n, customer: 'Ann', email: 'ann@example.com', total: 42.5, status: 'paid' },
      unchanged: ['card_number'],
    },
    { op: ChangeOp.Delete, lsn: 0x3000n, row: { id: 2n } },
  ]);
}
