/**
 * The demo's tables and its live mix of changes: inserts, updates, deletes,
 * updates that leave a TOASTed column untouched, a large transaction, and
 * two schema changes (ADD COLUMN, DROP COLUMN) while everything streams.
 */
import type pg from 'pg';

/** The schema the demo owns: its tables, and the pipeline's state table. */
export const DEMO_SCHEMA = 'etl_demo';
/** Tables the demo streams. */
export const DEMO_TABLES = [`${DEMO_SCHEMA}.customers`, `${DEMO_SCHEMA}.orders`];
/** The schema comment that marks it as the demo's own (so a later run may drop it). */
export const DEMO_SCHEMA_COMMENT = 'Created by the etl-stream demo (npm run demo); safe to drop.';

/** Initial rows, taken by the pipeline's snapshot. */
const INITIAL_CUSTOMERS = 2_000;
const INITIAL_ORDERS = 5_000;

/**
 * Creates the demo schema and tables with a first set of rows (taken by the
 * initial snapshot). Every streamed type is there: bigint keys and values past
 * 2^53, numeric with a scale and unconstrained, timestamptz with
 * microseconds, jsonb with big numbers and unicode, and `notes`, stored out of
 * line (TOAST) so that updates which do not touch it send it as "unchanged".
 */
export async function createDemoTables(client: pg.Client): Promise<void> {
  await client.query(`
    CREATE SCHEMA ${DEMO_SCHEMA};
    COMMENT ON SCHEMA ${DEMO_SCHEMA} IS '${DEMO_SCHEMA_COMMENT}';
    CREATE TABLE ${DEMO_SCHEMA}.customers (
      id bigserial PRIMARY KEY,
      name text NOT NULL,
      email text,
      balance numeric(12,2) NOT NULL DEFAULT 0,
      vip boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      profile jsonb,
      notes text
    );
    -- EXTERNAL: out of line and uncompressed, so every note is TOASTed.
    ALTER TABLE ${DEMO_SCHEMA}.customers ALTER COLUMN notes SET STORAGE EXTERNAL;
    CREATE TABLE ${DEMO_SCHEMA}.orders (
      id bigserial PRIMARY KEY,
      customer_id bigint NOT NULL,
      amount numeric(12,2) NOT NULL,
      fx_rate numeric,
      ref bigint NOT NULL,
      coupon text,
      placed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      shipped_at timestamptz,
      status text NOT NULL DEFAULT 'new'
    );
    INSERT INTO ${DEMO_SCHEMA}.customers (name, email, balance, vip, created_at, profile, notes)
      SELECT 'customer ' || g,
             CASE WHEN g % 7 = 0 THEN NULL ELSE 'c' || g || '@example.com' END,
             ((g * 7.31) - 1000)::numeric(12,2),
             g % 10 = 0,
             timestamptz '1999-12-31 23:59:59.999999+00' + g * interval '1 day 1 second 1 microsecond',
             jsonb_build_object('tier', g % 3, 'big', 9007199254740993 + g, 'ratio', 1.0 / g,
                                'tags', jsonb_build_array('a', g, 'é☃'), 'nested', jsonb_build_object('ok', g % 2 = 0)),
             ${notesSql('g')}
      FROM generate_series(1, ${INITIAL_CUSTOMERS}) g;
    INSERT INTO ${DEMO_SCHEMA}.orders (customer_id, amount, fx_rate, ref, coupon, status)
      SELECT 1 + (g % ${INITIAL_CUSTOMERS}), (g % 500) + 0.99,
             CASE WHEN g % 4 = 0 THEN NULL ELSE (1 + g / 100000.0)::numeric * 1.000000000000000000001 END,
             9007199254740993 + g, CASE WHEN g % 3 = 0 THEN 'SPRING' || g ELSE NULL END,
             CASE WHEN g % 5 = 0 THEN 'shipped' ELSE 'new' END
      FROM generate_series(1, ${INITIAL_ORDERS}) g;
  `);
}

/** A few KB of text that does not compress (stored out of line: TOAST). */
function notesSql(seed: string): string {
  return `(SELECT string_agg(md5(${seed}::text || '-' || i || random()::text), ' ') FROM generate_series(1, 100) i)`;
}

/** Counters of what the live workload did. */
export interface WorkloadStats {
  transactions: number;
  inserts: number;
  updates: number;
  deletes: number;
  schemaChanges: string[];
}

