/**
 * Runs a pipeline — PostgreSQL → snowflake() through the real snowflake-sdk
 * → the emulator of the parent test process, state in a PostgreSQL table —
 * in its own process, so the test can SIGKILL it at any instant. Every run
 * resumes from the saved state; the destination's watermark skips what
 * Snowflake already holds.
 *
 * Environment: ETL_CRASH_PG (source database), ETL_SF_URL, ETL_SF_ACCOUNT,
 * ETL_SF_USER, ETL_SF_PASSWORD, ETL_SF_DATABASE (the emulator), ETL_CRASH_TMP
 * (Parquet temp directory), and optionally ETL_CRASH_UNTIL: once a streamed
 * transaction whose commit LSN is at least this is confirmed, stop and exit 0.
 *
 * Prints `state <status>`, `commit <snap|stream> <commitLsn>` per confirmed
 * batch, and `done` before a clean exit.
 */
import './env.js';
import { snowflake } from '../../../../src/destinations/snowflake/snowflake-destination.js';
import { Pipeline } from '../../../../src/pipeline/pipeline.js';
import { postgres } from '../../../../src/postgres/postgres-source.js';
import { postgresState } from '../../../../src/state/postgres-state-store.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const connectionString = env('ETL_CRASH_PG');
const until = process.env.ETL_CRASH_UNTIL ? BigInt(process.env.ETL_CRASH_UNTIL) : undefined;
const say = (line: string) => process.stdout.write(`${line}\n`);

const pipeline = new Pipeline({ name: 'crash', retry: { initialDelayMs: 20, maxDelayMs: 300 } })
  .from(
    postgres({
      connectionString,
      tables: ['public.items', 'public.events', 'public.scratch'],
      publication: 'crash_pub',
      snapshotChunkRows: 1_000,
      statusIntervalMs: 500,
    }),
  )
  .to(
    snowflake({
      account: env('ETL_SF_ACCOUNT'),
      username: env('ETL_SF_USER'),
      password: env('ETL_SF_PASSWORD'),
      accessUrl: env('ETL_SF_URL'),
      database: env('ETL_SF_DATABASE'),
      schema: 'PG',
      tablesWithoutKey: 'append',
      tempDir: env('ETL_CRASH_TMP'),
      statementTimeoutMs: 20_000,
      connectTimeoutMs: 20_000,
    }),
  )
  .state(postgresState({ connectionString }))
  .batch({ maxRows: 2_000, maxDelayMs: 50 });

let stopping = false;
pipeline.on('state', ({ status }) => say(`state ${status}`));
pipeline.on('commit', ({ checkpoint }) => {
  say(`commit ${checkpoint.snapshot ? 'snap' : 'stream'} ${checkpoint.commitLsn}`);
  if (until !== undefined && !stopping && !checkpoint.snapshot && checkpoint.commitLsn >= until) {
    stopping = true;
    void pipeline.stop().then(
      () => {
        say('done');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`stop failed: ${String(err)}\n`);
        process.exit(3);
      },
    );
  }
});
pipeline.on('error', ({ error, fatal, component }) => {
  process.stderr.write(`${fatal ? 'fatal' : 'retrying'} ${component}: ${error.toString()}\n`);
  if (fatal) process.exit(2);
});
await pipeline.start();
