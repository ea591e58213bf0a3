import {
  Binary,
  Bool,
  Decimal,
  Dictionary,
  Field,
  Int32,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampMicrosecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { takeRows } from '../../../src/transforms/take-rows.js';
import { tableRows } from './orders-batch.js';

/** Decimal128 words for small non-negative or negative integers (unscaled). */
function decimalWords(values: bigint[]): Uint32Array {
  const words = new Uint32Array(values.length * 4);
  values.forEach((v, i) => {
    let u = v < 0n ? (1n << 128n) + v : v;
    for (let w = 0; w < 4; w++) {
      words[i * 4 + w] = Number(u & 0xffffffffn);
      u >>= 32n;
    }
  });
  return words;
}

function sample(): RecordBatch {
  const n = 5;
  const dictType = new Dictionary(new Utf8(), new Int32());
  const columns = {
    big: vectorFromArray([1n, -2n, 9007199254740993n, null, 5n], new Int64()).data[0]!,
    flag: vectorFromArray([true, false, null, true, true], new Bool()).data[0]!,
    money: makeData({
      type: new Decimal(2, 12, 128),
      length: n,
      nullCount: 0,
      data: decimalWords([12345n, -1n, 99999999999n, 0n, 100n]),
    }),
    at: makeData({
      type: new TimestampMicrosecond(),
      length: n,
      nullCount: 0,
      data: new BigInt64Array([1n, 1_700_000_000_123_456n, 0n, -1n, 2n]),
    }),
    label: vectorFromArray(['a', null, 'ccc', '', 'eeeee'], new Utf8()).data[0]!,
    bytes: vectorFromArray(
      [new Uint8Array([1]), null, new Uint8Array([2, 3]), new Uint8Array([]), new Uint8Array([4])],
      new Binary(),
    ).data[0]!,
    tags: vectorFromArray(
      [['x'], [], null, ['y', null], ['z', 'w']],
      new List(new Field('item', new Utf8(), true)),
    ).data[0]!,
    mood: vectorFromArray(['ok', 'sad', 'ok', null, 'sad'], dictType).data[0]!,
  };
  const fields = Object.entries(columns).map(([name, d]) => new Field(name, d.type, true));
  return new RecordBatch(
    new Schema(fields),
    makeData({ type: new Struct(fields), length: n, nullCount: 0, children: Object.values(columns) }),
  );
}

describe('takeRows', () => {
  it('takes rows of every type exactly, in the given order', () => {
    const rb = sample();
    const all = tableRows(rb);
    const out = takeRows(rb, [4, 0, 2, 2]);
    expect(tableRows(out)).toEqual([all[4], all[0], all[2], all[2]]);
    expect(out.schema.fields).toEqual(rb.schema.fields);
  });

  it('works on sliced batches (offsets into shared buffers)', () => {
    const rb = sample();
    const all = tableRows(rb);
    const sliced = rb.slice(1, 5);
    expect(tableRows(takeRows(sliced, [3, 0, 1]))).toEqual([all[4], all[1], all[2]]);
  });

  it('takes nothing', () => {
    expect(takeRows(sample(), []).numRows).toBe(0);
  });
});
