/**
 * TOAST, replica identities, key changes, deletes, truncates and schema
 * changes, decoded from a real pgoutput stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TruncateEntry } from '../../../src/change/change-entry.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { captureChanges } from './stream-helper.js';

let db: TestDatabase;
const oids: number[] = [];
const BIG = "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3200) g)"; // ~100 KB

beforeAll(async () => {
  db = await createTestDatabase();
  for (const t of ['docs', 'docs_full']) {
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, body text, n int)`);
    await db.query(`ALTER TABLE ${t} ALTER body SET STORAGE EXTERNAL`);
    const { rows } = await db.query<{ oid: number }>(`SELECT '${t}'::regclass::oid::int4 AS oid`);
    oids.push(rows[0]!.oid);
  }
  await db.query('ALTER TABLE docs_full REPLICA IDENTITY FULL');
  await db.query('CREATE PUBLICATION p FOR TABLE docs, docs_full');
});
afterAll(async () => {
  await db?.drop();
});

describe('row changes', () => {
  it('marks unchanged TOAST (filled from the old row under FULL), keeps FULL old images, splits key changes, deletes and truncates', async () => {
    await db.query(`SELECT pg_create_logical_replication_slot('rc', 'pgoutput')`);
    await db.query(`INSERT INTO docs VALUES (1, ${BIG}, 1)`);
    await db.query(`INSERT INTO docs_full VALUES (1, ${BIG}, 1)`);
    await db.query('UPDATE docs SET n = 2 WHERE id = 1'); // tx 3
    await db.query('UPDATE docs_full SET n = 2 WHERE id = 1'); // tx 4
    await db.query('UPDATE docs SET id = 10 WHERE id = 1'); // tx 5: key change
    await db.query('UPDATE docs_full SET id = 2 WHERE id = 1'); // tx 6: key change under FULL
    await db.query('DELETE FROM docs WHERE id = 10'); // tx 7
    await db.query('DELETE FROM docs_full WHERE id = 2'); // tx 8
    await db.query('INSERT INTO docs VALUES (5, $1, 5)', ['small']); // tx 9
    await db.query('TRUNCATE docs RESTART IDENTITY CASCADE'); // tx 10
    const { batches } = await captureChanges({
      url: db.url,
      slot: 'rc',
      publication: 'p',
      transactions: 10,
      tables: oids,
    });
    const { rows: bodies } = await db.query<{ body: string }>(`SELECT ${BIG} AS body`);
    const body = bodies[0]!.body;
    const docs = batches.flatMap((b) => [...b.rows('public.docs')]);
    const pick = (r: Record<string, unknown>) => [
      r.id,
      r.body === body ? 'BIG' : r.body,
      r.n,
      r._etl_op,
      r._etl_unchanged,
    ];
    expect(docs.map(pick)).toEqual([
      [1, 'BIG', 1, ChangeOp.Insert, null],
      [1, null, 2, ChangeOp.Update, ['body']],
      [1, null, null, ChangeOp.Delete, null], // old key of the key change
      [10, null, 2, ChangeOp.Update, ['body']],
      [10, null, null, ChangeOp.Delete, null],
      [5, 'small', 5, ChangeOp.Insert, null],
    ]);
    const full = batches.flatMap((b) => [...b.rows('public.docs_full')]);
    // Under FULL the old row carries the unchanged value: updates come whole, key changes keep it.
    expect(full.map(pick)).toEqual([
      [1, 'BIG', 1, ChangeOp.Insert, null],
      [1, 'BIG', 2, ChangeOp.Update, null],
      [1, 'BIG', 2, ChangeOp.Delete, null], // old key of the key change, whole
      [2, 'BIG', 2, ChangeOp.Update, null],
      [2, 'BIG', 2, ChangeOp.Delete, null],
    ]);
    const befores = batches.flatMap((b) => {
      const e = b.rowsOf('public.docs_full');
      const rows: Record<string, unknown>[] = [];
      if (e?.before) for (let i = 0; i < e.before.numRows; i++) rows.push(e.before.get(i)!.toJSON());
      return rows;
    });
    expect(befores.map((r) => [r.id, r.body === body ? 'BIG' : r.body, r.n])).toEqual([
      [1, 'BIG', 1],
      [1, 'BIG', 2],
      [2, 'BIG', 2],
    ]);
    const truncates = batches.flatMap((b) =>
      b.entries.filter((e): e is TruncateEntry => e.kind === 'truncate'),
    );
    expect(truncates).toHaveLength(1);
    expect(truncates[0]!.tables.map((t) => t.name)).toEqual(['docs']);
    expect(truncates[0]!).toMatchObject({ cascade: true, restartIdentity: true });
  });

  it('cuts the batch at a schema change of a held table, and inside a transaction', async () => {
    await db.query(`SELECT pg_create_logical_replication_slot('sc', 'pgoutput')`);
    await db.query(`INSERT INTO docs VALUES (100, 'a', 1)`);
    await db.query(`INSERT INTO docs_full VALUES (100, 'a', 1)`);
    await db.query(`ALTER TABLE docs ADD COLUMN extra int; INSERT INTO docs VALUES (101, 'b', 2, 7)`);
    await db.query(
      `BEGIN; INSERT INTO docs VALUES (102, 'c', 3, 8); ALTER TABLE docs DROP COLUMN extra; INSERT INTO docs VALUES (103, 'd', 4); COMMIT`,
    );
    await db.query('TRUNCATE docs_full');
    const { batches } = await captureChanges({
      url: db.url,
      slot: 'sc',
      publication: 'p',
      transactions: 5,
      take: 'cut',
      tables: oids,
    });
    const shape = batches.map((b) => ({
      partial: b.partial,
      tx: b.transactions,
      entries: b.entries.map((e) =>
        e.kind === 'rows'
          ? `rows ${e.table.name} ${e.data.numRows} [${e.table.columns.map((c) => c.name)}]`
          : e.kind === 'schema'
            ? `schema ${e.table.name} [${e.table.columns.map((c) => c.name)}]`
            : `truncate ${e.tables.map((t) => t.name)}`,
      ),
    }));
    expect(shape).toEqual([
      {
        partial: false,
        tx: 2,
        entries: [
          'schema docs [id,body,n]',
          'rows docs 1 [id,body,n]',
          'schema docs_full [id,body,n]',
          'rows docs_full 1 [id,body,n]',
        ],
      },
      // The ALTER's transaction (cut off from the rows of the old shape before it).
      { partial: false, tx: 1, entries: ['schema docs [id,body,n,extra]', 'rows docs 1 [id,body,n,extra]'] },
      // The next transaction wrote a row of that shape, then dropped the column: its first part is a partial chunk.
      { partial: true, tx: 0, entries: ['rows docs 1 [id,body,n,extra]'] },
      {
        partial: false,
        tx: 2,
        entries: ['schema docs [id,body,n]', 'rows docs 1 [id,body,n]', 'truncate docs_full'],
      },
    ]);
  });

  it('makes a column rename and a type change schema changes too, each with the shape before', async () => {
    await db.query('CREATE TABLE renames (id int PRIMARY KEY, a int, b text)');
    const { rows } = await db.query<{ oid: number }>(`SELECT 'renames'::regclass::oid::int4 AS oid`);
    await db.query('CREATE PUBLICATION p_renames FOR TABLE renames');
    await db.query(`SELECT pg_create_logical_replication_slot('rn', 'pgoutput')`);
    await db.query(`INSERT INTO renames VALUES (1, 1, 'x')`);
    await db.query(`ALTER TABLE renames RENAME COLUMN b TO label; INSERT INTO renames VALUES (2, 2, 'y')`);
    await db.query(`ALTER TABLE renames ALTER COLUMN a TYPE bigint; INSERT INTO renames VALUES (3, 3, 'z')`);
    const { batches } = await captureChanges({
      url: db.url,
      slot: 'rn',
      publication: 'p_renames',
      transactions: 3,
      take: 'cut',
      tables: [rows[0]!.oid],
    });
    const shape = (t: { columns: readonly { name: string; typeName: string }[] }) =>
      t.columns.map((c) => `${c.name}:${c.typeName}`).join(',');
    const entries = batches.flatMap((b) =>
      b.entries.map((e) =>
        e.kind === 'schema'
          ? `schema ${shape(e.table)} (was ${e.previous ? shape(e.previous) : 'unseen'})`
          : e.kind === 'rows'
            ? `rows ${e.data.numRows} ${shape(e.table)} ${String(e.data.getChild('a')!.type)}`
            : e.kind,
      ),
    );
    expect(entries).toEqual([
      'schema id:integer,a:integer,b:text (was unseen)',
      'rows 1 id:integer,a:integer,b:text Int32',
      'schema id:integer,a:integer,label:text (was id:integer,a:integer,b:text)',
      'rows 1 id:integer,a:integer,label:text Int32',
      'schema id:integer,a:bigint,label:text (was id:integer,a:integer,label:text)',
      'rows 1 id:integer,a:bigint,label:text Int64',
    ]);
  });
});
