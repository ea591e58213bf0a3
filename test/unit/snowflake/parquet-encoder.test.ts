import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  Field,
  Int32,
  List,
  makeData,
  makeVector,
  Table,
  TimestampMicrosecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParquetEncoder } from '../../../src/arrow/parquet-encoder.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etl-pq-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readBack(bytes: Uint8Array, sql: string): Promise<unknown[][]> {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}.parquet`);
  await writeFile(file, bytes);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(sql.replace('$FILE', `'${file}'`));
    return r.getRows() as unknown[][];
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('ParquetEncoder', () => {
  it('encodes on a worker thread and the file reads back exactly', async () => {
    const encoder = new ParquetEncoder({ threads: 1, tempDir: dir });
    try {
      const table = new Table({
        id: vectorFromArray([1, 2, null], new Int32()),
        label: vectorFromArray(['a', null, 'ü'], new Utf8()),
        ts: makeVector(
          makeData({
            type: new TimestampMicrosecond('UTC'),
            length: 3,
            data: new BigInt64Array([1704067200123456n, -1n, 0n]),
          }),
        ),
        tags: vectorFromArray([['x'], null, []], new List(new Field('item', new Utf8(), true))),
      });
      const bytes = await encoder.encode(table);
      expect(Buffer.from(bytes.subarray(0, 4)).toString()).toBe('PAR1');
      const rows = await readBack(bytes, 'SELECT id, label, ts::VARCHAR, tags FROM $FILE');
      expect(rows.map((r) => r.slice(0, 3))).toEqual([
        [1, 'a', '2024-01-01 00:00:00.123456+00'],
        [2, null, '1969-12-31 23:59:59.999999+00'],
        [null, 'ü', '1970-01-01 00:00:00+00'],
      ]);
    } finally {
      await encoder.close();
    }
    // The generated worker file is gone with the encoder.
    expect((await readdir(dir)).filter((f) => f.startsWith('etl-parquet-'))).toEqual([]);
  });

  it('runs tasks concurrently and rejects after close', async () => {
    const encoder = new ParquetEncoder({ threads: 2, tempDir: dir });
    const table = new Table({
      n: vectorFromArray(
        Array.from({ length: 10_000 }, (_, i) => i),
        new Int32(),
      ),
    });
    const outs = await Promise.all([1, 2, 3, 4].map(() => encoder.encode(table)));
    for (const o of outs) expect(o.byteLength).toBeGreaterThan(100);
    await encoder.close();
    await expect(encoder.encode(table)).rejects.toMatchObject({ code: 'LIFECYCLE' });
  });

  it('validates options naming the field', () => {
    expect(() => new ParquetEncoder({ threads: 0 })).toThrow(/parquetThreads/);
  });
});
