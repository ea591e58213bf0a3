import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import { ChangeAccumulator } from '../../../src/postgres/pgoutput/change-accumulator.js';
import { TypeCatalog } from '../../../src/postgres/type-catalog.js';

/** A tiny pgoutput message builder. */
class Msg {
  private parts: Buffer[] = [];
  constructor(type: string) {
    this.parts.push(Buffer.from(type, 'latin1'));
  }
  u8(v: number) {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  i16(v: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  i32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  str(s: string) {
    this.parts.push(Buffer.from(`${s}\0`));
    return this;
  }
  text(s: string) {
    this.u8(0x74).i32(Buffer.byteLength(s));
    this.parts.push(Buffer.from(s));
    return this;
  }
  get buf() {
    return Buffer.concat(this.parts);
  }
}

const begin = (lsn: bigint, xid: number) => new Msg('B').u64(lsn).u64(0n).i32(xid).buf;
const commit = (lsn: bigint, end: bigint) => new Msg('C').u8(0).u64(lsn).u64(end).u64(0n).buf;
const relation = (cols: [string, number][]) => {
  const m = new Msg('R').i32(16384).str('public').str('items').u8(0x64).i16(cols.length);
  for (const [i, [name, oid]] of cols.entries()) {
    m.u8(i === 0 ? 1 : 0)
      .str(name)
      .i32(oid)
      .i32(-1);
  }
  return m.buf;
};
const insert = (...values: (string | null)[]) => {
  const m = new Msg('I').i32(16384).u8(0x4e).i16(values.length);
  for (const v of values) v === null ? m.u8(0x6e) : m.text(v);
  return m.buf;
};

function accumulator() {
  return new ChangeAccumulator({
    catalog: new TypeCatalog(),
    binary: false,
    unrepresentable: 'fail',
    streamMemoryLimitBytes: 1 << 20,
    spillDir: tmpdir(),
  });
}

describe('ChangeAccumulator', () => {
  it('turns Begin/Relation/Insert/Commit into a batch of whole transactions', () => {
    const acc = accumulator();
    acc.push(begin(0x100n, 7), 0x90n);
    acc.push(
      relation([
        ['id', 23],
        ['label', 25],
      ]),
      0x90n,
    );
    acc.push(insert('1', 'one'), 0x90n);
    expect(acc.inTransaction).toBe(true);
    expect(acc.bufferedRows).toBe(0);
    acc.push(commit(0x100n, 0x108n), 0x100n);
    expect([acc.bufferedRows, acc.bufferedTransactions, acc.mustCut]).toEqual([1, 1, false]);
    const batch = acc.takeBatch()!;
    expect(batch.checkpoint).toEqual({ lsn: 0x108n, commitLsn: 0x100n });
    expect(batch.firstLsn).toBe(0x90n);
    expect([...batch.rows('public.items')]).toEqual([
      { id: 1, label: 'one', _etl_op: ChangeOp.Insert, _etl_lsn: 0x100n, _etl_seq: 1, _etl_unchanged: null }, // seq 0: the schema entry
    ]);
    expect(batch.entries.map((e) => e.kind)).toEqual(['schema', 'rows']);
    expect(acc.takeBatch()).toBeUndefined();
  });

  it('takes only whole transactions while one is open', () => {
    const acc = accumulator();
    acc.push(begin(0x100n, 7), 0x90n);
    acc.push(relation([['id', 23]]), 0x90n);
    acc.push(insert('1'), 0x90n);
    acc.push(commit(0x100n, 0x108n), 0x100n);
    acc.push(begin(0x200n, 8), 0x190n);
    acc.push(insert('2'), 0x190n);
    const first = acc.takeBatch()!;
    expect([...first.rows('public.items')].map((r) => r.id)).toEqual([1]);
    acc.push(insert('3'), 0x190n);
    acc.push(commit(0x200n, 0x208n), 0x200n);
    const second = acc.takeBatch()!;
    expect([...second.rows('public.items')].map((r) => [r.id, r._etl_lsn])).toEqual([
      [2, 0x200n],
      [3, 0x200n],
    ]);
  });

  it('rejects unknown and truncated messages with PG_PROTOCOL, never a TypeError', () => {
    const acc = accumulator();
    expect(() => acc.push(Buffer.from('Z'), 0n)).toThrowError(
      expect.objectContaining({ code: 'PG_PROTOCOL' }),
    );
    expect(() => acc.push(Buffer.from([0x42, 1, 2]), 0n)).toThrowError(
      expect.objectContaining({ code: 'PG_PROTOCOL' }),
    );
    acc.reset();
    acc.push(begin(0x100n, 7), 0n);
    expect(() => acc.push(insert('1'), 0n)).toThrowError(expect.objectContaining({ code: 'PG_PROTOCOL' }));
  });
});
