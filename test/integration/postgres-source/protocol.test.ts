/**
 * What the source asks the walsender for — the pgoutput protocol version by
 * server release, binary mode only where every column type allows it — as
 * the server itself shows the START_REPLICATION command; and logical
 * messages surfaced as events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresSourceOptions } from '../../../src/postgres/postgres-options.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { prepareError, TestConsumer, waitFor } from './consumer.js';

let db: TestDatabase;
let serverVersion: number;

beforeAll(async () => {
  db = await createTestDatabase('etl_pgsrc_proto');
  await db.query(`CREATE TABLE plain (id int PRIMARY KEY, label text, at timestamptz)`);
  await db.query(`CREATE TABLE spans (id int PRIMARY KEY, span interval)`);
  const { rows } = await db.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  serverVersion = Number(rows[0]!.v);
});

afterAll(async () => {
  await db?.drop();
});

/** The newest pgoutput protocol of a release, as the PostgreSQL documentation lists them. */
function newestProtocol(version: number): number {
  if (version >= 160000) return 4; // parallel apply of streamed transactions
  if (version >= 150000) return 3; // two-phase
  if (version >= 140000) return 2; // streaming of in-progress transactions, binary, messages
  return 1;
}

/** Streams `table` from a new slot; returns the START_REPLICATION command the walsender runs. */
async function startCommand(slot: string, table: string, options: Partial<PostgresSourceOptions> = {}) {
  const c = new TestConsumer({
    connectionString: db.url,
    tables: [`public.${table}`],
    slot,
    publication: slot,
    snapshot: 'never',
    ...options,
  });
  try {
    await c.prepare();
    void c.next(20_000).catch(() => undefined);
    let command = '';
    await waitFor(async () => {
      const { rows } = await db.query<{ query: string }>(
        `SELECT query FROM pg_stat_activity WHERE backend_type = 'walsender' AND query LIKE $1`,
        [`START_REPLICATION SLOT "${slot}"%`],
      );
      command = rows[0]?.query ?? '';
      return command !== '';
    });
    // Changes do arrive in that mode.
    await db.query(`INSERT INTO ${table} (id) VALUES ((SELECT coalesce(max(id), 0) + 1 FROM ${table}))`);
    await c.drainUntil(() => c.pulled.some((b) => b.rowsOf(`public.${table}`) !== undefined));
    return { command, events: c.events };
  } finally {
    await c.stop();
  }
}

describe('PostgresSource protocol and wire format', () => {
  it('negotiates the newest protocol the server speaks, with binary mode, messages and streaming', async () => {
    const { command } = await startCommand('proto_auto', 'plain');
    const version = newestProtocol(serverVersion);
    expect(command).toContain(`proto_version '${version}'`);
    if (version >= 2) {
      expect(command).toContain(`binary 'true'`);
      expect(command).toContain(`messages 'true'`);
      expect(command).toContain(`streaming 'on'`);
    }
  });

  it('uses text mode when a published column type has no binary decoder', async () => {
    const { command } = await startCommand('proto_spans', 'spans');
    expect(command).toContain(`binary 'false'`);
  });

  it('speaks protocol 1 when asked (no binary, messages or streaming options)', async () => {
    const { command } = await startCommand('proto_v1', 'plain', { protocolVersion: 1 });
    expect(command).toContain(`proto_version '1'`);
    expect(command).not.toContain('binary');
    expect(command).not.toContain('streaming');
  });

  it('refuses a protocol newer than the server, and binary: true with a type it cannot decode', async () => {
    const tooNew = newestProtocol(serverVersion) + 1;
    if (tooNew <= 4) {
      const err = await prepareError({
        connectionString: db.url,
        tables: ['public.plain'],
        slot: 'proto_new',
        protocolVersion: tooNew as 2 | 3 | 4,
      });
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.hint).toContain("protocolVersion to 'auto'");
    }
    const err = await prepareError({
      connectionString: db.url,
      tables: ['public.spans'],
      slot: 'proto_bin',
      publication: 'proto_bin',
      binary: true,
    });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('public.spans.span (interval)');
    expect(err.hint).toContain("binary: 'auto'");
  });

  it('surfaces logical messages as events (transactional or not), but not its own heartbeats', async () => {
    const c = new TestConsumer({
      connectionString: db.url,
      tables: ['public.plain'],
      slot: 'proto_msg',
      publication: 'proto_msg',
      snapshot: 'never',
      heartbeat: { intervalMs: 1_000 },
    });
    try {
      await c.prepare();
      void c.next(50_000).catch(() => undefined);
      await waitFor(async () => {
        const { rows } = await db.query(
          `SELECT 1 FROM pg_replication_slots WHERE slot_name = 'proto_msg' AND active`,
        );
        return rows.length === 1;
      });
      await db.query(`SELECT pg_logical_emit_message(true, 'app', 'in a transaction')`);
      await db.query(`SELECT pg_logical_emit_message(false, 'app', convert_to('now 😀', 'UTF8'))`);
      const messages = () => c.events.filter((e) => e.type === 'message').map((e) => e.payload);
      // WAL is server-wide: the walsender first decodes what parallel test files wrote (up to
      // hundreds of MB for the large-transaction test) before it reaches these messages.
      await waitFor(() => messages().length >= 2, 45_000, 'two messages');
      await new Promise((r) => setTimeout(r, 1_500)); // a heartbeat or two pass by meanwhile
      expect(
        messages().map((m) => ({
          prefix: m.prefix,
          content: Buffer.from(m.content).toString('utf8'),
          transactional: m.transactional,
        })),
      ).toEqual([
        { prefix: 'app', content: 'in a transaction', transactional: true },
        { prefix: 'app', content: 'now 😀', transactional: false },
      ]);
      expect(messages().every((m) => m.lsn > 0n)).toBe(true);
    } finally {
      await c.stop();
    }
  });
});