/** Options of {@link runWorkload}. */
export interface WorkloadOptions {
  /** How long to run. */
  readonly durationMs: number;
  /** Ends the workload early. */
  readonly signal: AbortSignal;
  /** One connection per worker; the first also runs the schema changes. */
  readonly clients: readonly pg.Client[];
  /** Changes per second to aim at, over all workers. */
  readonly changesPerSecond: number;
  /** Told about each schema change and the large transaction, when it happens. */
  readonly onEvent?: (text: string) => void;
}

/** Which schema changes already happened (workers read it to write the current columns). */
interface Phase {
  loyalty: boolean;
  couponDropped: boolean;
}

type Op = 'insert' | 'update' | 'delete';

/** One statement of a transaction and what kind of change each row it touches is. */
interface Step {
  readonly sql: string;
  readonly op: Op;
}

const T = DEMO_SCHEMA;

/**
 * Runs the live workload for `durationMs` (or until `signal` aborts): each
 * worker commits small transactions of mixed changes on its own half of the
 * keys (so workers never deadlock), while the first worker adds
 * `customers.loyalty_points` at one third of the run, runs one large
 * transaction at half, and drops `orders.coupon` at two thirds.
 */
export async function runWorkload(opts: WorkloadOptions): Promise<WorkloadStats> {
  const stats: WorkloadStats = {
    transactions: 0,
    inserts: 0,
    updates: 0,
    deletes: 0,
    schemaChanges: [],
  };
  const phase: Phase = { loyalty: false, couponDropped: false };
  const ids = { customers: INITIAL_CUSTOMERS, orders: INITIAL_ORDERS };
  const startedAt = Date.now();
  const deadline = startedAt + opts.durationMs;
  const workers = opts.clients.length;
  const milestones = [
    {
      atMs: opts.durationMs / 3,
      run: async (c: pg.Client) => {
        const sql = `ALTER TABLE ${T}.customers ADD COLUMN loyalty_points integer`;
        await c.query(sql);
        phase.loyalty = true;
        stats.schemaChanges.push(sql);
        opts.onEvent?.(sql);
      },
    },
    {
      atMs: opts.durationMs / 2,
      run: async (c: pg.Client) => {
        const counts = await commit(c, () => [
          { op: 'update', sql: `UPDATE ${T}.orders SET status = 'archived' WHERE status = 'shipped'` },
        ]);
        const n = counts.get('update') ?? 0;
        stats.transactions++;
        stats.updates += n;
        opts.onEvent?.(
          `one large transaction: UPDATE of ${n.toLocaleString('en-US')} orders (status 'shipped' → 'archived')`,
        );
      },
    },
    {
      atMs: (opts.durationMs * 2) / 3,
      run: async (c: pg.Client) => {
        const sql = `ALTER TABLE ${T}.orders DROP COLUMN coupon`;
        phase.couponDropped = true; // before: no transaction built from now on names it
        await c.query(sql);
        stats.schemaChanges.push(sql);
        opts.onEvent?.(sql);
      },
    },
  ];

  const worker = async (client: pg.Client, k: number) => {
    // Pacing: each worker aims at its share of the rate.
    const perWorkerRate = opts.changesPerSecond / workers;
    let done = 0;
    while (!opts.signal.aborted && Date.now() < deadline) {
      if (k === 0 && milestones[0] && Date.now() - startedAt >= milestones[0].atMs) {
        await milestones.shift()!.run(client);
        continue;
      }
      const counts = await commit(client, () => transaction({ k, workers, ids, phase }));
      stats.transactions++;
      for (const [op, n] of counts) {
        if (op === 'insert') stats.inserts += n;
        else if (op === 'delete') stats.deletes += n;
        else stats.updates += n;
        done += n;
      }
      const aheadMs = (done / perWorkerRate) * 1000 - (Date.now() - startedAt);
      if (aheadMs > 0) await sleep(Math.min(aheadMs, deadline - Date.now()), opts.signal);
    }
  };
  await Promise.all(opts.clients.map((c, k) => worker(c, k)));
  return stats;
}

/**
 * Runs the steps as one transaction, in one round trip (several statements in
 * one simple query run as one implicit transaction). A deadlock (the large
 * transaction against a worker) or a column dropped just before it ran makes
 * PostgreSQL roll it back whole: it is built again and retried.
 */
async function commit(client: pg.Client, build: () => Step[]): Promise<Map<Op, number>> {
  for (let attempt = 1; ; attempt++) {
    const steps = build();
    let results: pg.QueryResult | pg.QueryResult[];
    try {
      results = await client.query(steps.map((s) => s.sql).join(';\n'));
    } catch (err) {
      if (attempt < 5 && RETRIED.has((err as { code?: string }).code ?? '')) continue;
      throw err;
    }
    const list = Array.isArray(results) ? results : [results];
    const counts = new Map<Op, number>();
    list.forEach((r, i) => {
      const op = steps[i]!.op;
      counts.set(op, (counts.get(op) ?? 0) + (r.rowCount ?? 0));
    });
    return counts;
  }
}

