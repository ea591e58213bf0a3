/**
 * Transforms on a hand-built batch: drop a card number, hash emails, keep
 * only non-draft orders, rename the table, and a custom step. Each one runs
 * on the Arrow data and keeps the batch's checkpoint.
 *
 * Run: npx tsx examples/transforms.ts
 */
import {
  type ChangeBatch,
  dropColumns,
  filterRowsBy,
  hashColumns,
  mapBatch,
  renameTables,
  type Transform,
} from 'etl-stream';
import { sampleBatch } from './support/sample-orders.js';

const steps: Transform[] = [
  dropColumns({ 'public.orders': ['card_number'] }),
  hashColumns({ 'public.orders': ['email'] }, { salt: process.env.HASH_SALT ?? 'example-salt' }),
  // Drafts never reach the destination; an order updated into a draft would be deleted there.
  filterRowsBy('public.orders', (row) => row.status !== 'draft'),
  renameTables({ 'public.orders': 'shop.orders' }),
  mapBatch((batch) => {
    console.log(`custom step: ${batch.numRows} rows up to commit LSN ${batch.commitLsn.toString(16)}`);
    return batch;
  }),
];

const ctx = { pipeline: 'example', signal: new AbortController().signal };
let batch: ChangeBatch = sampleBatch();
for (const step of steps) batch = await step(batch, ctx);

const entry = batch.rowsOf('shop.orders')!;
console.log('columns:', entry.table.columns.map((c) => `${c.name} ${c.typeName}`).join(', '));
for (const row of batch.rows('shop.orders')) console.log(row);
