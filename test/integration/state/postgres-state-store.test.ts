import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresState } from '../../../src/state/postgres-state-store.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { SAMPLE_STATE, stateStoreContract } from './state-store-contract.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('etl_state');
});
afterAll(async () => {
  await db?.drop();
});

let n = 0;
stateStoreContract('postgresState', async () =>
  postgresState({ connectionString: db.url, table: `state_${n++}` }),
);

describe('postgresState', () => {
  it('creates its schema and table, and stores readable jsonb with X/Y LSNs', async () => {
    const store = postgresState({ connectionString: db.url, schema: 'My Schema', table: 'pipeline_state' });
    await store.save('orders', SAMPLE_STATE);
    const { rows } = await db.query<{ lsn: string; duck: string }>(
      `SELECT state->'checkpoint'->>'lsn' AS lsn, state->'destinations'->>'duckdb' AS duck FROM "My Schema".pipeline_state WHERE pipeline = 'orders'`,
    );
    expect(rows).toEqual([{ lsn: '16/B374D849', duck: '16/B374D848' }]);
    await store.close();
  });

  it('several stores creating the same new table at once all succeed (the DDL race is not an error)', async () => {
    for (let round = 0; round < 5; round++) {
      const stores = Array.from({ length: 6 }, () =>
        postgresState({ connectionString: db.url, table: `race_${round}` }),
      );
      await Promise.all(stores.map((store, i) => store.save(`p${i}`, SAMPLE_STATE)));
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM etl_stream.race_${round}`);
      expect(rows).toEqual([{ n: 6 }]);
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('shares state between two stores on the same table (atomic upsert under concurrency)', async () => {
    const a = postgresState({ connectionString: db.url, table: 'shared' });
    const b = postgresState({ connectionString: db.url, table: 'shared' });
    const saves = [];
    for (let i = 1; i <= 20; i++) {
      const store = i % 2 ? a : b;
      saves.push(store.save('p', { ...SAMPLE_STATE, checkpoint: { lsn: BigInt(i), commitLsn: BigInt(i) } }));
    }
    await Promise.all(saves);
    const loaded = await a.load('p');
    expect(loaded?.checkpoint.lsn).toBeGreaterThanOrEqual(1n);
    const { rows } = await db.query('SELECT count(*)::int AS n FROM etl_stream.shared');
    expect(rows).toEqual([{ n: 1 }]);
    await Promise.all([a.close(), b.close()]);
  });

  it('rejects a corrupt row with a clear non-retryable STATE_STORE error', async () => {
    const store = postgresState({ connectionString: db.url, table: 'corrupt' });
    await store.save('p', SAMPLE_STATE);
    await db.query(`UPDATE etl_stream.corrupt SET state = '{"v": 1, "checkpoint": {"lsn": "zz"}}'`);
    await expect(store.load('p')).rejects.toMatchObject({
      code: 'STATE_STORE',
      retryable: false,
      message: expect.stringContaining('checkpoint.lsn'),
    });
    await store.close();
  });

  it('fails fast and retryable when the server is unreachable', async () => {
    const store = postgresState({ connectionString: 'postgres://postgres@127.0.0.1:1/x', timeoutMs: 2_000 });
    const started = Date.now();
    await expect(store.save('p', SAMPLE_STATE)).rejects.toMatchObject({
      code: 'STATE_STORE',
      retryable: true,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    await store.close();
  });

  it('validates options naming the field', () => {
    expect(() => postgresState({ connectionString: '' })).toThrow(/connectionString/);
    expect(() => postgresState({ connectionString: db.url, table: '' })).toThrow(/`table`/);
    expect(() => postgresState({ connectionString: db.url, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
