/**
 * State stores and leases. With REDIS_URL set, uses Redis (the default store
 * for production) and shows a lease handover between two workers; with
 * DATABASE_URL set, also the Postgres store; otherwise the memory store.
 *
 * Run: [REDIS_URL=redis://127.0.0.1:6379] [DATABASE_URL=postgres://...] npx tsx examples/state-stores.ts
 */
import { memoryState, type PipelineState, postgresState, redisState, type StateStore } from 'etl-stream';

const stores: [string, StateStore][] = [['memory', memoryState()]];
if (process.env.REDIS_URL)
  stores.push(['redis', redisState({ url: process.env.REDIS_URL, keyPrefix: 'etl-example:' })]);
if (process.env.DATABASE_URL)
  stores.push(['postgres', postgresState({ connectionString: process.env.DATABASE_URL })]);

const state: PipelineState = {
  checkpoint: { lsn: 0x16b374d849n, commitLsn: 0x16b374d848n },
  destinations: { duckdb: 0x16b374d848n },
  updatedAt: new Date().toISOString(),
};

for (const [label, store] of stores) {
  await store.save('orders', state);
  const loaded = await store.load('orders');
  console.log(`${label}: saved and loaded checkpoint ${loaded?.checkpoint.lsn.toString(16)}`);

  if (!store.lease) {
    console.log(`${label}: no leases (one worker per pipeline; use the Redis or memory store for several)`);
    await store.delete?.('orders');
    await store.close();
    continue;
  }
  // Two workers share the pipeline: the second takes over once the first stops renewing.
  const first = await store.lease('orders', 'worker-1', { ttlMs: 500 });
  const refused = await store.lease('orders', 'worker-2', { ttlMs: 500 }).catch((e: Error) => e.message);
  console.log(`${label}: worker-1 holds token ${first.token}; worker-2: ${refused}`);
  await new Promise((r) => setTimeout(r, 600)); // worker-1 "crashed": no renewal
  const second = await store.lease('orders', 'worker-2', { ttlMs: 5_000 });
  console.log(`${label}: worker-2 took over with token ${second.token}`);
  await first
    .assertHeld()
    .catch((e: { code: string }) => console.log(`${label}: worker-1 finds out: ${e.code}`));
  await second.release();
  await store.delete?.('orders');
  await store.close();
}
