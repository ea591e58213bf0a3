/**
 * Internal stages through the real driver: PUT (as the driver performs it
 * for a LOCAL_FS stage, with and without its gzip), LIST, REMOVE, COPY INTO
 * from Parquet with MATCH_BY_COLUMN_NAME, load history (skip, FORCE),
 * PURGE, table stages, and errors for missing stages.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParquetEncoder } from '../../../src/arrow/parquet-encoder.js';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { type Conn, connect } from './driver.js';

let emu: SnowflakeEmulator;
let c: Conn;
let dir: string;
const encoder = new ParquetEncoder({ threads: 1 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etl-sfemu-stage-'));
  emu = await startSnowflakeEmulator();
  c = await connect(emu);
});
afterAll(async () => {
  await c?.close();
  await emu?.close();
  await encoder.close();
  await rm(dir, { recursive: true, force: true });
});

async function parquet(name: string, ids: number[], labels: (string | null)[]): Promise<string> {
  const table = new Table({
    Id: vectorFromArray(ids, new Int32()),
    LABEL: vectorFromArray(labels, new Utf8()),
  });
  const path = join(dir, name);
  await writeFile(path, await encoder.encode(table));
  return path;
}

describe('stages', () => {
  it('PUTs files (as is, or gzipped by the driver), LISTs and REMOVEs them', async () => {
    await c.exec('CREATE STAGE IF NOT EXISTS land');
    const f1 = await parquet('a.parquet', [1, 2], ['x', 'y']);
    const put = await c.exec(`PUT 'file://${f1}' @land/batch1/ AUTO_COMPRESS=FALSE OVERWRITE=TRUE`);
    expect(put).toMatchObject([{ source: 'a.parquet', target: 'a.parquet', status: 'UPLOADED' }]);
    const f2 = await parquet('b.parquet', [3], ['z']);
    await c.exec(`PUT file://${f2} @land/batch2`);
    const listed = await c.exec('LIST @land');
    expect(listed.map((r) => r.name)).toEqual(['land/batch1/a.parquet', 'land/batch2/b.parquet.gz']);
    expect(listed.every((r) => Number(r.size) > 0 && /^[0-9a-f]{32}$/.test(String(r.md5)))).toBe(true);
    expect((await c.exec("LIST @land PATTERN = '.*batch2.*'")).map((r) => r.name)).toEqual([
      'land/batch2/b.parquet.gz',
    ]);
    expect(await readdir(join(emu.stageDir))).not.toHaveLength(0);
    expect(await c.exec('REMOVE @land/batch2/')).toEqual([
      { name: 'land/batch2/b.parquet.gz', result: 'removed' },
    ]);
    expect((await c.exec('LIST @land')).map((r) => r.name)).toEqual(['land/batch1/a.parquet']);
  });

  it('COPYs Parquet by column name, skips loaded files unless FORCE, and PURGEs', async () => {
    await c.exec('CREATE OR REPLACE TABLE loaded (ID NUMBER(10,0), LABEL VARCHAR, EXTRA VARCHAR)');
    const insensitive = await c.exec(
      "COPY INTO loaded FROM @land/batch1/ FILES = ('a.parquet') FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE",
    );
    expect(insensitive).toMatchObject([
      { file: 'land/batch1/a.parquet', status: 'LOADED', rows_parsed: 2, rows_loaded: 2 },
    ]);
    expect(await c.text('SELECT ID, LABEL, EXTRA FROM loaded ORDER BY ID')).toEqual([
      { ID: '1', LABEL: 'x', EXTRA: null },
      { ID: '2', LABEL: 'y', EXTRA: null },
    ]);
    // Loaded before: skipped.
    expect(
      await c.exec(
        'COPY INTO loaded FROM @land/batch1/ FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE',
      ),
    ).toEqual([{ status: 'Copy executed with 0 files processed.' }]);
    // CASE_SENSITIVE: the file's "Id" does not match ID.
    await c.exec(
      'COPY INTO loaded FROM @land/batch1/ FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_SENSITIVE FORCE = TRUE PURGE = TRUE',
    );
    expect(await c.exec('SELECT ID, LABEL FROM loaded ORDER BY ID NULLS LAST, LABEL')).toEqual([
      { ID: 1, LABEL: 'x' },
      { ID: 2, LABEL: 'y' },
      { ID: null, LABEL: 'x' },
      { ID: null, LABEL: 'y' },
    ]);
    expect(await c.exec('LIST @land')).toEqual([]);
  });

  it('loads gzipped uploads and uses table stages', async () => {
    await c.exec('CREATE OR REPLACE TABLE tstage (ID NUMBER(10,0), LABEL VARCHAR)');
    const f = await parquet('c.parquet', [5], ['five']);
    await c.exec(`PUT 'file://${f}' @%tstage`);
    await c.exec(
      'COPY INTO tstage FROM @%tstage FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE',
    );
    expect(await c.text('SELECT * FROM tstage')).toEqual([{ ID: '5', LABEL: 'five' }]);
  });

  it('COPY is transactional', async () => {
    await c.exec('CREATE OR REPLACE TABLE txcopy (ID NUMBER(10,0), LABEL VARCHAR)');
    const f = await parquet('d.parquet', [1], ['one']);
    await c.exec(`PUT 'file://${f}' @land/tx AUTO_COMPRESS=FALSE`);
    await c.exec('BEGIN');
    await c.exec(
      'COPY INTO txcopy FROM @land/tx FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE',
    );
    await c.exec('ROLLBACK');
    expect(await c.exec('SELECT COUNT(*) AS N FROM txcopy')).toEqual([{ N: 0 }]);
  });

  it('fails for stages and files that do not exist', async () => {
    expect(await c.fails('LIST @nowhere')).toMatchObject({ code: '002003' });
    const f = await parquet('e.parquet', [1], ['x']);
    expect(await c.fails(`PUT 'file://${f}' @nowhere`)).toMatchObject({ code: '002003' });
    expect(
      await c.fails(
        "COPY INTO loaded FROM @land FILES = ('missing.parquet') FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE",
      ),
    ).toMatchObject({ code: '091016' });
    expect(existsSync(join(dir, 'e.parquet'))).toBe(true);
  });
});
