/**
 * The workloads: what each creates before the contenders' slots exist
 * (`setup`, not streamed), and what it writes afterwards (`load`, streamed to
 * every contender). Quick mode scales the row counts down by {@link QUICK_SCALE}.
 */

/** Quick mode runs a tenth of the rows, which keeps `npm run bench -- --quick` under two minutes. */
export const QUICK_SCALE = 10;
/** Transactions the bulk-insert workload is split into. */
const INSERT_TRANSACTIONS = 10;
/** Size of each TOASTed text value: 640 × 32 hex chars = 20 KiB, stored out of line without compression. */
const TOAST_REPEATS = 640;
/** Rows per transaction when loading the TOAST workload. */
const TOAST_ROWS_PER_TRANSACTION = 1000;
/** Fixed-rate writer for the latency workload, in single-row transactions per second. */
export const LATENCY_RATE_TPS = 2000;

export type WorkloadName = 'insert' | 'update' | 'toast' | 'snapshot' | 'latency';

/** How contenders consume a workload. */
export type WorkloadKind = 'stream' | 'snapshot' | 'latency';

export interface Workload {
  readonly name: WorkloadName;
  readonly kind: WorkloadKind;
  /** One line for the report. */
  readonly description: string;
  /** The (only) table, schema-qualified. */
  readonly table: string;
  /** The publication that holds {@link Workload.table}. */
  readonly publication: string;
  /** Rows each contender receives (for `latency`, what the writer is expected to produce). */
  readonly rows: number;
  /** Statements run before the contenders' slots are created. Each runs in its own transaction. */
  readonly setup: readonly string[];
  /** Statements streamed to the contenders, run after the slots exist. Each is its own transaction(s). */
  readonly load: readonly string[];
}

/** The 7-column row shape of the insert, update and snapshot workloads (bigint, int, text, numeric, timestamptz, jsonb, bool). */
function sevenColumnTable(table: string): string {
  return `CREATE TABLE ${table} (
    id bigint PRIMARY KEY,
    qty integer NOT NULL,
    note text NOT NULL,
    amount numeric(12,2) NOT NULL,
    created_at timestamptz NOT NULL,
    attrs jsonb NOT NULL,
    active boolean NOT NULL
  )`;
}

/** Rows `first..last` of the 7-column shape, deterministic. */
function sevenColumnRows(table: string, first: number, last: number): string {
  return `INSERT INTO ${table}
    SELECT g, g % 1000, 'order note ' || md5(g::text), (g % 10000000) / 100.0,
           timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
           jsonb_build_object('sku', 'SKU-' || (g % 5000), 'n', g, 'tags', jsonb_build_array('a', 'b')),
           g % 2 = 0
      FROM generate_series(${first}, ${last}) AS g`;
}

function publicationFor(table: string, publication: string): string {
  return `CREATE PUBLICATION ${publication} FOR TABLE ${table}`;
}

function insertWorkload(rows: number): Workload {
  const table = 'public.bench_insert';
  const perTransaction = Math.ceil(rows / INSERT_TRANSACTIONS);
  const load: string[] = [];
  for (let first = 1; first <= rows; first += perTransaction) {
    load.push(sevenColumnRows(table, first, Math.min(rows, first + perTransaction - 1)));
  }
  return {
    name: 'insert',
    kind: 'stream',
    description: `${rows.toLocaleString('en-US')} rows inserted in ${load.length} transactions (7 columns)`,
    table,
    publication: 'bench_insert_pub',
    rows,
    setup: [sevenColumnTable(table), publicationFor(table, 'bench_insert_pub')],
    load,
  };
}

