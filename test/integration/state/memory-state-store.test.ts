import { describe, expect, it } from 'vitest';
import { memoryState } from '../../../src/state/memory-state-store.js';
import { stateStoreContract } from './state-store-contract.js';

stateStoreContract('memoryState', async () => memoryState());

describe('memoryState leases', () => {
  it('refuses a second owner until the TTL passes, then hands out a higher token', async () => {
    const store = memoryState();
    const a = await store.lease('p', 'a', { ttlMs: 50 });
    await expect(store.lease('p', 'b', { ttlMs: 50 })).rejects.toMatchObject({
      code: 'LEASE_LOST',
      retryable: true,
    });
    await new Promise((r) => setTimeout(r, 60));
    const b = await store.lease('p', 'b', { ttlMs: 1_000 });
    expect(b.token).toBeGreaterThan(a.token);
    await expect(a.assertHeld()).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(a.renew()).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await b.assertHeld();
    await b.release();
    const c = await store.lease('p', 'c', { ttlMs: 1_000 });
    expect(c.token).toBeGreaterThan(b.token);
  });
});
