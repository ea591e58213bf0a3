import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisState } from '../../../src/state/redis/redis-state-store.js';
import type { PipelineState } from '../../../src/state/state-store.js';
import { redisUrl, uniqueKeyPrefix } from '../../support/redis.js';
import { startPrivateRedis } from '../../support/services.js';
import { SAMPLE_STATE, stateStoreContract } from './state-store-contract.js';

stateStoreContract('redisState', async () =>
  redisState({ url: redisUrl(), keyPrefix: uniqueKeyPrefix('state') }),
);

const stateAt = (lsn: bigint): PipelineState => ({
  checkpoint: { lsn: lsn + 1n, commitLsn: lsn },
  destinations: {},
  updatedAt: new Date(0).toISOString(),
});

/** Retries `fn` until it resolves, for at most `timeoutMs`. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('redisState', () => {
  const clients: Redis[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('keeps one key per pipeline under the prefix, readable JSON', async () => {
    const keyPrefix = uniqueKeyPrefix('keys');
    const store = redisState({ url: redisUrl(), keyPrefix });
    await store.save('orders', SAMPLE_STATE);
    const raw = new Redis(redisUrl());
    clients.push(raw);
    const text = await raw.get(`${keyPrefix}state:orders`);
    expect(JSON.parse(text!)).toMatchObject({
      v: 1,
      checkpoint: { lsn: '16/B374D849', commitLsn: '16/B374D848' },
    });
    expect(await raw.keys(`${keyPrefix}*`)).toEqual([`${keyPrefix}state:orders`]);
    await store.close();
  });

  it('uses a client it was given and leaves it open', async () => {
    const client = new Redis(redisUrl());
    clients.push(client);
    const store = redisState({ client, keyPrefix: uniqueKeyPrefix('client') });
    await store.save('p', SAMPLE_STATE);
    expect(await store.load('p')).toEqual(SAMPLE_STATE);
    await store.close();
    expect(await client.ping()).toBe('PONG');
  });

  it('WAIT: resolves with 0 replicas required, rejects retryable when replicas do not acknowledge', async () => {
    const keyPrefix = uniqueKeyPrefix('wait');
    const none = redisState({ url: redisUrl(), keyPrefix, waitForReplicas: { replicas: 0, timeoutMs: 100 } });
    await none.save('p', SAMPLE_STATE);
    const one = redisState({ url: redisUrl(), keyPrefix, waitForReplicas: { replicas: 1, timeoutMs: 100 } });
    await expect(one.save('p', SAMPLE_STATE)).rejects.toMatchObject({
      code: 'STATE_STORE',
      retryable: true,
      message: expect.stringContaining('0 of 1'),
    });
    await Promise.all([none.close(), one.close()]);
  });

  it('rejects a value that is not an etl-stream state', async () => {
    const keyPrefix = uniqueKeyPrefix('corrupt');
    const raw = new Redis(redisUrl());
    clients.push(raw);
    await raw.set(`${keyPrefix}state:p`, '{"v":99}');
    const store = redisState({ url: redisUrl(), keyPrefix });
    await expect(store.load('p')).rejects.toMatchObject({
      code: 'STATE_STORE',
      retryable: false,
      message: expect.stringContaining('unknown version 99'),
    });
    await store.close();
  });

  it('validates options naming the field', () => {
    expect(() => redisState({})).toThrow(/`url`/);
    expect(() => redisState({ url: 'http://x' })).toThrow(/`url`/);
    expect(() => redisState({ url: redisUrl(), commandTimeoutMs: -1 })).toThrow(/commandTimeoutMs/);
    expect(() => redisState({ url: redisUrl(), waitForReplicas: { replicas: -1, timeoutMs: 10 } })).toThrow(
      /waitForReplicas.replicas/,
    );
  });

  it('Redis restart in the middle: save works, fails retryable and bounded while down, works again after restart', async () => {
    let redis = await startPrivateRedis();
    const port = redis.port;
    const store = redisState({
      url: redis.url,
      keyPrefix: uniqueKeyPrefix('restart'),
      connectTimeoutMs: 500,
      commandTimeoutMs: 1_000,
    });
    try {
      await store.save('p', stateAt(1n));
      expect((await store.load('p'))?.checkpoint.commitLsn).toBe(1n);

      await redis.stop();
      const started = Date.now();
      const err = await store.save('p', stateAt(2n)).then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      expect(err).toMatchObject({
        code: 'STATE_STORE',
        retryable: true,
        hint: expect.stringContaining('Redis'),
      });
      expect(elapsed).toBeLessThan(3_000);
      await expect(store.load('p')).rejects.toMatchObject({ code: 'STATE_STORE', retryable: true });

      redis = await startPrivateRedis({ port });
      // The client reconnects in the background; the next saves succeed (the new Redis is empty: no persistence).
      await eventually(() => store.save('p', stateAt(3n)), 10_000);
      expect((await store.load('p'))?.checkpoint.commitLsn).toBe(3n);
    } finally {
      await store.close();
      await redis.stop();
    }
  });
});

describe('redisState leases', () => {
  it('two owners: the second takes over after the TTL with a higher fencing token; the first loses it', async () => {
    const store = redisState({ url: redisUrl(), keyPrefix: uniqueKeyPrefix('lease') });
    const a = await store.lease('orders', 'worker-a', { ttlMs: 300 });
    await a.renew();
    await a.assertHeld();

    const refused = await store.lease('orders', 'worker-b', { ttlMs: 300 }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'LEASE_LOST', retryable: true, details: { holder: 'worker-a' } });

    // worker-a stops renewing (paused or dead): worker-b gets the lease once it expires.
    const b = await eventually(() => store.lease('orders', 'worker-b', { ttlMs: 5_000 }), 5_000);
    expect(b.token).toBeGreaterThan(a.token);
    await expect(a.assertHeld()).rejects.toMatchObject({ code: 'LEASE_LOST', retryable: false });
    await expect(a.renew()).rejects.toMatchObject({ code: 'LEASE_LOST' });
    // A stale release does not free the new owner's lease.
    await a.release();
    await b.assertHeld();

    await b.release();
    const c = await store.lease('orders', 'worker-a', { ttlMs: 1_000 });
    expect(c.token).toBeGreaterThan(b.token);
    await c.release();
    await store.close();
  });

  it('leases of different pipelines are independent', async () => {
    const store = redisState({ url: redisUrl(), keyPrefix: uniqueKeyPrefix('lease2') });
    const a = await store.lease('p1', 'x', { ttlMs: 1_000 });
    const b = await store.lease('p2', 'y', { ttlMs: 1_000 });
    await a.assertHeld();
    await b.assertHeld();
    await Promise.all([a.release(), b.release()]);
    await store.close();
  });
});
