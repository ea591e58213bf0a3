/**
 * The embedded DuckDB destination on its own: apply hand-built batches to a
 * database file, replay one (skipped by the watermark), and read the table.
 *
 * Run: npx tsx examples/duckdb-destination.ts [path.duckdb]
 */
import { duckdb } from 'etl-stream';
import { ChangeOp, ordersBatch, sampleBatch } from './support/sample-orders.js';

// memoryLimit caps DuckDB's buffer cache (its own default is 80 % of the machine's RAM).
const dest = duckdb({ path: process.argv[2] ?? './example.duckdb', memoryLimit: '512MB' });
const signal = new AbortController().signal;
await dest.open({ pipeline: 'example', signal, emit: () => {} });

/** What the pipeline does for every batch: skip what the destination already has, then write. */
async function deliver(batch: ReturnType<typeof sampleBatch>) {
  const applied = await dest.committedLsn('example');
  await dest.write(applied === undefined ? batch : batch.after(applied), { signal });
}

await deliver(sampleBatch());
await deliver(sampleBatch()); // a replay after a crash: nothing is applied twice
await deliver(
  ordersBatch([
    {
      op: ChangeOp.Update,
      lsn: 0x4000n,
      row: { id: 1n, customer: 'Ann', total: 42.5, status: 'shipped' },
      unchanged: ['card_number', 'email'],
    },
  ]),
);

console.log(await dest.query('SELECT * EXCLUDE (_etl_synced_at) FROM public.orders ORDER BY id'));
console.log('watermark:', (await dest.committedLsn('example'))?.toString(16));
await dest.close();
