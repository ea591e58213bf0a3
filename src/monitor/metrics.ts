import type { Registry } from 'prom-client';
import { configError, EtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import { CircuitWatch } from './circuit-watch.js';
import { createInstruments, type Instruments, type ScrapedPipeline } from './metric-instruments.js';
import type { Monitor, MonitorContext } from './monitor.js';
import type { WalMonitor } from './wal-monitor.js';

/**
 * The part of a prom-client `Registry` etl-stream uses (any prom-client 15
 * `Registry` fits). Pass the host's to add etl-stream's series to its own.
 */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
  getSingleMetric(name: string): unknown;
}

/** Options of {@link metrics}. */
export interface MetricsOptions {
  /** The host's registry; a new one is created when omitted. */
  readonly registry?: MetricsRegistry;
  /** Prefix of every series name. */
  readonly prefix?: string;
  /** A WAL monitor whose slot readings are exported too (`*_slot_*` series). */
  readonly wal?: WalMonitor;
}

/** Prometheus's convention: one prefix per exporter, ending in `_`. */
export const DEFAULT_METRICS_PREFIX = 'etl_stream_';
/** Events that arrive while prom-client is being imported (milliseconds) are kept, up to this many. */
const MAX_EARLY_EVENTS = 10_000;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Prometheus metrics for pipelines, through `prom-client` (an optional peer
 * dependency, imported on first use): rows, bytes, batches, transactions,
 * errors, retries, alerts, lag, batch latency histogram, snapshot progress,
 * circuit state and pipeline status. The series are listed in
 * `docs/metrics.md`.
 *
 * Contract: counters, the histogram and lag gauges are fed by the pipeline's
 * events, so they need {@link MonitorContext.on} (without it the monitor
 * reports one non-fatal `error` and exports the scrape-time series only);
 * status, circuit and slot series are read at scrape time. One monitor may be
 * added to several pipelines: series carry a `pipeline` label. Series of a
 * stopped pipeline keep their last values. `run` rejects with
 * `CONFIG_INVALID` when prom-client is not installed.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * const registry = new Registry();
 * pipeline.monitor(metrics({ registry }));
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 * ```
 */
export class MetricsMonitor implements Monitor {
  readonly name = 'metrics';
  private readonly prefix: string;
  private readonly wal: WalMonitor | undefined;
  private hostRegistry: MetricsRegistry | undefined;
  private loaded: Promise<{ registry: Registry; instruments: Instruments }> | undefined;
  private readonly attached = new Map<MonitorContext, CircuitWatch>();
  /**
   * Contexts of pipelines whose run ended, by pipeline name: still read at
   * scrape time, so a stopped pipeline shows its final status (the runtime
   * may set it after stopping its monitors).
   */
  private readonly ended = new Map<string, { ctx: MonitorContext; circuits: CircuitWatch }>();

  constructor(options: MetricsOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw configError('metrics', 'expected an options object');
    this.prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
    if (typeof this.prefix !== 'string' || (this.prefix !== '' && !METRIC_NAME.test(this.prefix))) {
      throw configError(
        'prefix',
        `must match ${METRIC_NAME} (letters, digits, "_" and ":"), got ${JSON.stringify(this.prefix)}`,
      );
    }
    const registry = options.registry;
    if (
      registry !== undefined &&
      (typeof registry?.metrics !== 'function' || typeof registry.getSingleMetric !== 'function')
    ) {
      throw configError('registry', 'expected a prom-client Registry');
    }
    this.hostRegistry = registry;
    this.wal = options.wal;
  }

  /** The registry holding the series: the host's, or ours once {@link MetricsMonitor.load} or `run` created it. */
  get registry(): MetricsRegistry {
    if (!this.hostRegistry) {
      throw new EtlError('LIFECYCLE', 'metrics().registry is created on first use', {
        hint: 'await monitor.load() first, or pass your own prom-client Registry as `registry`.',
      });
    }
    return this.hostRegistry;
  }

  /** Imports prom-client and creates the series (once). Resolves with the registry. */
  async load(): Promise<MetricsRegistry> {
    this.loaded ??= this.create();
    return (await this.loaded).registry;
  }

  /** The exposition text and its content type, for a `/metrics` handler. */
  async scrape(): Promise<{ readonly contentType: string; readonly body: string }> {
    const registry = await this.load();
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  /** Updates the series from `ctx`'s events until `ctx.signal` aborts. */
  async run(ctx: MonitorContext): Promise<void> {
    if (ctx.signal.aborted) return;
    // Subscribe before prom-client is imported, so the first events are counted too.
    let instruments: Instruments | undefined;
    const early: ((m: Instruments) => void)[] = [];
    const use = (fn: (m: Instruments) => void) => {
      if (instruments) fn(instruments);
      else if (early.length < MAX_EARLY_EVENTS) early.push(fn);
    };
    const off = ctx.on ? this.subscribe(ctx, use) : [];
    try {
      instruments = (await (this.loaded ??= this.create())).instruments;
    } catch (err) {
      for (const unsubscribe of off) unsubscribe();
      throw err;
    }
    for (const fn of early.splice(0)) fn(instruments);
    const circuits = new CircuitWatch(ctx);
    this.attached.set(ctx, circuits);
    for (const p of ctx.pipelines()) this.ended.delete(p.name);
    if (!ctx.on) {
      ctx.emit('error', {
        error: new EtlError(
          'LIFECYCLE',
          'The metrics monitor needs MonitorContext.on for event-based series',
          {
            hint: 'Only status, circuit and slot series are exported on this runtime.',
          },
        ),
        fatal: false,
        component: `monitor:${this.name}`,
      });
    }
    await new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    for (const unsubscribe of off) unsubscribe();
    for (const p of ctx.pipelines()) this.ended.set(p.name, { ctx, circuits });
    circuits.stop();
    this.attached.delete(ctx);
  }

  /** Subscribes to `ctx`'s events; each update runs through `use` once the instruments exist. */
  private subscribe(ctx: MonitorContext, use: (fn: (m: Instruments) => void) => void): (() => void)[] {
    const on = ctx.on!;
    const label = () =>
      ctx
        .pipelines()
        .map((p) => p.name)
        .join(',');
    const slotOwner = (slot: string) =>
      ctx.pipelines().find((p) => (p.slot?.name ?? p.name) === slot)?.name ?? label();
    /** Transactions and bytes of batches read but not yet confirmed, by checkpoint LSN. */
    const reading = new Map<Lsn, { transactions: number; bytes: number }>();
    return [
      on('batch', ({ batch }) => {
        const prev = reading.get(batch.checkpoint.lsn);
        reading.set(batch.checkpoint.lsn, {
          transactions: (prev?.transactions ?? 0) + batch.transactions,
          bytes: (prev?.bytes ?? 0) + batch.byteLength,
        });
      }),
      on('commit', ({ checkpoint, rows, latencyMs }) => {
        const pipeline = label();
        let transactions = 0;
        let bytes = 0;
        for (const [lsn, r] of reading) {
          if (lsn > checkpoint.lsn) continue;
          transactions += r.transactions;
          bytes += r.bytes;
          reading.delete(lsn);
        }
        use((m) => {
          m.rows.inc({ pipeline }, rows);
          m.batches.inc({ pipeline });
          m.transactions.inc({ pipeline }, transactions);
          m.bytes.inc({ pipeline }, bytes);
          m.batchLatency.observe({ pipeline }, latencyMs / 1000);
          for (const [table, t] of Object.entries(checkpoint.snapshot?.tables ?? {})) {
            m.snapshotRows.set({ pipeline, table }, t.rows);
            m.snapshotDone.set({ pipeline, table }, t.status === 'done' ? 1 : 0);
          }
        });
      }),
      on('snapshot:progress', ({ table, rows, done }) => {
        const pipeline = label();
        use((m) => {
          m.snapshotRows.set({ pipeline, table }, rows);
          m.snapshotDone.set({ pipeline, table }, done ? 1 : 0);
        });
      }),
      on('error', ({ error, fatal, component }) => {
        const pipeline = label();
        // "destination:x:attempt 3" → "destination:x": attempt numbers would make unbounded label values.
        const part = component.replace(/:attempt \d+$/, '');
        use((m) => {
          m.errors.inc({ pipeline, component: part, code: error.code, fatal: String(fatal) });
          if (!fatal) m.retries.inc({ pipeline, component: part });
        });
      }),
      on('lag', ({ slot, bytes, ms }) => {
        const pipeline = slotOwner(slot);
        use((m) => {
          m.lagBytes.set({ pipeline, slot }, Number(bytes));
          if (ms !== undefined) m.lagSeconds.set({ pipeline, slot }, ms / 1000);
        });
      }),
      on('alert', ({ severity, resolved }) => {
        const pipeline = label();
        if (!resolved) use((m) => m.alerts.inc({ pipeline, severity }));
      }),
      on('state', ({ status }) => {
        if (status === 'stopped' || status === 'failed') reading.clear();
      }),
    ];
  }

  private scrapedPipelines(ctx: MonitorContext, circuits: CircuitWatch): ScrapedPipeline[] {
    return ctx.pipelines().map((p) => ({ name: p.name, status: p.status, circuitOpen: circuits.isOpen(p) }));
  }

  private async create(): Promise<{ registry: Registry; instruments: Instruments }> {
    let prom: typeof import('prom-client');
    try {
      prom = await import('prom-client');
    } catch (err) {
      throw new EtlError(
        'CONFIG_INVALID',
        'metrics() needs the prom-client package, which is not installed',
        {
          hint: 'npm install prom-client (version 15), or remove the metrics monitor.',
          cause: err,
        },
      );
    }
    const registry = (this.hostRegistry as Registry | undefined) ?? new prom.Registry();
    this.hostRegistry = registry;
    const instruments = createInstruments(prom, registry, this.prefix, {
      pipelines: () => {
        const out = new Map<string, ScrapedPipeline>();
        for (const [name, { ctx, circuits }] of this.ended) {
          for (const p of this.scrapedPipelines(ctx, circuits)) if (p.name === name) out.set(name, p);
        }
        for (const [ctx, circuits] of this.attached) {
          for (const p of this.scrapedPipelines(ctx, circuits)) out.set(p.name, p);
        }
        return out.values();
      },
      slots: () => this.wal?.readings() ?? [],
    });
    return { registry, instruments };
  }
}

/**
 * Creates a {@link MetricsMonitor}. Options are validated here, naming the field.
 *
 * @example
 * ```ts
 * const m = metrics({ prefix: 'etl_stream_' });
 * pipeline.monitor(m, healthServer({ port: 9464, metrics: m }));
 * ```
 */
export function metrics(options: MetricsOptions = {}): MetricsMonitor {
  return new MetricsMonitor(options);
}
