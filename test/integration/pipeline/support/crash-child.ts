/**
 * Runs a pipeline — PostgreSQL source → DuckDB destination, state in a
 * PostgreSQL table — in its own process, so a test can SIGKILL it at any
 * instant. Every run resumes from the saved state; the destination's
 * watermark skips what was already applied.
 *
 * Environment: ETL_CRASH_PG (source database), ETL_CRASH_DUCKDB (database
 * file), ETL_CRASH_TMP (staging directory), and optionally ETL_CRASH_UNTIL:
 * once a transaction whose commit LSN is at least this is confirmed (or was
 * by an earlier run), stop (draining) and exit 0.
 *
 * Prints one line per event: `state <status>`, `commit <snap|stream> <commitLsn>`
 * per confirmed batch, `started` once start() resolved, `done` before a clean exit.
 */
import { duckdb } from '../../../../src/destinations/duckdb/duckdb-destination.js';
import { Pipeline } from '../../../../src/pipeline/pipeline.js';
import { postgres } from '../../../../src/postgres/postgres-source.js';
import { postgresState } from '../../../../src/state/postgres-state-store.js';
import { CRASH_TABLES } from './crash-workload.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const connectionString = env('ETL_CRASH_PG');
const until = process.env.ETL_CRASH_UNTIL ? BigInt(process.env.ETL_CRASH_UNTIL) : undefined;
const say = (line: string) => process.stdout.write(`${line}\n`);

const destination = duckdb({ path: env('ETL_CRASH_DUCKDB'), tempDir: env('ETL_CRASH_TMP') });
const store = postgresState({ connectionString });
// What an earlier run saved (read before start(): the pipeline closes the store when it stops).
const saved = await store.load('crash');
const pipeline = new Pipeline({ name: 'crash', retry: { initialDelayMs: 20, maxDelayMs: 200 } })
  .from(
    postgres({
      connectionString,
      tables: CRASH_TABLES.map((t) => t.table),
      publication: 'crash_pub',
      // Slots are server-wide: not the default etl_crash, which the Snowflake crash test uses in parallel.
      slot: 'etl_crash_duckdb',
      snapshotChunkRows: 3_000,
      statusIntervalMs: 1_000,
    }),
  )
  .to(destination)
  .state(store)
  .batch({ maxRows: 5_000, maxDelayMs: 50 });

let stopping = false;
/** Stops (draining) and exits 0 once `commitLsn` reached ETL_CRASH_UNTIL. */
function finishAt(commitLsn: bigint | undefined): void {
  if (until === undefined || stopping || commitLsn === undefined || commitLsn < until) return;
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
pipeline.on('state', ({ status }) => say(`state ${status}`));
pipeline.on('commit', ({ checkpoint }) => {
  say(`commit ${checkpoint.snapshot ? 'snap' : 'stream'} ${checkpoint.commitLsn}`);
  if (!checkpoint.snapshot) finishAt(checkpoint.commitLsn);
});
pipeline.on('error', ({ error, fatal, component }) => {
  process.stderr.write(`${fatal ? 'fatal' : 'retrying'} ${component}: ${error.toString()}\n`);
  if (fatal) process.exit(2);
});
await pipeline.start();
say('started');
// A previous run may have confirmed everything already: then no commit comes.
finishAt(saved?.checkpoint.commitLsn);
