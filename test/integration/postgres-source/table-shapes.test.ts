/**
 * Table shapes through the whole source, snapshot then stream, compared
 * with the tables: partitioned tables published via their root, REPLICA
 * IDENTITY DEFAULT / USING INDEX / FULL (keys, old images), and TRUNCATE
 * with CASCADE and RESTART IDENTITY as entries in stream order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import type { MemoryDestination } from '../../../src/destinations/memory-destination.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { TestConsumer } from './consumer.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_shapes');
});

afterAll(async () => {
  await db?.drop();
});

/** The destination's rows equal the table's (the given columns, ordered by `orderBy`). */
async function same(
  dest: MemoryDestination,
  table: string,
  columns: string,
  orderBy: string,
): Promise<boolean> {
  const want = (await db.query(`SELECT ${columns} FROM ${table} ORDER BY ${orderBy}`)).rows;
  const names = columns.split(',').map((c) => c.trim());
  const key = (r: Record<string, unknown>) => JSON.stringify(names.map((n) => r[n]));
  const got = dest
    .rows(`public.${table}`)
    .map((r) => Object.fromEntries(names.map((n) => [n, r[n]])))
    .sort((a, b) => (key(a) < key(b) ? -1 : 1));
  const sorted = [...want].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  return JSON.stringify(got) === JSON.stringify(sorted);
}

/** Every entry of the batches, in order, described. */
function entriesOf(batches: readonly ChangeBatch[], tables: readonly string[]): string[] {
  const out: string[] = [];
  for (const b of batches) {
    for (const e of b.entries) {
      if (e.kind === 'truncate') {
        out.push(
          `truncate ${e.tables.map((t) => t.name).join('+')}${e.cascade ? ' cascade' : ''}${e.restartIdentity ? ' restart' : ''}`,
        );
      } else if (e.kind === 'rows' && tables.includes(e.table.name)) {
        const ops = e.data.getChild('_etl_op')!;
        const ids = e.data.getChild('id')!;
        for (let i = 0; i < e.data.numRows; i++) out.push(`${e.table.name} ${ops.get(i)} ${ids.get(i)}`);
      }
    }
  }
  return out;
}

