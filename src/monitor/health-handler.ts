import type { IncomingMessage, ServerResponse } from 'node:http';
import { configError } from '../errors.js';
import { formatLsn } from '../lsn.js';
import type { PipelineStatus } from '../pipeline/pipeline-events.js';
import { CircuitWatch } from './circuit-watch.js';
import type { MetricsMonitor } from './metrics.js';
import type { Monitor, MonitorContext, PipelineView } from './monitor.js';
import { formatBytes } from './readable-units.js';

/** Options of {@link healthHandler} (and of `healthServer`). */
export interface HealthOptions {
  /** Not ready while any slot of the pipeline lags more than this many bytes (from `lag` events). */
  readonly lagBytesReady?: number;
  /** Serve `/metrics` from this metrics monitor. */
  readonly metrics?: MetricsMonitor;
}

/** One pipeline in a {@link HealthReport}. */
export interface PipelineHealth {
  readonly name: string;
  readonly status: PipelineStatus;
  readonly live: boolean;
  readonly ready: boolean;
  /** Why it is not ready (empty when ready). */
  readonly reasons: readonly string[];
  readonly confirmedLsn: string | null;
  readonly circuitOpen: boolean;
  /** Latest lag per slot; bytes as a decimal string (exact). */
  readonly lag: readonly { readonly slot: string; readonly bytes: string; readonly ms?: number }[];
}

/** The JSON body of every health endpoint. */
export interface HealthReport {
  /** False once a pipeline failed: restarting the process is the fix. */
  readonly live: boolean;
  /** True when every pipeline streams, no circuit is open, and lag is under `lagBytesReady`. */
  readonly ready: boolean;
  readonly pipelines: readonly PipelineHealth[];
}

/** Lag a healthy pipeline never reaches (a few batches), yet far below trouble. */
export const DEFAULT_LAG_BYTES_READY = 256 * 1024 ** 2;

type LagBySlot = Map<string, { bytes: bigint; ms: number | undefined }>;

/** What the handler keeps per watched context. */
interface Watched {
  readonly circuits: CircuitWatch;
  readonly lag: LagBySlot;
}

/**
 * Liveness and readiness of pipelines, as a node:http request handler the
 * host mounts in its own server (`healthServer` runs one for you). Add it to
 * the pipelines as a monitor so it can see them.
 *
 * Routes (GET or HEAD): `/health/live` (200 unless a pipeline failed),
 * `/health/ready` and `/health` (200 when every pipeline is `streaming`, no
 * circuit is open and no slot lags more than `lagBytesReady`; else 503),
 * `/metrics` when a metrics monitor is given; 404 otherwise. Bodies are a
 * {@link HealthReport}. Status comes from `ctx.pipelines()`; lag from `lag`
 * events (the WAL monitor's), which need {@link MonitorContext.on}.
 *
 * @example
 * ```ts
 * const health = healthHandler({ lagBytesReady: 64 * 1024 ** 2 });
 * pipeline.monitor(walMonitor(), health);
 * http.createServer((req, res) => health.handle(req, res)).listen(8080);
 * ```
 */
export class HealthHandler implements Monitor {
  readonly name: string = 'health';
  private readonly lagBytesReady: bigint;
  private readonly metrics: MetricsMonitor | undefined;
  private readonly attached = new Map<MonitorContext, Watched>();
  /** Pipelines whose run ended, by name: still read at request time, so their final status shows. */
  private readonly ended = new Map<string, Watched & { ctx: MonitorContext }>();

  constructor(options: HealthOptions = {}, field = 'health') {
    if (options === null || typeof options !== 'object')
      throw configError(field, 'expected an options object');
    const lag = options.lagBytesReady ?? DEFAULT_LAG_BYTES_READY;
    if (typeof lag !== 'number' || !Number.isFinite(lag) || lag < 0) {
      throw configError('lagBytesReady', `must be a finite number >= 0, got ${String(lag)}`);
    }
    this.lagBytesReady = BigInt(Math.floor(lag));
    this.metrics = options.metrics;
  }

