import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { ChangeOp, TestConsumer } from './consumer.js';

let db: TestDatabase;

const VALUES = `
  (1, true, 42::int8, 3.25::numeric(8,2), 'hello'::text, '{1,2,3}'::int4[], '2024-02-29 12:34:56.123456+00'::timestamptz,
   '{"a": [1, 2.50]}'::jsonb, '1 day 02:03:04'::interval, '10.1.2.3/32'::inet),
  (2, false, NULL, NULL, NULL, '{}', NULL, NULL, NULL, NULL),
  (3, NULL, -9223372036854775808, -0.01, 'quote '' and \\ backslash', '{NULL,5}', 'infinity', '[]', '-1 mon', '::1')`;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_types');
  // `interval` and `inet` have no binary decoder: the whole table goes the text way (COPY of format('%s', col)).
  const columns = `id int PRIMARY KEY, flag bool, big int8, amount numeric(8,2), label text, nums int4[],
    at timestamptz, doc jsonb`;
  await db.query(`CREATE TABLE plain (${columns})`);
  await db.query(`CREATE TABLE texty (${columns}, span interval, addr inet)`);
  await db.query(
    `INSERT INTO plain SELECT id, flag, big, amount, label, nums, at, doc FROM (VALUES ${VALUES}) v(id, flag, big, amount, label, nums, at, doc, span, addr)`,
  );
  await db.query(
    `INSERT INTO texty SELECT * FROM (VALUES ${VALUES}) v(id, flag, big, amount, label, nums, at, doc, span, addr)`,
  );
});

afterAll(async () => {
  await db?.drop();
});

describe('PostgresSource snapshot values', () => {
  for (const table of ['plain', 'texty']) {
    it(`reads ${table} rows exactly as the stream decodes the same values`, async () => {
      const c = new TestConsumer({
        connectionString: db.url,
        tables: [`public.${table}`],
        slot: `types_${table}`,
        unrepresentable: 'null', // 'infinity' has no Arrow timestamp: null, in both paths
      });
      try {
        await c.drainUntil(() => c.lastConfirmed !== undefined && c.lastConfirmed.snapshot === undefined);
        // The same values again, as new rows: they come through pgoutput.
        await db.query(
          `INSERT INTO ${table} SELECT id + 100, ${table === 'plain' ? 'flag, big, amount, label, nums, at, doc' : 'flag, big, amount, label, nums, at, doc, span, addr'} FROM ${table} WHERE id < 100`,
        );
        await c.drainUntil(() => c.dest.rows(`public.${table}`).length === 6);
        const read = c.pulled
          .flatMap((b) => [...b.rows(`public.${table}`)])
          .filter((r) => r._etl_op === ChangeOp.Read);
        const streamed = c.pulled
          .flatMap((b) => [...b.rows(`public.${table}`)])
          .filter((r) => r._etl_op === ChangeOp.Insert);
        expect(read).toHaveLength(3);
        expect(streamed).toHaveLength(3);
        const strip = (r: Record<string, unknown>) => {
          const { id, _etl_op, _etl_lsn, _etl_seq, _etl_unchanged, ...rest } = r;
          return { id: Number(id) % 100, ...rest };
        };
        expect(streamed.map(strip)).toEqual(read.map(strip));
        expect(read.find((r) => r.id === 3)?.label).toBe("quote ' and \\ backslash");
        expect(c.source.nulledValues.get(`unrepresentable:public.${table}.at`)).toBe(2);
        expect(
          c.events.filter((e) => e.type === 'alert' && e.payload.key.startsWith('unrepresentable:')),
        ).toHaveLength(1);
      } finally {
        await c.stop();
      }
    });
  }
});