describe('PostgresSource table shapes', () => {
  it('streams a partitioned table under its root name (publish_via_partition_root), rows moving between partitions included', async () => {
    await db.query(
      `CREATE TABLE parted (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region)`,
    );
    await db.query(`CREATE TABLE parted_eu PARTITION OF parted FOR VALUES IN ('eu')`);
    await db.query(`CREATE TABLE parted_us PARTITION OF parted FOR VALUES IN ('us')`);
    await db.query(
      `INSERT INTO parted SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 0 FROM generate_series(1, 100) g`,
    );
    const c = new TestConsumer({
      connectionString: db.url,
      tables: ['public.parted'],
      slot: 'shapes_parted',
    });
    try {
      await c.drainUntil(() => c.lastConfirmed !== undefined && c.lastConfirmed.snapshot === undefined);
      await db.query(`INSERT INTO parted VALUES (101, 'eu', 1)`); // through the root
      await db.query(`INSERT INTO parted_us VALUES (102, 'us', 2)`); // straight into a partition
      await db.query(`UPDATE parted SET v = 5 WHERE id <= 10`);
      await db.query(`UPDATE parted SET region = 'eu' WHERE id = 11`); // moves to the other partition
      await db.query(`DELETE FROM parted_eu WHERE id = 12`);
      await c.drainUntil(() => same(c.dest, 'parted', 'id, region, v', 'id, region'));
      const names = new Set(c.pulled.flatMap((b) => b.rowEntries().map((e) => e.table.name)));
      expect([...names]).toEqual(['parted']);
      const { rows } = await db.query(`SELECT pubviaroot FROM pg_publication WHERE pubname = 'etl_test'`);
      expect(rows).toEqual([{ pubviaroot: true }]);
    } finally {
      await c.stop();
    }
  });

  it('handles REPLICA IDENTITY DEFAULT, USING INDEX and FULL: keys, key changes, deletes, old images', async () => {
    await db.query(`CREATE TABLE ri_default (id int PRIMARY KEY, v int, note text)`);
    await db.query(`CREATE TABLE ri_index (id int NOT NULL, code text NOT NULL, v int, note text)`);
    await db.query(`CREATE UNIQUE INDEX ri_index_key ON ri_index (id, code)`);
    await db.query(`ALTER TABLE ri_index REPLICA IDENTITY USING INDEX ri_index_key`);
    await db.query(`CREATE TABLE ri_full (id int PRIMARY KEY, v int, note text)`);
    await db.query(`ALTER TABLE ri_full REPLICA IDENTITY FULL`);
    for (const t of ['ri_default', 'ri_full']) {
      await db.query(`INSERT INTO ${t} SELECT g, g, 'n' || g FROM generate_series(1, 20) g`);
    }
    await db.query(`INSERT INTO ri_index SELECT g, 'c' || g, g, 'n' || g FROM generate_series(1, 20) g`);
    const tables = ['ri_default', 'ri_index', 'ri_full'];
    const c = new TestConsumer({
      connectionString: db.url,
      tables: tables.map((t) => `public.${t}`),
      slot: 'shapes_ri',
      publication: 'shapes_ri',
    });
    try {
      await c.drainUntil(() => c.lastConfirmed !== undefined && c.lastConfirmed.snapshot === undefined);
      for (const t of tables) {
        await db.query(
          `BEGIN; UPDATE ${t} SET v = v * 10 WHERE id <= 5; UPDATE ${t} SET id = id + 100 WHERE id = 6;
           DELETE FROM ${t} WHERE id IN (7, 8); INSERT INTO ${t} (id, ${t === 'ri_index' ? 'code, ' : ''}v, note) VALUES (50, ${t === 'ri_index' ? "'c50', " : ''}50, 'new'); COMMIT`,
        );
      }
      await db.query(`UPDATE ri_index SET code = 'moved' WHERE id = 9`); // key change through the index's second column
      for (const t of tables) {
        const cols = t === 'ri_index' ? 'id, code, v, note' : 'id, v, note';
        await c.drainUntil(() => same(c.dest, t, cols, t === 'ri_index' ? 'id, code' : 'id'));
      }
      const keyOf = (t: string) =>
        c.pulled.flatMap((b) => b.rowEntries()).find((e) => e.table.name === t)!.table.primaryKey;
      expect([keyOf('ri_default'), keyOf('ri_index'), keyOf('ri_full')]).toEqual([
        ['id'],
        ['id', 'code'],
        ['id'],
      ]);
      // FULL: every UPDATE and DELETE carries the old row; DEFAULT and INDEX carry none.
      const befores = (t: string) =>
        c.pulled.flatMap((b) => {
          const e = b.rowsOf(`public.${t}`);
          const rows: unknown[] = [];
          if (e?.before) for (let i = 0; i < e.before.numRows; i++) rows.push(e.before.get(i)!.toJSON());
          return rows;
        });
      expect(befores('ri_default')).toEqual([]);
      expect(befores('ri_index')).toEqual([]);
      const full = befores('ri_full') as { id: number; v: number; note: string }[];
      expect(full.map((r) => [r.id, r.v, r.note])).toEqual([
        [1, 1, 'n1'],
        [2, 2, 'n2'],
        [3, 3, 'n3'],
        [4, 4, 'n4'],
        [5, 5, 'n5'],
        [6, 6, 'n6'],
        [7, 7, 'n7'],
        [8, 8, 'n8'],
      ]);
      // Deletes under DEFAULT carry the key only; under FULL the whole old row.
      const deletes = (t: string) =>
        c.pulled.flatMap((b) => [...b.rows(`public.${t}`)]).filter((r) => r._etl_op === ChangeOp.Delete);
      expect(deletes('ri_default').map((r) => [r.id, r.v, r.note])).toEqual([
        [6, null, null], // the old key of the key change
        [7, null, null],
        [8, null, null],
      ]);
      expect(deletes('ri_full').map((r) => [r.id, r.v, r.note])).toEqual([
        [6, 6, 'n6'],
        [7, 7, 'n7'],
        [8, 8, 'n8'],
      ]);
      expect(deletes('ri_index').map((r) => [r.id, r.code])).toEqual([
        [6, 'c6'],
        [7, 'c7'],
        [8, 'c8'],
        [9, 'c9'],
      ]);
    } finally {
      await c.stop();
    }
  });

  it('delivers TRUNCATE ... RESTART IDENTITY CASCADE as one entry for every truncated table, in stream order', async () => {
    await db.query(`CREATE TABLE parent (id serial PRIMARY KEY, label text)`);
    await db.query(`CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id))`);
    await db.query(`INSERT INTO parent (label) VALUES ('a'), ('b')`);
    await db.query(`INSERT INTO child VALUES (1, 1), (2, 2)`);
    const c = new TestConsumer(
      {
        connectionString: db.url,
        tables: ['public.parent', 'public.child'],
        slot: 'shapes_trunc',
        publication: 'shapes_trunc',
      },
      { batch: { maxRows: 1_000, maxDelayMs: 50 } },
    );
    try {
      await c.drainUntil(() => c.lastConfirmed !== undefined && c.lastConfirmed.snapshot === undefined);
      const fromBatch = c.pulled.length;
      await db.query(
        `BEGIN; INSERT INTO parent (label) VALUES ('c'); INSERT INTO child VALUES (3, 3);
         TRUNCATE parent RESTART IDENTITY CASCADE;
         INSERT INTO parent (label) VALUES ('after'); INSERT INTO child VALUES (10, 1); COMMIT`,
      );
      await c.drainUntil(
        async () =>
          (await same(c.dest, 'parent', 'id, label', 'id')) && same(c.dest, 'child', 'id, parent_id', 'id'),
      );
      expect(entriesOf(c.pulled.slice(fromBatch), ['parent', 'child'])).toEqual([
        `parent ${ChangeOp.Insert} 3`,
        `child ${ChangeOp.Insert} 3`,
        'truncate parent+child cascade restart',
        `parent ${ChangeOp.Insert} 1`, // RESTART IDENTITY: the sequence starts over
        `child ${ChangeOp.Insert} 10`,
      ]);
      // The truncate sits between the rows it separates: never inside a batch holding rows of its tables before it.
      for (const b of c.pulled.slice(fromBatch)) {
        const at = b.entries.findIndex((e) => e.kind === 'truncate');
        if (at > 0) expect(b.entries.slice(0, at).some((e) => e.kind === 'rows')).toBe(false);
      }
    } finally {
      await c.stop();
    }
  });
});
