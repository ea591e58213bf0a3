/**
 * The Snowflake destination's flow through the real snowflake-sdk against
 * the emulator: setup, PUT, COPY, one transaction of MERGEs plus the
 * watermark, cleanup; a COMMIT applied whose reply is lost; a failed MERGE
 * rolled back and retried; chunks of a large transaction; close() during a
 * hung statement; a hung statement timing out.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChangeBatch } from '../../../src/change/change-batch.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import type { TableSchema } from '../../../src/change/table-schema.js';
import {
  type SnowflakeDestination,
  snowflake,
} from '../../../src/destinations/snowflake/snowflake-destination.js';
import type { SnowflakeOptions } from '../../../src/destinations/snowflake/snowflake-options.js';
import type { DestinationContext } from '../../../src/pipeline/destination.js';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { ITEMS, type ItemChange, itemsBatch, itemsRecordBatch } from '../../support/batches.js';
import { emulatorTarget, rowsOf, statementTexts } from './support/emulator.js';

let emu: SnowflakeEmulator;
let dir: string;
const ctx: DestinationContext = { pipeline: 'p1', signal: new AbortController().signal, emit: () => {} };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etl-sfdest-'));
  emu = await startSnowflakeEmulator();
});
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  for (const t of ['ITEMS', 'ITEMS__ETL_STAGING', 'LOG', 'LOG__ETL_STAGING', '_ETL_WATERMARKS'])
    await emu.query(`DROP TABLE IF EXISTS "DB"."PG"."${t}"`).catch(() => {});
});
afterEach(() => {
  emu.faults.clear();
  emu.faults.releaseHung();
});

function destination(extra: Partial<SnowflakeOptions> = {}): SnowflakeDestination {
  return snowflake(emulatorTarget(emu, { tempDir: dir, parquetThreads: 1, ...extra }));
}

const query = (sql: string) => rowsOf(emu, sql);

const I = ChangeOp.Insert;
const U = ChangeOp.Update;
const D = ChangeOp.Delete;

describe('SnowflakeDestination flow', () => {
  it('creates tables, applies batches, keeps the watermark and cleans up', async () => {
    const dest = destination();
    await dest.open(ctx);
    expect(await dest.committedLsn('p1')).toBeUndefined();
    await dest.write(
      itemsBatch([
        { id: 1, label: 'a', op: I, lsn: 100n },
        { id: 2, label: 'b', op: I, lsn: 100n },
      ]),
      { signal: ctx.signal },
    );
    await dest.write(
      itemsBatch([
        { id: 1, label: null, op: U, lsn: 200n, unchanged: ['label'] },
        { id: 2, label: null, op: D, lsn: 201n },
      ]),
      { signal: ctx.signal },
    );
    expect(
      await query(
        'SELECT CAST("ID" AS VARCHAR), "LABEL", CAST("_ETL_LSN" AS VARCHAR) FROM "PG"."ITEMS" ORDER BY 1',
      ),
    ).toEqual([['1', 'a', '200']]);
    expect(await dest.committedLsn('p1')).toBe(201n);
    expect(await query('SELECT CAST(COUNT(*) AS VARCHAR) FROM "PG"."ITEMS__ETL_STAGING"')).toEqual([['0']]);
    expect(await query('LIST @"DB"."PG"."_ETL_STAGE"')).toEqual([]);
    // BEGIN … COMMIT brackets the MERGE and the watermark; DDL comes before BEGIN.
    const texts = statementTexts(emu);
    const last = texts.slice(texts.lastIndexOf('BEGIN TRANSACTION'));
    expect(last[1]).toMatch(/^MERGE INTO .*"ITEMS"/);
    expect(last[2]).toMatch(/^MERGE INTO .*"_ETL_WATERMARKS"/);
    expect(last[3]).toBe('COMMIT');
    await dest.close();
    // The private temp dir is gone.
    expect(
      (await readdir(dir)).filter((f) => f.startsWith('etl-snowflake-') || f.startsWith('etl-parquet-')),
    ).toEqual([]);
  });

  it('COMMIT applied but its reply lost: the retry reads the watermark and does not apply twice', async () => {
    const keyless: TableSchema = {
      ...ITEMS,
      name: 'log',
      primaryKey: [],
      columns: ITEMS.columns.map((c) => ({ ...c, key: false })),
    };
    const batch = new ChangeBatch({
      firstLsn: 10n,
      checkpoint: { lsn: 11n, commitLsn: 10n },
      transactions: 1,
      lastCommitTimeUs: 0n,
      entries: [
        { kind: 'rows', table: keyless, data: itemsRecordBatch([{ id: 1, label: 'x', op: I, lsn: 10n }]) },
      ],
    });
    const dest = destination({ tablesWithoutKey: 'append' });
    await dest.open(ctx);
    emu.faults.add({ match: /^COMMIT$/, action: { kind: 'error-after-apply' } });
    await expect(dest.write(batch, { signal: ctx.signal })).rejects.toMatchObject({ retryable: true });
    await dest.write(batch, { signal: ctx.signal });
    expect(
      await query('SELECT CAST("ID" AS VARCHAR), "LABEL", CAST("_ETL_OP" AS VARCHAR) FROM "PG"."LOG"'),
    ).toEqual([['1', 'x', '0']]);
    expect(await dest.committedLsn('p1')).toBe(10n);
    await dest.close();
  });

  it('a MERGE failing inside the transaction rolls back; the retry applies the batch once', async () => {
    const dest = destination();
    await dest.open(ctx);
    await dest.write(itemsBatch([{ id: 1, label: 'a', op: I, lsn: 1n }]), { signal: ctx.signal });
    emu.faults.add({ match: /^MERGE INTO .*"_ETL_WATERMARKS"/, action: { kind: 'error' } });
    const b2 = itemsBatch([
      { id: 1, label: 'b', op: U, lsn: 2n },
      { id: 2, label: 'c', op: I, lsn: 2n },
    ]);
    await expect(dest.write(b2, { signal: ctx.signal })).rejects.toMatchObject({
      code: 'SNOWFLAKE',
      retryable: true,
    });
    expect(statementTexts(emu).at(-1)).toBe('ROLLBACK');
    expect(await query('SELECT CAST("ID" AS VARCHAR), "LABEL" FROM "PG"."ITEMS" ORDER BY 1')).toEqual([
      ['1', 'a'],
    ]);
    await dest.write(b2, { signal: ctx.signal });
    expect(await query('SELECT CAST("ID" AS VARCHAR), "LABEL" FROM "PG"."ITEMS" ORDER BY 1')).toEqual([
      ['1', 'b'],
      ['2', 'c'],
    ]);
    await dest.close();
  });

  it('holds the chunks of a large transaction and applies them with the last one', async () => {
    const dest = destination();
    await dest.open(ctx);
    const chunk = (changes: ItemChange[], partial: boolean) =>
      new ChangeBatch({
        ...itemsBatch(changes),
        partial,
        checkpoint: partial ? { lsn: 0n, commitLsn: 0n } : { lsn: 51n, commitLsn: 50n },
      });
    await dest.write(
      chunk(
        [
          { id: 1, label: 'a', op: I, lsn: 50n },
          { id: 2, label: 'big', op: I, lsn: 50n },
        ],
        true,
      ),
      { signal: ctx.signal },
    );
    await dest.write(chunk([{ id: 1, label: 'b', op: U, lsn: 50n }], true), { signal: ctx.signal });
    expect(await query('SELECT CAST(COUNT(*) AS VARCHAR) FROM "PG"."ITEMS"')).toEqual([['0']]);
    // The last chunk's seq restarts at 0, yet it comes after the earlier chunks.
    await dest.write(
      chunk(
        [
          { id: 1, label: 'c', op: U, lsn: 50n },
          { id: 2, label: null, op: U, lsn: 50n, unchanged: ['label'] },
        ],
        false,
      ),
      { signal: ctx.signal },
    );
    expect(await query('SELECT CAST("ID" AS VARCHAR), "LABEL" FROM "PG"."ITEMS" ORDER BY 1')).toEqual([
      ['1', 'c'],
      ['2', 'big'],
    ]);
    expect(await dest.committedLsn('p1')).toBe(50n);
    await dest.close();
  });

  it('close() during a hung statement ends the write', async () => {
    const dest = destination();
    await dest.open(ctx);
    emu.faults.add({ match: /^MERGE INTO .*"ITEMS"/, action: { kind: 'hang' } });
    const writing = dest
      .write(itemsBatch([{ id: 1, label: 'a', op: I, lsn: 1n }]), { signal: ctx.signal })
      .catch((err: unknown) => err);
    while (emu.faults.hanging === 0) await new Promise((r) => setTimeout(r, 10));
    await dest.close();
    expect(await writing).toMatchObject({ code: 'ABORTED' });
  });

  it('a hung statement times out as a retryable error', async () => {
    const dest = destination({ statementTimeoutMs: 300 });
    await dest.open(ctx);
    emu.faults.add({ match: /^MERGE INTO .*"ITEMS"/, action: { kind: 'hang' } });
    await expect(
      dest.write(itemsBatch([{ id: 1, label: 'a', op: I, lsn: 1n }]), { signal: ctx.signal }),
    ).rejects.toMatchObject({ code: 'TIMEOUT', retryable: true });
    await dest.close();
  });
});
