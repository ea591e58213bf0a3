/**
 * Runs the MERGE the destination generates on DuckDB (after a few dialect
 * substitutions) against staging rows loaded from the Parquet files the
 * destination would upload: checks the semantics — last change per key wins,
 * unchanged TOAST columns resolved within the batch or kept from the target,
 * hard and soft deletes, truncates, append mode — without any service.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ParquetEncoder } from '../../../src/arrow/parquet-encoder.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import { Naming } from '../../../src/destinations/snowflake/naming.js';
import {
  snowflakeTypeOf,
  stagingFormOf,
  stagingTypeOf,
} from '../../../src/destinations/snowflake/snowflake-type.js';
import {
  appendSql,
  createStagingTableSql,
  createTableSql,
  fillMovedSql,
  type MergeColumn,
  mergeSql,
  movesLeftSql,
  type ObjectRef,
  type TableMode,
  targetMetadataColumns,
  truncateSql,
} from '../../../src/destinations/snowflake/sql.js';
import { toStagedTable } from '../../../src/destinations/snowflake/staged-table.js';
import { ITEMS, type ItemChange, itemsBatch } from '../../support/batches.js';

/** Snowflake → DuckDB dialect, only what these statements use. */
function duck(sql: string): string {
  return sql
    .replace(/TRANSIENT TABLE/g, 'TABLE')
    .replace(/NUMBER\((\d+),(\d+)\)/g, 'DECIMAL($1,$2)')
    .replace(/TIMESTAMP_TZ\(6\)/g, 'TIMESTAMPTZ')
    .replace(/PARSE_JSON\(([^)]*)\)/g, 'CAST($1 AS JSON)');
}

let dir: string;
let db: DuckDBInstance;
let conn: DuckDBConnection;
const encoder = new ParquetEncoder({ threads: 1 });
const naming = new Naming('main');
const target: ObjectRef = { database: 'memory', schema: 'main', name: 'ITEMS' };
const staging: ObjectRef = { database: 'memory', schema: 'main', name: 'ITEMS__ETL_STAGING' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etl-merge-test-'));
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
});
afterAll(async () => {
  conn.closeSync();
  db.closeSync();
  await encoder.close();
  await rm(dir, { recursive: true, force: true });
});

async function setUp(mode: TableMode): Promise<void> {
  await conn.run('DROP TABLE IF EXISTS "ITEMS"');
  const names = naming.columns(ITEMS);
  const cols = ITEMS.columns.map((c, i) => ({ name: names[i]!, type: snowflakeTypeOf(c) }));
  await conn.run(duck(createTableSql(target, [...cols, ...targetMetadataColumns(mode)])));
  const stagingCols = ITEMS.columns.map((c, i) => ({
    name: names[i]!,
    type: stagingTypeOf(snowflakeTypeOf(c)),
  }));
  await conn.run(duck(createStagingTableSql(staging, stagingCols)));
}

let fileNo = 0;
/** Stages a batch and applies it the way the destination does (truncate first, then merge after its seq). */
async function apply(mode: TableMode, changes: ItemChange[], truncateSeq?: bigint): Promise<void> {
  const batch = itemsBatch(changes);
  const entry = batch.rowEntries()[0]!;
  const layout = {
    names: naming.columns(ITEMS),
    forms: ITEMS.columns.map((c) => stagingFormOf(snowflakeTypeOf(c))),
  };
  const staged = toStagedTable(entry, layout);
  const file = join(dir, `s${fileNo++}.parquet`);
  await writeFile(file, await encoder.encode(staged.table));
  await conn.run(`DELETE FROM "ITEMS__ETL_STAGING"`);
  await conn.run(`INSERT INTO "ITEMS__ETL_STAGING" BY NAME SELECT * FROM read_parquet('${file}')`);
  if (truncateSeq !== undefined) {
    const sql = duck(truncateSql(target, mode));
    if (mode === 'merge-soft') await conn.run(sql, ['999']);
    else await conn.run(sql);
  }
  const columns: MergeColumn[] = ITEMS.columns.map((c, i) => ({
    name: layout.names[i]!,
    position: i + 1,
    key: c.key,
    form: 'direct',
    unchanged: staged.unchangedPositions.has(i + 1),
  }));
  const base = {
    target,
    staging,
    columns,
    moves: staged.moves,
    ...(truncateSeq === undefined ? {} : { afterSeq: truncateSeq }),
  };
  if (mode === 'append') {
    await conn.run(duck(appendSql(base)));
    return;
  }
  const plan = { ...base, mode };
  if (staged.moves) {
    // As the destination does: resolve key changes in the staging table first, one round per chain link.
    const left = async () => Number((await conn.runAndReadAll(duck(movesLeftSql(plan)))).getRows()[0]![0]);
    for (let n = await left(), rounds = n; n > 0 && rounds > 0; rounds--) {
      await conn.run(duck(fillMovedSql(plan)));
      n = await left();
    }
  }
  await conn.run(duck(mergeSql(plan)));
}

