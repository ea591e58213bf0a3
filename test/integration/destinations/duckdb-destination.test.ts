import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import {
  type DuckDBDestination,
  type DuckDBOptions,
  duckdb,
} from '../../../src/destinations/duckdb/duckdb-destination.js';
import { SCENARIO } from './scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'etl-duckdb-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const signal = new AbortController().signal;
const ctx = { pipeline: 'orders', signal, emit: () => {} };

async function opened(path: string, options: Omit<DuckDBOptions, 'path'> = {}): Promise<DuckDBDestination> {
  const dest = duckdb({ path, ...options });
  await dest.open(ctx);
  return dest;
}

/** What the runtime does: skip what the watermark says is applied, then write. */
async function deliver(dest: DuckDBDestination, batch: ChangeBatch): Promise<void> {
  const applied = await dest.committedLsn('orders');
  await dest.write(applied === undefined ? batch : batch.after(applied), { signal });
}

const docs = (dest: DuckDBDestination) =>
  dest.query('SELECT * EXCLUDE (_etl_synced_at) FROM public.docs ORDER BY id');
const events = (dest: DuckDBDestination) =>
  dest.query('SELECT * EXCLUDE (_etl_synced_at) FROM public.events ORDER BY _etl_lsn, msg');

describe('duckdb destination: the scenario, table by table', () => {
  const path = join(dir, 'scenario.duckdb');
  let dest: DuckDBDestination;

  it('b1: creates the tables from their schemas and inserts', async () => {
    dest = await opened(path);
    expect(await dest.committedLsn('orders')).toBeUndefined();
    await deliver(dest, SCENARIO.b1);
    expect(await docs(dest)).toEqual([
      { id: '1', title: 't1', body: 'b1', _etl_lsn: '272' },
      { id: '2', title: 't2', body: 'b2', _etl_lsn: '272' },
      { id: '3', title: 't3', body: 'b3', _etl_lsn: '272' },
    ]);
    expect(await events(dest)).toEqual([{ msg: 'e1', _etl_op: 0, _etl_lsn: '272' }]);
    expect(await dest.committedLsn('orders')).toBe(0x110n);
    const columns = await dest.query(
      "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'docs' ORDER BY column_index",
    );
    expect(columns).toEqual([
      { column_name: 'id', data_type: 'BIGINT' },
      { column_name: 'title', data_type: 'VARCHAR' },
      { column_name: 'body', data_type: 'VARCHAR' },
      { column_name: '_etl_lsn', data_type: 'UBIGINT' },
      { column_name: '_etl_synced_at', data_type: 'TIMESTAMP WITH TIME ZONE' },
    ]);
  });

  it('b2: update keeping an unchanged TOAST value, delete, delete+re-insert, insert+delete+re-insert+update', async () => {
    await deliver(dest, SCENARIO.b2);
    expect(await docs(dest)).toEqual([
      { id: '1', title: 'T1', body: 'b1', _etl_lsn: '512' },
      { id: '3', title: 't3b', body: 'b3b', _etl_lsn: '512' },
      { id: '4', title: 'y2', body: 'b4', _etl_lsn: '528' },
    ]);
  });

  it('b3: unchanged body resolved within the batch; keyless table truncated between inserts', async () => {
    await deliver(dest, SCENARIO.b3);
    expect(await docs(dest)).toEqual([
      { id: '1', title: 'T1x', body: 'B1new', _etl_lsn: '784' },
      { id: '3', title: 't3b', body: 'b3b', _etl_lsn: '512' },
      { id: '4', title: 'y2', body: 'b4', _etl_lsn: '528' },
    ]);
    expect(await events(dest)).toEqual([{ msg: 'e3', _etl_op: 0, _etl_lsn: '784' }]);
  });

  it('b4: truncate between inserts keeps only the changes after it', async () => {
    await deliver(dest, SCENARIO.b4);
    expect(await docs(dest)).toEqual([{ id: '7', title: 't7b', body: 'b7', _etl_lsn: '1040' }]);
  });

  it('b5: a schema change adds the column; older rows have null there', async () => {
    await deliver(dest, SCENARIO.b5);
    expect(await docs(dest)).toEqual([
      { id: '7', title: 't7b', body: 'b7', _etl_lsn: '1296', rating: 3 },
      { id: '8', title: 't8', body: 'b8', _etl_lsn: '1280', rating: 5 },
    ]);
    expect(await dest.committedLsn('orders')).toBe(0x510n);
  });

  it('replays are skipped by the watermark: through batch.after() and inside write() itself', async () => {
    const before = await docs(dest);
    const replay = SCENARIO.b4.after((await dest.committedLsn('orders'))!);
    expect(replay.entries).toEqual([]);
    await dest.write(SCENARIO.b4, { signal }); // a replay that bypassed the runtime: skipped by the destination
    await dest.write(SCENARIO.b2, { signal });
    expect(await docs(dest)).toEqual(before);
    expect(await dest.committedLsn('orders')).toBe(0x510n);
  });

  it('b6: chunks of a large transaction are applied together with the final chunk', async () => {
    await dest.write(SCENARIO.b6a, { signal });
    expect((await docs(dest)).map((r) => r.id)).toEqual(['7', '8']);
    expect(await dest.committedLsn('orders')).toBe(0x510n);
    await dest.write(SCENARIO.b6b, { signal });
    expect(await docs(dest)).toEqual([
      { id: '7', title: 't7b', body: 'b7', _etl_lsn: '1296', rating: 3 },
      { id: '8', title: 't8', body: 'b8', _etl_lsn: '1280', rating: 5 },
      { id: '9', title: 't9b', body: 'b9', _etl_lsn: '1552', rating: 2 },
    ]);
    expect(await dest.committedLsn('orders')).toBe(0x610n);
  });

  it('is durable: closed (checkpointed) and reopened, the data and the watermark are there', async () => {
    await dest.close();
    await expect(dest.write(SCENARIO.b1, { signal })).rejects.toMatchObject({ code: 'LIFECYCLE' });
    const again = await opened(path);
    expect(await again.committedLsn('orders')).toBe(0x610n);
    expect((await docs(again)).map((r) => [r.id, r.title, r.body, r.rating])).toEqual([
      ['7', 't7b', 'b7', 3],
      ['8', 't8', 'b8', 5],
      ['9', 't9b', 'b9', 2],
    ]);
    await again.close();
  });
});