function updateWorkload(rows: number): Workload {
  const table = 'public.bench_update';
  return {
    name: 'update',
    kind: 'stream',
    description: `${rows.toLocaleString('en-US')} single-row UPDATE transactions`,
    table,
    publication: 'bench_update_pub',
    rows,
    setup: [
      sevenColumnTable(table),
      sevenColumnRows(table, 1, rows),
      publicationFor(table, 'bench_update_pub'),
    ],
    // One transaction per row: COMMIT inside a DO block (allowed outside an explicit transaction).
    load: [
      `DO $$ BEGIN
         FOR i IN 1..${rows} LOOP
           UPDATE ${table} SET qty = qty + 1, amount = amount + 0.01, active = NOT active WHERE id = i;
           COMMIT;
         END LOOP;
       END $$`,
    ],
  };
}

function toastWorkload(rows: number): Workload {
  const table = 'public.bench_toast';
  const load: string[] = [];
  for (let first = 1; first <= rows; first += TOAST_ROWS_PER_TRANSACTION) {
    const last = Math.min(rows, first + TOAST_ROWS_PER_TRANSACTION - 1);
    load.push(`INSERT INTO ${table}
      SELECT g, g % 1000, repeat(md5(g::text), ${TOAST_REPEATS}) FROM generate_series(${first}, ${last}) AS g`);
  }
  return {
    name: 'toast',
    kind: 'stream',
    description: `${rows.toLocaleString('en-US')} wide rows with a 20 KiB TOASTed text each`,
    table,
    publication: 'bench_toast_pub',
    rows,
    setup: [
      `CREATE TABLE ${table} (id bigint PRIMARY KEY, qty integer NOT NULL, body text NOT NULL)`,
      // EXTERNAL: out of line, uncompressed, so every row really carries 20 KiB through the WAL.
      `ALTER TABLE ${table} ALTER COLUMN body SET STORAGE EXTERNAL`,
      publicationFor(table, 'bench_toast_pub'),
    ],
    load,
  };
}

function snapshotWorkload(rows: number): Workload {
  const table = 'public.bench_snapshot';
  return {
    name: 'snapshot',
    kind: 'snapshot',
    description: `initial snapshot of ${rows.toLocaleString('en-US')} rows (7 columns)`,
    table,
    publication: 'bench_snapshot_pub',
    rows,
    setup: [
      sevenColumnTable(table),
      sevenColumnRows(table, 1, rows),
      'VACUUM ANALYZE public.bench_snapshot',
      publicationFor(table, 'bench_snapshot_pub'),
    ],
    load: [],
  };
}

function latencyWorkload(durationSec: number): Workload {
  const table = 'public.bench_latency';
  return {
    name: 'latency',
    kind: 'latency',
    description: `${LATENCY_RATE_TPS.toLocaleString('en-US')} single-row insert transactions/s for ${durationSec} s`,
    table,
    publication: 'bench_latency_pub',
    rows: LATENCY_RATE_TPS * durationSec,
    setup: [
      `CREATE TABLE ${table} (
         id bigserial PRIMARY KEY,
         qty integer NOT NULL,
         note text NOT NULL,
         amount numeric(12,2) NOT NULL
       )`,
      publicationFor(table, 'bench_latency_pub'),
    ],
    load: [],
  };
}

/**
 * The pgbench script of the latency workload: one row per transaction. Its
 * commit timestamp (`track_commit_timestamp`) is where latency starts.
 */
export const LATENCY_PGBENCH_SCRIPT = `\\set q random(1, 1000)
INSERT INTO public.bench_latency (qty, note, amount) VALUES (:q, 'latency probe', :q / 100.0);
`;

/** Seconds the fixed-rate writer runs per contender. */
export function latencyDurationSec(quick: boolean): number {
  return quick ? 4 : 20;
}

/**
 * Every workload, in run order: rows divided by `scale` (1 for a full run,
 * {@link QUICK_SCALE} for a quick one); the latency writer runs the quick or
 * the full duration.
 */
export function workloads(opts: { quick: boolean; scale: number }): Workload[] {
  const scale = opts.scale;
  return [
    insertWorkload(1_000_000 / scale),
    updateWorkload(200_000 / scale),
    toastWorkload(50_000 / scale),
    snapshotWorkload(1_000_000 / scale),
    latencyWorkload(latencyDurationSec(opts.quick)),
  ];
}
