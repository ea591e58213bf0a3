/**
 * The slot query for every server generation runs and parses. The harness
 * server may be older than 17, so the 16/17 columns are provided by a
 * temporary view shadowing pg_replication_slots (temporary relations are
 * looked up before pg_catalog).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toSlotReading } from '../../../src/monitor/slot-reading.js';
import { SERVER_VERSION_SQL, type SlotRow, slotsSql } from '../../../src/monitor/slot-sql.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('etl_mon');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe('slot SQL', () => {
  it('reads exact numbers on this server, and runs with the PostgreSQL 16 and 17 columns', async () => {
    const slot = `sql_${db.name}`;
    await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    const version = (await client.query<{ version: number }>(SERVER_VERSION_SQL)).rows[0]!.version;
    expect(version).toBeGreaterThanOrEqual(130000);

    const native = (await client.query<SlotRow>(slotsSql(version), [[slot]])).rows.map((r) =>
      toSlotReading(r, 'h:1', 0),
    );
    expect(native).toHaveLength(1);
    expect(native[0]).toMatchObject({
      slot,
      type: 'logical',
      database: db.name,
      active: false,
      walStatus: 'reserved',
      lost: false,
    });
    expect(typeof native[0]?.lagBytes).toBe('bigint');

    if (version < 170000) {
      await client.query(`CREATE TEMP VIEW pg_replication_slots AS
        SELECT s.*, ${version >= 160000 ? '' : 'false AS conflicting, '}
          now() - interval '90 seconds' AS inactive_since, 'wal_removed'::text AS invalidation_reason
        FROM pg_catalog.pg_replication_slots s`);
    }
    const [row] = (await client.query<SlotRow>(slotsSql(170000), [[slot]])).rows;
    const reading = toSlotReading(row!, 'h:1', 0);
    if (version < 170000) {
      expect(reading.inactiveMs).toBeGreaterThanOrEqual(90_000);
      expect(reading).toMatchObject({ invalidationReason: 'wal_removed', lost: true });
    }
    expect(
      (await client.query<SlotRow>(slotsSql(160000), [null])).rows.some((r) => r.slot_name === slot),
    ).toBe(true);
    await client.query('DROP VIEW IF EXISTS pg_temp.pg_replication_slots');
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
  });
});