async function rows(extra = ''): Promise<unknown[][]> {
  const r = await conn.runAndReadAll(
    `SELECT "ID", "LABEL"${extra} FROM "ITEMS" ORDER BY "ID"${extra.includes('_ETL_OP') ? ', "_ETL_SEQ"' : ''}`,
  );
  return r.getRows().map((row) => row.map(plain));
}

/** DuckDB decimals and bigints as plain numbers. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && 'scale' in v && 'value' in v) return Number(String(v));
  return v;
}

const I = ChangeOp.Insert;
const U = ChangeOp.Update;
const D = ChangeOp.Delete;

describe('MERGE semantics (hard deletes)', () => {
  beforeEach(() => setUp('merge-hard'));

  it('inserts, updates, deletes: the last change per key wins', async () => {
    await apply('merge-hard', [
      { id: 1, label: 'a', op: I, lsn: 10n },
      { id: 2, label: 'b', op: I, lsn: 10n },
      { id: 3, label: 'c', op: I, lsn: 10n },
      { id: 1, label: 'a2', op: U, lsn: 11n },
      { id: 3, label: null, op: D, lsn: 12n },
    ]);
    expect(await rows()).toEqual([
      [1, 'a2'],
      [2, 'b'],
    ]);
    await apply('merge-hard', [
      { id: 2, label: null, op: D, lsn: 20n },
      { id: 1, label: 'a3', op: U, lsn: 21n },
    ]);
    expect(await rows()).toEqual([[1, 'a3']]);
  });

  it('a key inserted, deleted and re-inserted in one batch ends inserted', async () => {
    await apply('merge-hard', [{ id: 5, label: 'old', op: I, lsn: 1n }]);
    await apply('merge-hard', [
      { id: 5, label: null, op: D, lsn: 2n },
      { id: 6, label: 'x', op: I, lsn: 2n },
      { id: 6, label: null, op: D, lsn: 3n },
      { id: 6, label: 'y', op: I, lsn: 4n },
      { id: 5, label: 'new', op: I, lsn: 4n },
    ]);
    expect(await rows()).toEqual([
      [5, 'new'],
      [6, 'y'],
    ]);
  });

  it('unchanged TOAST columns keep the target value, or an earlier value of the same batch', async () => {
    await apply('merge-hard', [
      { id: 1, label: 'big-1', op: I, lsn: 1n },
      { id: 2, label: 'big-2', op: I, lsn: 1n },
      { id: 3, label: 'big-3', op: I, lsn: 1n },
    ]);
    await apply('merge-hard', [
      // 1: only an unchanged update → keeps the target's value
      { id: 1, label: null, op: U, lsn: 2n, unchanged: ['label'] },
      // 2: set in this batch, then an unchanged update → the batch's value
      { id: 2, label: 'big-2b', op: U, lsn: 2n },
      { id: 2, label: null, op: U, lsn: 3n, unchanged: ['label'] },
      // 3: explicitly set to null, then unchanged → null, not the target's value
      { id: 3, label: null, op: U, lsn: 2n },
      { id: 3, label: null, op: U, lsn: 3n, unchanged: ['label'] },
      // 4: inserted, updated with the column unchanged twice → the insert's value
      { id: 4, label: 'big-4', op: I, lsn: 2n },
      { id: 4, label: null, op: U, lsn: 3n, unchanged: ['label'] },
      { id: 4, label: null, op: U, lsn: 4n, unchanged: ['label'] },
    ]);
    expect(await rows()).toEqual([
      [1, 'big-1'],
      [2, 'big-2b'],
      [3, null],
      [4, 'big-4'],
    ]);
    // And across batches.
    await apply('merge-hard', [{ id: 4, label: null, op: U, lsn: 5n, unchanged: ['label'] }]);
    expect((await rows())[3]).toEqual([4, 'big-4']);
  });

  it('a value sent before a delete and re-insert does not leak into the re-inserted row', async () => {
    await apply('merge-hard', [
      { id: 7, label: 'first', op: I, lsn: 1n },
      { id: 7, label: null, op: D, lsn: 2n },
      { id: 7, label: 'second', op: I, lsn: 3n },
      { id: 7, label: null, op: U, lsn: 4n, unchanged: ['label'] },
    ]);
    expect(await rows()).toEqual([[7, 'second']]);
  });

  it('a key change keeps an unchanged TOAST value, from the target or from earlier in the batch', async () => {
    await apply('merge-hard', [
      { id: 1, label: 'big-1', op: I, lsn: 1n },
      { id: 5, label: 'five', op: I, lsn: 1n },
      { id: 6, label: 'six', op: I, lsn: 1n },
    ]);
    await apply('merge-hard', [
      // UPDATE ... SET id = 2 WHERE id = 1: the old key's delete, then the new key without the value.
      { id: 1, label: null, op: D, lsn: 2n },
      { id: 2, label: null, op: U, lsn: 2n, unchanged: ['label'] },
      // Inserted in this batch, then its key changed twice over.
      { id: 3, label: 'big-3', op: I, lsn: 3n },
      { id: 3, label: null, op: D, lsn: 4n },
      { id: 4, label: null, op: U, lsn: 4n, unchanged: ['label'] },
      { id: 4, label: null, op: U, lsn: 5n, unchanged: ['label'] },
      // Not a key change: a DELETE of 5 then an UPDATE of 6 in one transaction; 6 keeps its own value.
      { id: 5, label: null, op: D, lsn: 6n },
      { id: 6, label: null, op: U, lsn: 6n, unchanged: ['label'] },
    ]);
    expect(await rows()).toEqual([
      [2, 'big-1'],
      [4, 'big-3'],
      [6, 'six'],
    ]);
  });

  it('key change chains within a batch: 1 → 2 → 3, across transactions, and a swap through a spare key', async () => {
    await apply('merge-hard', [
      { id: 1, label: 'big-1', op: I, lsn: 1n },
      { id: 10, label: 'big-10', op: I, lsn: 1n },
      { id: 20, label: 'big-20', op: I, lsn: 1n },
      { id: 21, label: 'big-21', op: I, lsn: 1n },
    ]);
    await apply('merge-hard', [
      // One transaction: 1 → 2 → 3 (key 2 only ever arrives by a key change, and the target has no 2).
      { id: 1, label: null, op: D, lsn: 2n },
      { id: 2, label: null, op: U, lsn: 2n, unchanged: ['label'] },
      { id: 2, label: null, op: D, lsn: 2n },
      { id: 3, label: null, op: U, lsn: 2n, unchanged: ['label'] },
      // Two transactions: 10 → 11, then 11 → 12.
      { id: 10, label: null, op: D, lsn: 3n },
      { id: 11, label: null, op: U, lsn: 3n, unchanged: ['label'] },
      { id: 11, label: null, op: D, lsn: 4n },
      { id: 12, label: null, op: U, lsn: 4n, unchanged: ['label'] },
      // A swap: 20 → 99, 21 → 20, 99 → 21.
      { id: 20, label: null, op: D, lsn: 5n },
      { id: 99, label: null, op: U, lsn: 5n, unchanged: ['label'] },
      { id: 21, label: null, op: D, lsn: 5n },
      { id: 20, label: null, op: U, lsn: 5n, unchanged: ['label'] },
      { id: 99, label: null, op: D, lsn: 5n },
      { id: 21, label: null, op: U, lsn: 5n, unchanged: ['label'] },
    ]);
    expect(await rows()).toEqual([
      [3, 'big-1'],
      [12, 'big-10'],
      [20, 'big-21'],
      [21, 'big-20'],
    ]);
  });

  it('a truncate drops the target rows and the batch rows before it', async () => {
    await apply('merge-hard', [{ id: 1, label: 'a', op: I, lsn: 1n }]);
    await apply(
      'merge-hard',
      [
        { id: 2, label: 'before', op: I, lsn: 2n },
        { id: 3, label: 'after', op: I, lsn: 4n },
      ],
      0n, // the truncate came after change #0
    );
    expect(await rows()).toEqual([[3, 'after']]);
  });

  it('stores the commit LSN of each row exactly (uint64 as NUMBER(20,0))', async () => {
    const big = 18446744073709551615n;
    await apply('merge-hard', [{ id: 1, label: 'a', op: I, lsn: big }]);
    const r = await conn.runAndReadAll('SELECT CAST("_ETL_LSN" AS VARCHAR) FROM "ITEMS"');
    expect(r.getRows()).toEqual([[big.toString()]]);
  });
});

describe('MERGE semantics (soft deletes)', () => {
  beforeEach(() => setUp('merge-soft'));

  it('marks deleted rows and revives re-inserted ones', async () => {
    await apply('merge-soft', [
      { id: 1, label: 'a', op: I, lsn: 1n },
      { id: 2, label: 'b', op: I, lsn: 1n },
    ]);
    await apply('merge-soft', [
      { id: 1, label: null, op: D, lsn: 2n },
      { id: 9, label: null, op: D, lsn: 2n }, // never seen: nothing to mark
    ]);
    expect(await rows(', "_ETL_DELETED"')).toEqual([
      [1, 'a', true],
      [2, 'b', false],
    ]);
    await apply('merge-soft', [{ id: 1, label: 'again', op: I, lsn: 3n }]);
    expect(await rows(', "_ETL_DELETED"')).toEqual([
      [1, 'again', false],
      [2, 'b', false],
    ]);
    await apply('merge-soft', [{ id: 3, label: 'c', op: I, lsn: 5n }], 0n - 1n);
    expect(await rows(', "_ETL_DELETED"')).toEqual([
      [1, 'again', true],
      [2, 'b', true],
      [3, 'c', false],
    ]);
  });
});

describe('append mode', () => {
  beforeEach(() => setUp('append'));

  it('appends every change with its op and order', async () => {
    await apply('append', [
      { id: 1, label: 'a', op: I, lsn: 1n },
      { id: 1, label: 'b', op: U, lsn: 2n },
      { id: 1, label: null, op: D, lsn: 3n },
    ]);
    expect(await rows(', "_ETL_OP"')).toEqual([
      [1, 'a', 0],
      [1, 'b', 1],
      [1, null, 2],
    ]);
  });
});
