/**
 * Harness self-test: logical decoding really works on the harness Postgres,
 * read through a real replication connection, and Redis answers.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { redisUrl, uniqueKeyPrefix } from '../../support/redis.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** Reads pgoutput insert messages from a real walsender until `count` rows arrived. */
async function readInsertsOverReplication(url: string, slot: string, count: number): Promise<string[][]> {
  const client = new pg.Client({ connectionString: url, replication: 'database' } as pg.ClientConfig);
  await client.connect();
  const rows: string[][] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${rows.length} of ${count} rows arrived`)),
        20_000,
      );
      const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
      connection.on('copyData', (msg: { chunk: Buffer }) => {
        const buf = msg.chunk;
        if (buf[0] !== 0x77 /* 'w' XLogData */) return;
        const body = buf.subarray(25);
        if (body[0] !== 0x49 /* 'I' Insert */) return;
        // 'I', int32 relid, 'N', int16 ncols, then per column: kind byte [+ int32 len + bytes]
        let off = 6;
        const ncols = body.readInt16BE(off);
        off += 2;
        const values: string[] = [];
        for (let i = 0; i < ncols; i++) {
          const kind = body[off++];
          if (kind === 0x74 /* 't' */) {
            const len = body.readInt32BE(off);
            off += 4;
            values.push(body.toString('utf8', off, off + len));
            off += len;
          } else values.push('<null>');
        }
        rows.push(values);
        if (rows.length === count) {
          clearTimeout(timer);
          resolve();
        }
      });
      client
        .query(
          `START_REPLICATION SLOT "${slot}" LOGICAL 0/0 (proto_version '1', publication_names 'harness_pub')`,
        )
        .catch((err: Error) => {
          // Ending the connection below ends the COPY with an error; ignore it once we have our rows.
          if (rows.length < count) reject(err);
        });
    });
  } finally {
    await client.end().catch(() => {});
  }
  return rows;
}

describe('harness', () => {
  it('runs PostgreSQL with wal_level=logical in a fresh database', async () => {
    const { rows } = await db.query<{ wal_level: string; datname: string }>(
      'SELECT current_setting($1) AS wal_level, current_database() AS datname',
      ['wal_level'],
    );
    expect(rows[0]).toEqual({ wal_level: 'logical', datname: db.name });
  });

  it('streams inserted rows through a real pgoutput replication connection', async () => {
    await db.query('CREATE TABLE items (id int PRIMARY KEY, label text)');
    await db.query('CREATE PUBLICATION harness_pub FOR TABLE items');
    const slot = `harness_${db.name}`;
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    await db.query(`INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, NULL)`);
    const rows = await readInsertsOverReplication(db.url, slot, 3);
    expect(rows).toEqual([
      ['1', 'one'],
      ['2', 'two'],
      ['3', '<null>'],
    ]);
  });

  it('gives a working Redis', async () => {
    const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      const key = `${uniqueKeyPrefix('harness')}k`;
      await redis.set(key, 'v1');
      expect(await redis.get(key)).toBe('v1');
      await redis.del(key);
      expect(await redis.get(key)).toBeNull();
    } finally {
      redis.disconnect();
    }
  });
});
