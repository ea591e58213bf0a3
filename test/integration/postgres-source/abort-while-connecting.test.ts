/**
 * Aborting while the replication connection is still being opened settles at
 * once: pg's `client.end()` during `client.connect()` leaves `connect()`
 * pending for ever, which made `pipeline.stop()` right after `start()` hang.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../../src/destinations/memory-destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { postgres } from '../../../src/postgres/postgres-source.js';
import { ReplicationStream } from '../../../src/postgres/replication-stream.js';
import { StandbyPositions } from '../../../src/postgres/standby-status.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('etl_abort_connect');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, label text)');
  await db.query(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g`);
});

afterAll(async () => {
  await db?.drop();
});

/** Settles like `promise`, or resolves 'hung' after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), ms)));
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer));
}

describe('aborting while connecting', () => {
  it('ReplicationStream.connect rejects ABORTED at once', async () => {
    const stream = new ReplicationStream({
      connectionString: db.url,
      positions: new StandbyPositions(0n),
      statusIntervalMs: 10_000,
    });
    const abort = new AbortController();
    const connecting = stream.connect({ signal: abort.signal });
    abort.abort();
    const outcome = await within(
      connecting.then(
        () => 'connected',
        (err: { code?: string }) => err.code,
      ),
      5_000,
    );
    expect(outcome).toBe('ABORTED');
    await stream.close();
  });

  it('pipeline.stop() right after start() returns promptly', async () => {
    const pipeline = new Pipeline({ name: 'abort-connect' })
      .from(postgres({ connectionString: db.url, tables: ['public.items'] }))
      .to(new MemoryDestination());
    await pipeline.start();
    expect(await within(pipeline.stop({ drain: false, timeoutMs: 2_000 }), 10_000)).not.toBe('hung');
    expect(pipeline.status).toBe('stopped');
  });
});
