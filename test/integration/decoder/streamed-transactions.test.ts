/**
 * Large transactions streamed by the server while in progress (protocol 2,
 * logical_decoding_work_mem=64kB): delivered whole at commit (spilled to
 * Arrow IPC files past the memory limit), dropped on abort, and a rolled
 * back subtransaction loses only its own rows.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { captureChanges } from './stream-helper.js';

let db: TestDatabase;
let spillDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  spillDir = mkdtempSync(join(tmpdir(), 'etl-spill-test-'));
  await db.query('CREATE TABLE big (id int PRIMARY KEY, grp text, pad text)');
  await db.query('CREATE TABLE side (id int PRIMARY KEY)');
  await db.query('CREATE PUBLICATION p FOR TABLE big, side');
});
afterAll(async () => {
  await db?.drop();
  rmSync(spillDir, { recursive: true, force: true });
});

const rowsSql = (from: number, to: number, grp: string) =>
  `INSERT INTO big SELECT g, '${grp}', repeat(md5(g::text), 4) FROM generate_series(${from}, ${to}) g`;

describe('streamed transactions', () => {
  for (const binary of [false, true]) {
    it(`delivers a spilled large transaction whole, drops aborted ones and rolled-back subtransactions (${binary ? 'binary' : 'text'})`, async () => {
      const slot = `st_${binary ? 'b' : 't'}`;
      await db.query('TRUNCATE big, side');
      await db.query(`SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`);
      await db.query(`BEGIN; ${rowsSql(1, 5000, 'A')}; COMMIT`);
      await db.query(`BEGIN; ${rowsSql(10001, 13000, 'B')}; ROLLBACK`);
      await db.query('INSERT INTO side VALUES (1)');
      await db.query(
        `BEGIN; ${rowsSql(20001, 22000, 'C1')}; SAVEPOINT s1; ${rowsSql(22001, 24000, 'C2')}; ROLLBACK TO s1; ` +
          `SAVEPOINT s2; ${rowsSql(24001, 24010, 'C3')}; RELEASE s2; COMMIT`,
      );
      const cap = await captureChanges({
        url: db.url,
        slot,
        publication: 'p',
        transactions: 3,
        binary,
        streaming: true,
        serverOptions: '-c logical_decoding_work_mem=64kB',
        accumulator: { streamMemoryLimitBytes: 200_000, spillDir },
      });
      const streamed = cap.messages.filter((m) => m.payload[0] === 0x53 /* S */).length;
      expect(streamed).toBeGreaterThan(2);
      const rows = cap.batches.flatMap((b) => [...b.rows('public.big')]);
      const groups = new Map<string, number[]>();
      for (const r of rows)
        groups.set(r.grp as string, [...(groups.get(r.grp as string) ?? []), r.id as number]);
      expect([...groups.keys()]).toEqual(['A', 'C1', 'C3']);
      expect(groups.get('A')).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
      expect(groups.get('C1')).toEqual(Array.from({ length: 2000 }, (_, i) => 20001 + i));
      expect(groups.get('C3')).toEqual(Array.from({ length: 10 }, (_, i) => 24001 + i));
      // Every row carries its transaction's commit LSN; within a transaction seq increases.
      const aBatches = cap.batches.filter(
        (b) => b.rowsOf('public.big')?.data.getChild('grp')?.get(0) === 'A',
      );
      expect(aBatches.length).toBeGreaterThan(1); // spilled chunks arrive as partial batches
      expect(aBatches.slice(0, -1).every((b) => b.partial && b.transactions === 0)).toBe(true);
      expect(aBatches.at(-1)!.partial).toBe(false);
      const commitA = aBatches.at(-1)!.commitLsn;
      const aRows = rows.filter((r) => r.grp === 'A');
      expect(aRows.every((r) => r._etl_lsn === commitA)).toBe(true);
      const seqs = aRows.map((r) => r._etl_seq as number);
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
      expect(cap.batches.flatMap((b) => [...b.rows('public.side')]).map((r) => r.id)).toEqual([1]);
      expect(readdirSync(spillDir)).toEqual([]);
    });
  }
});
