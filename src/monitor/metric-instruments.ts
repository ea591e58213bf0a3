import type { Counter, Gauge, Histogram, Registry } from 'prom-client';

type PromClient = typeof import('prom-client');

/**
 * Batch latency buckets, in seconds: from a fast local destination (5 ms) to
 * a Snowflake MERGE under load (2 min), about 2.5x apart.
 */
export const BATCH_LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** A pipeline as seen at scrape time. */
export interface ScrapedPipeline {
  readonly name: string;
  readonly status: string;
  readonly circuitOpen: boolean;
}

/** A replication slot as seen at scrape time (the WAL monitor's latest reading). */
export interface ScrapedSlot {
  readonly server: string;
  readonly slot: string;
  readonly active: boolean;
  readonly lost: boolean;
  readonly walStatus: string | undefined;
  readonly retainedBytes: bigint | undefined;
  readonly safeWalSizeBytes: bigint | undefined;
}

/** Values read at scrape time, rather than counted from events. */
export interface ScrapeSources {
  pipelines(): Iterable<ScrapedPipeline>;
  slots(): Iterable<ScrapedSlot>;
}

/** Every series etl-stream exports (documented in docs/metrics.md; keep both in step). */
export interface Instruments {
  readonly rows: Counter<'pipeline'>;
  readonly bytes: Counter<'pipeline'>;
  readonly batches: Counter<'pipeline'>;
  readonly transactions: Counter<'pipeline'>;
  readonly errors: Counter<'pipeline' | 'component' | 'code' | 'fatal'>;
  readonly retries: Counter<'pipeline' | 'component'>;
  readonly alerts: Counter<'pipeline' | 'severity'>;
  readonly lagBytes: Gauge<'pipeline' | 'slot'>;
  readonly lagSeconds: Gauge<'pipeline' | 'slot'>;
  readonly batchLatency: Histogram<'pipeline'>;
  readonly snapshotRows: Gauge<'pipeline' | 'table'>;
  readonly snapshotDone: Gauge<'pipeline' | 'table'>;
}

/** The statuses a pipeline can be in; each gets a series so absent ones read 0, as Prometheus prefers. */
const STATUSES = ['idle', 'starting', 'snapshotting', 'streaming', 'paused', 'stopping', 'stopped', 'failed'];
const WAL_STATUSES = ['reserved', 'extended', 'unreserved', 'lost'];

/**
 * Creates (or, when a metric of that name is already registered, reuses)
 * every instrument in `registry`. Scrape-time gauges read `sources`.
 *
 * @example
 * ```ts
 * const prom = await import('prom-client');
 * const m = createInstruments(prom, new prom.Registry(), 'etl_stream_', { pipelines: () => [], slots: () => [] });
 * m.rows.inc({ pipeline: 'orders' }, 100);
 * ```
 */
