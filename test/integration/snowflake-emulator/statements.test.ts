/**
 * Each statement kind the emulator runs, through the real snowflake-sdk:
 * DDL, DML with binds, queries with the functions the destination emits,
 * MERGE (and its nondeterministic-row error), identifier case rules,
 * SHOW / DESCRIBE / INFORMATION_SCHEMA, multi-statement, unsupported SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SnowflakeEmulator, startSnowflakeEmulator } from '../../../src/testing/index.js';
import { type Conn, connect } from './driver.js';

let emu: SnowflakeEmulator;
let c: Conn;

beforeAll(async () => {
  emu = await startSnowflakeEmulator();
  c = await connect(emu);
});
afterAll(async () => {
  await c?.close();
  await emu?.close();
});

describe('DDL', () => {
  it('creates, describes, evolves and drops tables with Snowflake types', async () => {
    expect(
      await c.exec(
        'CREATE TABLE t1 (id NUMBER(10,0) NOT NULL, name VARCHAR(36), amount NUMBER(38,9), f FLOAT, ok BOOLEAN, ' +
          'd DATE, tm TIME(6), ntz TIMESTAMP_NTZ(6), tz TIMESTAMP_TZ(6), ltz TIMESTAMP_LTZ, v VARIANT, a ARRAY, o OBJECT, b BINARY, ' +
          'PRIMARY KEY (id))',
      ),
    ).toEqual([{ status: 'Table T1 successfully created.' }]);
    expect(await c.exec('CREATE TABLE IF NOT EXISTS t1 (x INT)')).toEqual([
      { status: 'T1 already exists, statement succeeded.' },
    ]);
    const described = await c.exec('DESCRIBE TABLE t1');
    expect(described.map((r) => [r.name, r.type, r['null?']])).toEqual([
      ['ID', 'NUMBER(10,0)', 'N'],
      ['NAME', 'VARCHAR(36)', 'Y'],
      ['AMOUNT', 'NUMBER(38,9)', 'Y'],
      ['F', 'FLOAT', 'Y'],
      ['OK', 'BOOLEAN', 'Y'],
      ['D', 'DATE', 'Y'],
      ['TM', 'TIME(6)', 'Y'],
      ['NTZ', 'TIMESTAMP_NTZ(6)', 'Y'],
      ['TZ', 'TIMESTAMP_TZ(6)', 'Y'],
      ['LTZ', 'TIMESTAMP_LTZ(9)', 'Y'],
      ['V', 'VARIANT', 'Y'],
      ['A', 'ARRAY', 'Y'],
      ['O', 'OBJECT', 'Y'],
      ['B', 'BINARY(8388608)', 'Y'],
    ]);
    await c.exec('ALTER TABLE t1 ADD COLUMN extra NUMBER(5,0)');
    await c.exec('ALTER TABLE t1 ALTER COLUMN extra SET DATA TYPE NUMBER(12,0)');
    await c.exec('ALTER TABLE t1 ALTER COLUMN name SET DATA TYPE VARCHAR(100)');
    const narrow = await c.fails('ALTER TABLE t1 ALTER COLUMN extra SET DATA TYPE NUMBER(3,0)');
    expect(narrow).toMatchObject({ code: '002108' });
    expect(await c.fails('ALTER TABLE t1 ALTER COLUMN name SET DATA TYPE NUMBER(3,0)')).toMatchObject({
      code: '002108',
    });
    await c.exec('ALTER TABLE t1 DROP COLUMN o');
    const cols = await c.exec(
      `SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH
       FROM ${emu.database}.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      ['PUBLIC', 'T1'],
    );
    expect(cols.map((r) => Object.values(r))).toEqual([
      ['ID', 'NUMBER', 10, 0, null],
      ['NAME', 'TEXT', null, null, 100],
      ['AMOUNT', 'NUMBER', 38, 9, null],
      ['F', 'FLOAT', 53, null, null],
      ['OK', 'BOOLEAN', null, null, null],
      ['D', 'DATE', null, null, null],
      ['TM', 'TIME', null, null, null],
      ['NTZ', 'TIMESTAMP_NTZ', null, null, null],
      ['TZ', 'TIMESTAMP_TZ', null, null, null],
      ['LTZ', 'TIMESTAMP_LTZ', null, null, null],
      ['V', 'VARIANT', null, null, null],
      ['A', 'ARRAY', null, null, null],
      ['B', 'BINARY', null, null, 8388608],
      ['EXTRA', 'NUMBER', 12, 0, null],
    ]);
    expect(
      (await c.exec("SHOW TABLES LIKE 't1'")).map((r) => [r.name, r.database_name, r.schema_name, r.kind]),
    ).toEqual([['T1', 'DB', 'PUBLIC', 'TABLE']]);
    await c.exec('DROP TABLE t1');
    expect(await c.fails('SELECT * FROM t1')).toMatchObject({ code: '002003', sqlState: '42S02' });
    expect(await c.exec('DROP TABLE IF EXISTS t1')).toHaveLength(1);
  });

  it('creates schemas, transient and replaced tables, and truncates', async () => {
    await c.exec('CREATE SCHEMA IF NOT EXISTS "DB"."S2"');
    expect((await c.exec('SELECT CURRENT_SCHEMA() AS S'))[0]).toEqual({ S: 'S2' }); // CREATE SCHEMA makes it current
    await c.exec('CREATE OR REPLACE TRANSIENT TABLE "DB"."S2"."T" ("A" NUMBER(3,0))');
    await c.exec('INSERT INTO "DB"."S2"."T" VALUES (1), (2)');
    await c.exec('CREATE OR REPLACE TRANSIENT TABLE "DB"."S2"."T" ("A" NUMBER(3,0), "B" VARCHAR)');
    expect(await c.exec('SELECT COUNT(*) AS N FROM "DB"."S2"."T"')).toEqual([{ N: 0 }]);
    await c.exec('INSERT INTO "DB"."S2"."T" ("A") VALUES (1)');
    await c.exec('TRUNCATE TABLE "DB"."S2"."T"');
    expect(await c.exec('SELECT COUNT(*) AS N FROM "DB"."S2"."T"')).toEqual([{ N: 0 }]);
    expect((await c.exec('SHOW SCHEMAS')).map((r) => r.name)).toEqual(
      expect.arrayContaining(['PUBLIC', 'S2']),
    );
    await c.exec('USE SCHEMA PUBLIC');
  });
});

describe('DML and queries', () => {
  beforeAll(async () => {
    await c.exec(
      'CREATE OR REPLACE TABLE items (id NUMBER(19,0), label VARCHAR, price NUMBER(12,2), at TIMESTAMP_NTZ(6))',
    );
  });

  it('inserts with positional binds and array binds, updates and deletes with row counts', async () => {
    expect(
      await c.exec('INSERT INTO items (id, label, price) VALUES (?, ?, ?)', [1, 'one', '10.50']),
    ).toEqual([{ 'number of rows inserted': 1 }]);
    expect(
      await c.exec('INSERT INTO items (id, label, price) VALUES (?, ?, ?)', [
        [2, 'two', '20.25'],
        [3, null, '0.01'],
        ['9223372036854775807', 'max', '-9999999999.99'],
      ]),
    ).toEqual([{ 'number of rows inserted': 3 }]);
    expect(await c.exec('UPDATE items SET label = :1 WHERE id >= :2 AND id < 3', ['upd', 2])).toEqual([
      { 'number of rows updated': 1, 'number of multi-joined rows updated': 0 },
    ]);
    expect(await c.exec('DELETE FROM items WHERE label IS NULL')).toEqual([{ 'number of rows deleted': 1 }]);
    expect(await c.text('SELECT id, label, price FROM items ORDER BY id')).toEqual([
      { ID: '1', LABEL: 'one', PRICE: '10.50' },
      { ID: '2', LABEL: 'upd', PRICE: '20.25' },
      { ID: '9223372036854775807', LABEL: 'max', PRICE: '-9999999999.99' },
    ]);
  });

  it('runs window functions, QUALIFY and the functions the destination emits', async () => {
    const rows = await c.text(`
      SELECT k, v, FIRST_VALUE(v) OVER (PARTITION BY k ORDER BY s DESC) AS fv,
             MAX(s) OVER (PARTITION BY k ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running
      FROM (SELECT 1 AS k, 'a' AS v, 1 AS s UNION ALL SELECT 1, 'b', 2 UNION ALL SELECT 2, 'c', 1) x
      QUALIFY ROW_NUMBER() OVER (PARTITION BY k ORDER BY s DESC) = 1 ORDER BY k`);
    expect(rows).toEqual([
      { K: '1', V: 'b', FV: 'b', RUNNING: '2' },
      { K: '2', V: 'c', FV: 'c', RUNNING: '1' },
    ]);
    await c.exec(
      "ALTER SESSION SET TIMESTAMP_NTZ_OUTPUT_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF6', TIME_OUTPUT_FORMAT = 'HH24:MI:SS.FF6'",
    );
    const f = await c.text(`SELECT
        TIME_FROM_PARTS(0, 0, 0, 3723000001 * 1000) AS tm,
        TO_TIMESTAMP_NTZ(1704067200123456, 6) AS ntz,
        PARSE_JSON('{"a": [1, "x"]}') AS j,
        TRY_PARSE_JSON('{bad') AS bad,
        TO_VARIANT(5) AS tv,
        ARRAY_CONSTRUCT(1, 'two', NULL) AS arr,
        ARRAY_CONTAINS(TO_VARIANT('two'), ARRAY_CONSTRUCT(1, 'two')) AS has,
        HEX_DECODE_BINARY('00FF10') AS bin,
        TO_BINARY('ABCD') AS bin2,
        IFF(1 > 2, 'yes', 'no') AS iff,
        NVL(NULL, 'dflt') AS nvl,
        SUBSTR('abcdef', 2, 3) AS sub,
        CAST(12345678901234567890123456789012345678 AS NUMBER(38,0)) AS big,
        TO_VARCHAR(TO_TIMESTAMP_NTZ(1704067200123456, 6), 'YYYY-MM-DD HH24:MI:SS.FF6') AS txt`);
    expect(f).toEqual([
      {
        TM: '01:02:03.000001',
        NTZ: '2024-01-01 00:00:00.123456',
        J: '{"a": [1, "x"]}',
        BAD: null,
        TV: '5',
        ARR: '[1,"two",null]',
        HAS: 'TRUE',
        BIN: '00FF10',
        BIN2: 'ABCD',
        IFF: 'no',
        NVL: 'dflt',
        SUB: 'bcd',
        BIG: '12345678901234567890123456789012345678',
        TXT: '2024-01-01 00:00:00.123456',
      },
    ]);
  });

  it('returns JS values the way the driver converts Snowflake results', async () => {
    const [row] = await c.exec(
      "SELECT 42 AS n, 1.25::FLOAT AS f, TRUE AS b, '2024-01-02'::DATE AS d, PARSE_JSON('{\"k\": [1, 2]}') AS v, TO_BINARY('0A0B') AS bin, 'x' AS s, NULL AS z",
    );
    expect(row!.N).toBe(42);
    expect(row!.F).toBe(1.25);
    expect(row!.B).toBe(true);
    expect((row!.D as Date).toISOString().slice(0, 10)).toBe('2024-01-02');
    expect(row!.V).toEqual({ k: [1, 2] });
    expect(Buffer.from(row!.BIN as Buffer).toString('hex')).toBe('0a0b');
    expect(row!.S).toBe('x');
    expect(row!.Z).toBeNull();
  });
});

describe('MERGE', () => {
  beforeAll(async () => {
    await c.exec('CREATE OR REPLACE TABLE tgt (k NUMBER(10,0), v VARCHAR, deleted BOOLEAN)');
    await c.exec("INSERT INTO tgt VALUES (1, 'a', FALSE), (2, 'b', FALSE), (3, 'c', FALSE)");
  });

  it('updates, deletes and inserts with conditional clauses, and reports the counts', async () => {
    const r = await c.exec(`
      MERGE INTO tgt t USING (
        SELECT 1 AS k, 'a2' AS v, 0 AS op UNION ALL SELECT 2, NULL, 2 UNION ALL SELECT 4, 'd', 0 UNION ALL SELECT 5, 'e', 2
      ) s ON t.k = s.k
      WHEN MATCHED AND s.op = 2 THEN DELETE
      WHEN MATCHED THEN UPDATE SET v = s.v
      WHEN NOT MATCHED AND s.op <> 2 THEN INSERT (k, v, deleted) VALUES (s.k, s.v, FALSE)`);
    expect(r).toEqual([
      { 'number of rows inserted': 1, 'number of rows updated': 1, 'number of rows deleted': 1 },
    ]);
    expect(await c.text('SELECT k, v FROM tgt ORDER BY k')).toEqual([
      { K: '1', V: 'a2' },
      { K: '3', V: 'c' },
      { K: '4', V: 'd' },
    ]);
  });

  it('fails like Snowflake when several source rows would update one target row, and changes nothing', async () => {
    const err = await c.fails(
      "MERGE INTO tgt t USING (SELECT 1 AS k, 'x' AS v UNION ALL SELECT 1, 'y') s ON t.k = s.k WHEN MATCHED THEN UPDATE SET v = s.v",
    );
    expect(err).toMatchObject({ code: '100090', sqlState: '42P18' });
    expect(err.message).toMatch(/^Duplicate row detected during DML action\nRow Values: \[/);
    expect(await c.text('SELECT v FROM tgt WHERE k = 1')).toEqual([{ V: 'a2' }]);
  });

  it('allows several source rows that delete one target row, and duplicate unmatched inserts', async () => {
    await c.exec(
      'MERGE INTO tgt t USING (SELECT 3 AS k UNION ALL SELECT 3) s ON t.k = s.k WHEN MATCHED THEN DELETE',
    );
    await c.exec(
      "MERGE INTO tgt t USING (SELECT 9 AS k, 'n' AS v UNION ALL SELECT 9, 'n') s ON t.k = s.k WHEN NOT MATCHED THEN INSERT (k, v) VALUES (s.k, s.v)",
    );
    expect(await c.text('SELECT k, v FROM tgt ORDER BY k')).toEqual([
      { K: '1', V: 'a2' },
      { K: '4', V: 'd' },
      { K: '9', V: 'n' },
      { K: '9', V: 'n' },
    ]);
  });
});

describe('identifiers', () => {
  it('folds unquoted names to upper case and keeps quoted names exact', async () => {
    await c.exec('CREATE OR REPLACE TABLE MixedCase (Col1 INT, "col1" INT, "Col 2" VARCHAR)');
    await c.exec('CREATE OR REPLACE TABLE "mixedcase" (x INT)');
    await c.exec(`INSERT INTO mixedcase (col1, "col1", "Col 2") VALUES (1, 2, 'three')`);
    expect(await c.exec('SELECT * FROM MIXEDCASE')).toEqual([{ COL1: 1, col1: 2, 'Col 2': 'three' }]);
    expect(await c.exec('SELECT "COL1", "col1" FROM "MIXEDCASE"')).toEqual([{ COL1: 1, col1: 2 }]);
    expect(await c.exec('SELECT COUNT(*) AS n FROM "mixedcase"')).toEqual([{ N: 0 }]);
    expect(await c.fails('SELECT "Col1" FROM mixedcase')).toMatchObject({ code: '000904' });
    expect(await c.fails('SELECT * FROM "MixedCase"')).toMatchObject({ code: '002003' });
    const tables = (await c.exec("SHOW TABLES LIKE 'mixedcase'")).map((r) => r.name).sort();
    expect(tables).toEqual(['MIXEDCASE', 'mixedcase']);
    const cols = await c.exec(
      "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'MIXEDCASE' ORDER BY ORDINAL_POSITION",
    );
    expect(cols.map((r) => r.COLUMN_NAME)).toEqual(['COL1', 'col1', 'Col 2']);
    expect(Object.keys((await c.exec('SELECT 1 + 1, 2 AS two, col1 FROM mixedcase'))[0]!)).toEqual([
      '1 + 1',
      'TWO',
      'COL1',
    ]);
  });
});

describe('statements the emulator does not run', () => {
  it('fail with a Snowflake compilation error, never a silent success', async () => {
    for (const sql of [
      'CREATE WAREHOUSE w',
      'UNDROP TABLE x',
      'SELECT v:a FROM (SELECT PARSE_JSON(\'{"a":1}\') AS v)',
      'COPY INTO items FROM @~ FILE_FORMAT = (TYPE = CSV)',
      'GET @~/x file:///tmp/',
      'SELECT no_such_function(1)',
    ]) {
      const err = await c.fails(sql);
      expect(['001003', '002140', '002003'], sql).toContain(String(err.code));
    }
  });

  it('runs several statements only when MULTI_STATEMENT_COUNT allows it', async () => {
    expect(await c.fails('SELECT 1; SELECT 2')).toMatchObject({ code: '000008' });
    const results: unknown[] = [];
    await new Promise<void>((ok, fail) => {
      c.raw.execute({
        sqlText: 'SELECT 1 AS a; SELECT 2 AS b',
        parameters: { MULTI_STATEMENT_COUNT: 2 },
        complete: (err: unknown, stmt: { hasNext(): boolean; NextResult(): void }, rows: unknown) => {
          if (err) return fail(err);
          results.push(rows);
          if (stmt.hasNext()) stmt.NextResult();
          else ok();
        },
      } as never);
    });
    expect(results).toEqual([[{ A: 1 }], [{ B: 2 }]]);
  });
});
