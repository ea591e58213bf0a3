/**
 * Runs a pipeline (scripted workload → Snowflake destination → the emulator at
 * ETL_SF_URL, logging in as ETL_SF_USER / ETL_SF_PASSWORD) in its own process, so a test can SIGKILL it at any instant.
 * There is no state store: a restarted child replays from batch 1, and the
 * destination's watermark must skip what was applied. Prints `commit <lsn>`
 * per confirmed batch and `done` at the end.
 */
import { snowflake } from '../../../../src/destinations/snowflake/snowflake-destination.js';
import { Pipeline } from '../../../../src/pipeline/pipeline.js';
import type { Source } from '../../../../src/pipeline/source.js';
import { ScriptedSource } from '../../../support/scripted-source.js';
import { workloadBatch } from './crash-workload.js';

const url = process.env.ETL_SF_URL ?? '';
const total = Number(process.env.ETL_SF_BATCHES ?? '20');
const source: Source = new ScriptedSource(Array.from({ length: total }, (_, i) => workloadBatch(i + 1)));
const pipeline = new Pipeline({ name: 'crash', retry: { initialDelayMs: 20, maxDelayMs: 200 } })
  .from(source)
  .to(
    snowflake({
      account: process.env.ETL_SF_ACCOUNT ?? 'emu',
      username: process.env.ETL_SF_USER ?? 'ETL',
      password: process.env.ETL_SF_PASSWORD ?? '',
      accessUrl: url,
      database: 'DB',
      schema: 'PG',
      tablesWithoutKey: 'append',
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 10_000,
    }),
  );
const last = BigInt(total * 100);
pipeline.on('commit', ({ checkpoint }) => {
  process.stdout.write(`commit ${checkpoint.commitLsn}\n`);
  if (checkpoint.commitLsn === last) {
    process.stdout.write('done\n');
    void pipeline.stop().then(() => process.exit(0));
  }
});
pipeline.on('error', ({ error, fatal }) => {
  if (fatal) {
    process.stderr.write(`fatal: ${error.toString()}\n`);
    process.exit(2);
  }
});
await pipeline.start();