  /** Watches `ctx`'s pipelines until its signal aborts. */
  async run(ctx: MonitorContext): Promise<void> {
    if (ctx.signal.aborted) return;
    const lag: LagBySlot = new Map();
    const circuits = new CircuitWatch(ctx);
    this.attached.set(ctx, { circuits, lag });
    for (const p of ctx.pipelines()) this.ended.delete(p.name);
    const off = ctx.on?.('lag', (e) => lag.set(e.slot, { bytes: e.bytes, ms: e.ms }));
    await new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    off?.();
    for (const p of ctx.pipelines()) this.ended.set(p.name, { ctx, circuits, lag });
    circuits.stop();
    this.attached.delete(ctx);
  }

  /** The current report. Not ready when no pipeline runs. */
  report(): HealthReport {
    const byName = new Map<string, PipelineHealth>();
    for (const [name, { ctx, circuits, lag }] of this.ended) {
      const p = ctx.pipelines().find((v) => v.name === name);
      if (p) byName.set(name, this.assess(p, circuits, lag));
    }
    for (const [ctx, { circuits, lag }] of this.attached) {
      for (const p of ctx.pipelines()) byName.set(p.name, this.assess(p, circuits, lag));
    }
    const pipelines = [...byName.values()];
    const running = pipelines.some((p) => p.status !== 'stopped' && p.status !== 'failed');
    return {
      live: pipelines.every((p) => p.live),
      // A pipeline stopped on purpose does not hold the others back.
      ready: running && pipelines.every((p) => p.ready || p.status === 'stopped'),
      pipelines,
    };
  }

  /** The request handler: `(req, res) => health.handle(req, res)`. Never throws. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics' && this.metrics) {
      this.metrics.scrape().then(
        ({ contentType, body }) =>
          res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
        (err: unknown) => send(res, req, 500, { error: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    if (path !== '/health' && path !== '/health/live' && path !== '/health/ready') {
      send(res, req, 404, {
        error: `No route ${path}; try /health/live, /health/ready${this.metrics ? ', /metrics' : ''}`,
      });
      return;
    }
    const report = this.report();
    const ok = path === '/health/live' ? report.live : report.ready;
    send(res, req, ok ? 200 : 503, report);
  };

  private assess(p: PipelineView, circuits: CircuitWatch, lag: LagBySlot): PipelineHealth {
    const reasons: string[] = [];
    if (p.status !== 'streaming') reasons.push(`status is ${p.status}, not streaming`);
    const circuitOpen = circuits.isOpen(p);
    if (circuitOpen) reasons.push('a destination circuit is open: writes keep failing');
    const lags = [...lag].map(([slot, l]) => ({ slot, ...l }));
    for (const l of lags) {
      if (l.bytes > this.lagBytesReady) {
        reasons.push(
          `slot "${l.slot}" lags ${formatBytes(l.bytes)} (ready under ${formatBytes(this.lagBytesReady)})`,
        );
      }
    }
    return {
      name: p.name,
      status: p.status,
      live: p.status !== 'failed',
      ready: reasons.length === 0,
      reasons,
      confirmedLsn: p.confirmedLsn === undefined ? null : formatLsn(p.confirmedLsn),
      circuitOpen,
      lag: lags.map((l) => ({
        slot: l.slot,
        bytes: l.bytes.toString(),
        ...(l.ms === undefined ? {} : { ms: l.ms }),
      })),
    };
  }
}

function send(res: ServerResponse, req: IncomingMessage, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
    .end(req.method === 'HEAD' ? undefined : text);
}

/**
 * Creates a {@link HealthHandler}. Options are validated here, naming the field.
 *
 * @example
 * ```ts
 * const health = healthHandler({ metrics: m });
 * app.use((req, res, next) => (req.path.startsWith('/health') || req.path === '/metrics' ? health.handle(req, res) : next()));
 * ```
 */
export function healthHandler(options: HealthOptions = {}): HealthHandler {
  return new HealthHandler(options);
}
