import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtlError } from '../../../src/errors.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { walLevelError } from '../../../src/postgres/preflight.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { startPrivatePostgres } from '../../support/services.js';
import { prepareError, TestConsumer, waitFor } from './consumer.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_pre');
  await db.query(`CREATE TABLE keyed (id int PRIMARY KEY, body text)`);
  await db.query(`CREATE TABLE keyless (id int, body text)`);
  await db.query(`CREATE TABLE "Mixed.Case" (id int PRIMARY KEY)`);
  await db.query(`CREATE PUBLICATION foreign_pub FOR TABLE keyed`);
});

afterAll(async () => {
  await db?.drop();
});

describe('PostgresSource preflight', () => {
  it('explains how to enable logical decoding', () => {
    const err = walLevelError('replica');
    expect(err.code).toBe('PG_NOT_LOGICAL');
    expect(err.message).toContain('wal_level = replica');
    expect(err.hint).toContain('ALTER SYSTEM SET wal_level = logical');
    expect(err.hint).toContain('restart');
  });

  it('refuses a server whose wal_level is not logical, saying how to fix it', async () => {
    const server = await startPrivatePostgres({ settings: { wal_level: 'replica' } });
    try {
      const err = await prepareError({ connectionString: server.url, tables: ['public.t'], slot: 'pre_wal' });
      expect(err.code).toBe('PG_NOT_LOGICAL');
      expect(err.message).toContain('wal_level = replica');
      expect(err.hint).toContain('ALTER SYSTEM SET wal_level = logical');
    } finally {
      await server.stop();
    }
  }, 90_000);

  it('names unknown tables', async () => {
    const err = await prepareError({
      connectionString: db.url,
      tables: ['public.keyed', 'public.nope', 'other.gone'],
      slot: 'pre_unknown',
    });
    expect(err.code).toBe('PG_UNKNOWN_TABLE');
    expect(err.message).toContain('"public"."nope"');
    expect(err.message).toContain('"other"."gone"');
    expect(err.hint).toBeTruthy();
  });

  it('rejects tables without a replica identity, unless appendOnly', async () => {
    const err = await prepareError({
      connectionString: db.url,
      tables: ['public.keyless'],
      slot: 'pre_keyless',
    });
    expect(err.code).toBe('PG_NO_REPLICA_IDENTITY');
    expect(err.message).toContain('"public"."keyless"');
    expect(err.hint).toContain('REPLICA IDENTITY FULL');
    const ok = new TestConsumer({
      connectionString: db.url,
      tables: ['public.keyless'],
      slot: 'pre_keyless2',
      publication: 'pre_keyless_pub',
      appendOnly: true,
    });
    await ok.prepare();
    await ok.stop();
  });

  it('warns about toastable columns under REPLICA IDENTITY DEFAULT and reports WAL retention', async () => {
    const c = new TestConsumer({
      connectionString: db.url,
      tables: ['public.keyed'],
      slot: 'pre_toast',
      publication: 'pre_toast_pub',
    });
    await c.prepare();
    await c.stop();
    const alerts = c.events
      .filter((e) => e.type === 'alert')
      .map((e) => e.payload as { key: string; severity: string });
    expect(alerts).toContainEqual(
      expect.objectContaining({ key: 'toast:public.keyed', severity: 'warning' }),
    );
    expect(alerts).toContainEqual(
      expect.objectContaining({ key: 'wal-retention:pre_toast', severity: 'info' }),
    );
  });

  it('accepts quoted names with dots and capitals', async () => {
    const c = new TestConsumer({
      connectionString: db.url,
      tables: ['public."Mixed.Case"'],
      slot: 'pre_quoted',
      publication: 'Pre Quoted',
    });
    await c.prepare();
    await c.stop();
    const { rows } = await db.query(
      `SELECT tablename FROM pg_publication_tables WHERE pubname = 'Pre Quoted'`,
    );
    expect(rows).toEqual([{ tablename: 'Mixed.Case' }]);
  });

  it('reports a publication that lacks a table, and adds it only when allowed', async () => {
    await db.query(`CREATE TABLE extra (id int PRIMARY KEY)`);
    const err = await prepareError({
      connectionString: db.url,
      tables: ['public.keyed', 'public.extra'],
      publication: 'foreign_pub',
      slot: 'pre_pub',
    });
    expect(err.code).toBe('PG_PUBLICATION_MISMATCH');
    expect(err.message).toContain('"public"."extra"');
    expect(err.hint).toContain('ALTER PUBLICATION "foreign_pub" ADD TABLE "public"."extra"');
    const c = new TestConsumer({
      connectionString: db.url,
      tables: ['public.keyed', 'public.extra'],
      publication: 'foreign_pub',
      slot: 'pre_pub',
      addTablesToPublication: true,
    });
    await c.prepare();
    await c.stop();
    const { rows } = await db.query(
      `SELECT tablename FROM pg_publication_tables WHERE pubname = 'foreign_pub' ORDER BY 1`,
    );
    expect(rows.map((r) => r.tablename)).toEqual(['extra', 'keyed']);
  });

  it('rejects a slot of another plugin', async () => {
    await db.query(`SELECT pg_create_logical_replication_slot('pre_plugin', 'test_decoding')`);
    const err = await prepareError({
      connectionString: db.url,
      tables: ['public.keyed'],
      slot: 'pre_plugin',
    });
    expect(err.code).toBe('PG_SLOT_INVALID');
    expect(err.message).toContain('test_decoding');
    expect(err.hint).toContain('dropSlot');
  });

  it('rejects a slot of another database', async () => {
    const other = await createTestDatabase('etl_pgsrc_pre_other');
    try {
      await other.query(`SELECT pg_create_logical_replication_slot('pre_elsewhere', 'pgoutput')`);
      const err = await prepareError({
        connectionString: db.url,
        tables: ['public.keyed'],
        slot: 'pre_elsewhere',
      });
      expect(err.code).toBe('PG_SLOT_INVALID');
      expect(err.message).toContain(`belongs to database "${other.name}"`);
      expect(err.hint).toContain('configure another `slot`');
    } finally {
      await other.drop();
    }
  });

  it('reports a slot another process streams from', async () => {
    await db.query(`SELECT pg_create_logical_replication_slot('pre_busy', 'pgoutput')`);
    const holder = new pg.Client({ connectionString: db.url, replication: 'database' } as pg.ClientConfig);
    holder.on('error', () => {});
    await holder.connect();
    void holder
      .query(
        `START_REPLICATION SLOT pre_busy LOGICAL 0/0 (proto_version '1', publication_names 'foreign_pub')`,
      )
      .catch(() => {});
    try {
      await waitFor(async () => {
        const { rows } = await db.query(
          `SELECT active FROM pg_replication_slots WHERE slot_name = 'pre_busy'`,
        );
        return rows[0]?.active === true;
      });
      const err = await prepareError({
        connectionString: db.url,
        tables: ['public.keyed'],
        slot: 'pre_busy',
      });
      expect(err.code).toBe('PG_SLOT_ACTIVE');
      expect(err.message).toContain('pre_busy');
      expect(err.hint).toContain('pg_terminate_backend');
    } finally {
      await holder.end().catch(() => {});
    }
  });

  it('names the missing privilege: REPLICATION on the role, SELECT on a table', async () => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const plain = `etl_plain_${suffix}`;
    const replicator = `etl_repl_${suffix}`;
    await db.query(`CREATE ROLE ${plain} LOGIN`);
    await db.query(`CREATE ROLE ${replicator} LOGIN REPLICATION`);
    const as = (role: string) => {
      const u = new URL(db.url);
      u.username = role;
      u.password = '';
      return u.toString();
    };
    try {
      const noReplication = await prepareError({
        connectionString: as(plain),
        tables: ['public.keyed'],
        slot: 'pre_role',
      });
      expect(noReplication.code).toBe('PG_PRIVILEGE');
      expect(noReplication.message).toContain(`Role "${plain}"`);
      expect(noReplication.hint).toContain(`ALTER ROLE "${plain}" WITH REPLICATION`);
      const noSelect = await prepareError({
        connectionString: as(replicator),
        tables: ['public.keyed'],
        slot: 'pre_select',
      });
      expect(noSelect.code).toBe('PG_PRIVILEGE');
      expect(noSelect.message).toContain('No SELECT privilege on "public"."keyed"');
      expect(noSelect.hint).toContain('GRANT SELECT ON "public"."keyed"');
    } finally {
      for (const role of [plain, replicator]) {
        await db.query(`DROP OWNED BY ${role}`).catch(() => {});
        await db.query(`DROP ROLE IF EXISTS ${role}`);
      }
    }
  });

  it('validates options at construction, naming the field', () => {
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as EtlError).details?.field;
      }
      return undefined;
    };
    expect(field(() => postgres({ connectionString: '' }))).toBe('connectionString');
    expect(field(() => postgres({ connectionString: db.url, slot: 'Bad-Slot' }))).toBe('slot');
    expect(field(() => postgres({ connectionString: db.url, tables: ['orders'] }))).toBe('tables[0]');
    expect(field(() => postgres({ connectionString: db.url, snapshotChunkRows: 0 }))).toBe(
      'snapshotChunkRows',
    );
    expect(field(() => postgres({ connectionString: db.url, protocolVersion: 7 as 1 }))).toBe(
      'protocolVersion',
    );
    expect(field(() => postgres({ connectionString: db.url, heartbeat: { intervalMs: 10 } }))).toBe(
      'heartbeat.intervalMs',
    );
  });
});
