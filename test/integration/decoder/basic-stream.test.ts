import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { captureChanges } from './stream-helper.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id int PRIMARY KEY, label text, flag bool, big int8)');
  await db.query('CREATE PUBLICATION p FOR TABLE items');
});
afterAll(async () => {
  await db?.drop();
});

describe('decoder end to end', () => {
  for (const binary of [false, true]) {
    it(`decodes inserts of ints, text and bool (${binary ? 'binary' : 'text'} mode)`, async () => {
      const slot = `s_basic_${binary ? 'b' : 't'}`;
      await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
      await db.query(
        `INSERT INTO items VALUES (1, 'one', true, 9007199254740993), (2, NULL, false, -9223372036854775808), (3, 'drei', NULL, NULL)`,
      );
      await db.query(`DELETE FROM items`);
      const { batches } = await captureChanges({
        url: db.url,
        slot,
        publication: 'p',
        transactions: 2,
        binary,
      });
      const rows = batches.flatMap((b) => [...b.rows('public.items')]);
      expect(rows.map((r) => [r.id, r.label, r.flag, r.big, r._etl_op])).toEqual([
        [1, 'one', true, 9007199254740993n, ChangeOp.Insert],
        [2, null, false, -9223372036854775808n, ChangeOp.Insert],
        [3, 'drei', null, null, ChangeOp.Insert],
        [1, null, null, null, ChangeOp.Delete],
        [2, null, null, null, ChangeOp.Delete],
        [3, null, null, null, ChangeOp.Delete],
      ]);
      expect(batches.reduce((n, b) => n + b.transactions, 0)).toBe(2);
      const lsns = rows.map((r) => r._etl_lsn as bigint);
      expect(lsns[0]).toBeGreaterThan(0n);
      expect(lsns[3]).toBeGreaterThan(lsns[0]!);
      expect(batches.at(-1)!.checkpoint.commitLsn).toBe(lsns[3]);
    });
  }
});