describe('duckdb destination: options and isolation', () => {
  it('puts every table and the watermark in `schema` when given; pipelines have their own watermark', async () => {
    const dest = await opened(join(dir, 'schema.duckdb'), { schema: 'raw' });
    await dest.write(SCENARIO.b1, { signal });
    expect((await dest.query('SELECT count(*) AS n FROM raw.docs'))[0]).toEqual({ n: '3' });
    expect(await dest.query('SELECT pipeline, commit_lsn FROM raw._etl_watermark')).toEqual([
      { pipeline: 'orders', commit_lsn: '272' },
    ]);
    expect(await dest.committedLsn('other')).toBeUndefined();
    await dest.close();
  });

  it('applies memoryLimit to the database; without it DuckDB keeps its own default', async () => {
    const limited = await opened(join(dir, 'limited.duckdb'), { memoryLimit: '1GiB' });
    expect(await limited.query("SELECT current_setting('memory_limit') AS v")).toEqual([{ v: '1.0 GiB' }]);
    await limited.write(SCENARIO.b1, { signal });
    expect((await limited.query('SELECT count(*) AS n FROM public.docs'))[0]).toEqual({ n: '3' });
    await limited.close();
    const unlimited = await opened(join(dir, 'unlimited.duckdb'));
    expect(await unlimited.query("SELECT current_setting('memory_limit') AS v")).not.toEqual([
      { v: '1.0 GiB' },
    ]);
    await unlimited.close();
  });

  it('validates options naming the field', () => {
    expect(() => duckdb({ path: '' })).toThrow(/`path`/);
    expect(() => duckdb({ path: 'x', schema: '' })).toThrow(/`schema`/);
    expect(() => duckdb({ path: 'x', memoryLimit: 'lots' })).toThrow(/`memoryLimit`.*'512MB'/);
    expect(() => duckdb({ path: 'x', memoryLimit: 512 as unknown as string })).toThrow(/`memoryLimit`/);
  });
});