/** deadlock_detected, undefined_column. */
const RETRIED = new Set(['40P01', '42703']);

/** Random integer in [1, max] whose remainder by `workers` is `k` (this worker's half of the keys). */
function pick(max: number, k: number, workers: number): number {
  const n = 1 + Math.floor(Math.random() * max);
  return n - (n % workers) + k || k + workers;
}

function picks(count: number, max: number, k: number, workers: number): string {
  return Array.from({ length: count }, () => pick(max, k, workers)).join(',');
}

/** One transaction's statements: one or two kinds of business, picked at random. */
function transaction(ctx: {
  k: number;
  workers: number;
  ids: { customers: number; orders: number };
  phase: Phase;
}): Step[] {
  const { k, workers, ids, phase } = ctx;
  const kinds = [kind(), ...(Math.random() < 0.5 ? [kind()] : [])];
  // Orders are this worker's when their customer is: no two workers ever wait on each other.
  const mine = `customer_id % ${workers} = ${k}`;
  const steps: Step[] = [];
  for (const name of kinds) {
    switch (name) {
      case 'signup': {
        // New customers with their first orders.
        steps.push({
          op: 'insert',
          sql: `INSERT INTO ${T}.customers (name, email, profile, notes)
            SELECT 'new customer ' || g, 'n' || g || '@example.net', jsonb_build_object('source', 'live', 'n', g), ${notesSql('g')}
            FROM generate_series(1, 2) g`,
        });
        ids.customers += 2;
        const coupon = phase.couponDropped ? '' : `, ${Math.random() < 0.3 ? "'WELCOME10'" : 'NULL'}`;
        steps.push({
          op: 'insert',
          sql: `INSERT INTO ${T}.orders (customer_id, amount, fx_rate, ref${phase.couponDropped ? '' : ', coupon'})
            SELECT ${pick(ids.customers, k, workers)}, round((random() * 900)::numeric, 2),
                   (random() + 0.5)::numeric(30,20), 9007199254740993 + (random() * 1e12)::bigint${coupon}
            FROM generate_series(1, 6)`,
        });
        ids.orders += 6;
        break;
      }
      case 'payment':
        // Touches balance and vip only: `notes` is sent as "unchanged TOAST".
        steps.push({
          op: 'update',
          sql: `UPDATE ${T}.customers SET balance = balance + round((random() * 50)::numeric, 2), vip = balance > 500
                ${phase.loyalty ? ', loyalty_points = coalesce(loyalty_points, 0) + 1' : ''}
            WHERE id IN (${picks(10, ids.customers, k, workers)})`,
        });
        break;
      case 'fulfilment':
        steps.push({
          op: 'update',
          sql: `UPDATE ${T}.orders SET status = 'shipped', shipped_at = clock_timestamp()
            WHERE id IN (${picks(15, ids.orders, 0, 1)}) AND status = 'new' AND ${mine}`,
        });
        break;
      case 'cancel':
        steps.push({
          op: 'delete',
          sql: `DELETE FROM ${T}.orders WHERE id IN (${picks(6, ids.orders, 0, 1)}) AND ${mine}`,
        });
        break;
      case 'profile':
        // The TOASTed value really changes.
        steps.push({
          op: 'update',
          sql: `UPDATE ${T}.customers
            SET profile = profile || jsonb_build_object('seen', clock_timestamp()::text, 'score', random()),
                notes = ${notesSql('id')}
            WHERE id IN (${picks(2, ids.customers, k, workers)})`,
        });
        break;
      case 'churn': {
        const id = pick(ids.customers, k, workers);
        steps.push({ op: 'delete', sql: `DELETE FROM ${T}.orders WHERE customer_id = ${id}` });
        steps.push({ op: 'delete', sql: `DELETE FROM ${T}.customers WHERE id = ${id}` });
        break;
      }
    }
  }
  return steps;
}

const KINDS: readonly [string, number][] = [
  ['signup', 3],
  ['payment', 4],
  ['fulfilment', 4],
  ['cancel', 2],
  ['profile', 1],
  ['churn', 0.5],
];
const TOTAL_WEIGHT = KINDS.reduce((s, [, w]) => s + w, 0);

function kind(): string {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const [name, w] of KINDS) {
    r -= w;
    if (r < 0) return name;
  }
  return 'payment';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