export function createInstruments(
  prom: PromClient,
  registry: Registry,
  prefix: string,
  sources: ScrapeSources,
): Instruments {
  const registers = [registry];
  const existing = <T>(name: string): T | undefined =>
    registry.getSingleMetric(prefix + name) as T | undefined;
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
    existing<Counter<L>>(name) ?? new prom.Counter<L>({ name: prefix + name, help, labelNames, registers });
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    collect?: (g: Gauge<L>) => void,
  ): Gauge<L> =>
    existing<Gauge<L>>(name) ??
    new prom.Gauge<L>({
      name: prefix + name,
      help,
      labelNames,
      registers,
      ...(collect
        ? {
            collect(this: Gauge<L>) {
              collect(this);
            },
          }
        : {}),
    });

  gauge(
    'pipeline_status',
    'Whether the pipeline is in this status (1) or not (0).',
    ['pipeline', 'status'],
    (g) => {
      g.reset();
      for (const p of sources.pipelines()) {
        for (const status of STATUSES) g.set({ pipeline: p.name, status }, p.status === status ? 1 : 0);
      }
    },
  );
  gauge(
    'circuit_open',
    'Whether a destination circuit breaker of the pipeline is open (1) or closed (0).',
    ['pipeline'],
    (g) => {
      g.reset();
      for (const p of sources.pipelines()) g.set({ pipeline: p.name }, p.circuitOpen ? 1 : 0);
    },
  );
  const slotGauge = (name: string, help: string, value: (s: ScrapedSlot) => number | undefined) =>
    gauge(name, help, ['server', 'slot'], (g) => {
      g.reset();
      for (const s of sources.slots()) {
        const v = value(s);
        if (v !== undefined) g.set({ server: s.server, slot: s.slot }, v);
      }
    });
  slotGauge(
    'slot_retained_wal_bytes',
    'WAL the server keeps for the slot: WAL head minus restart_lsn.',
    (s) => (s.retainedBytes === undefined ? undefined : Number(s.retainedBytes)),
  );
  slotGauge(
    'slot_safe_wal_size_bytes',
    'WAL that may still be written before the slot is in danger (safe_wal_size).',
    (s) => (s.safeWalSizeBytes === undefined ? undefined : Number(s.safeWalSizeBytes)),
  );
  slotGauge('slot_active', 'Whether a consumer is using the slot (1) or not (0).', (s) => (s.active ? 1 : 0));
  slotGauge('slot_lost', 'Whether the slot was invalidated (1) or is usable (0).', (s) => (s.lost ? 1 : 0));
  gauge(
    'slot_wal_status',
    'Whether the slot has this wal_status (1) or not (0).',
    ['server', 'slot', 'status'],
    (g) => {
      g.reset();
      for (const s of sources.slots()) {
        for (const status of WAL_STATUSES)
          g.set({ server: s.server, slot: s.slot, status }, s.walStatus === status ? 1 : 0);
      }
    },
  );

  return {
    rows: counter('rows_total', 'Rows made durable in every destination and confirmed to the source.', [
      'pipeline',
    ]),
    bytes: counter('bytes_total', 'Arrow bytes (in-memory size) of batches made durable and confirmed.', [
      'pipeline',
    ]),
    batches: counter('batches_total', 'Batches made durable and confirmed.', ['pipeline']),
    transactions: counter('transactions_total', 'Source transactions made durable and confirmed.', [
      'pipeline',
    ]),
    errors: counter('errors_total', 'Errors; fatal="true" ones stopped the pipeline.', [
      'pipeline',
      'component',
      'code',
      'fatal',
    ]),
    retries: counter('retries_total', 'Failed operations being retried (non-fatal errors).', [
      'pipeline',
      'component',
    ]),
    alerts: counter('alerts_total', 'Alerts raised (resolved notices not counted).', [
      'pipeline',
      'severity',
    ]),
    lagBytes: gauge('lag_bytes', "Replication lag: WAL head minus the slot's confirmed_flush_lsn.", [
      'pipeline',
      'slot',
    ]),
    lagSeconds: gauge('lag_seconds', 'Age of the oldest WAL the slot has not confirmed (lower bound).', [
      'pipeline',
      'slot',
    ]),
    batchLatency:
      existing<Histogram<'pipeline'>>('batch_latency_seconds') ??
      new prom.Histogram<'pipeline'>({
        name: `${prefix}batch_latency_seconds`,
        help: 'Time from reading a batch to confirming it (transforms, writes, state save, confirm).',
        labelNames: ['pipeline'],
        buckets: BATCH_LATENCY_BUCKETS_S,
        registers,
      }),
    snapshotRows: gauge('snapshot_rows', 'Rows copied so far by the initial snapshot, per table.', [
      'pipeline',
      'table',
    ]),
    snapshotDone: gauge(
      'snapshot_table_done',
      'Whether the initial snapshot of the table is done (1) or not (0).',
      ['pipeline', 'table'],
    ),
  };
}
