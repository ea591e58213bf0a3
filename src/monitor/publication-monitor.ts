import pg from 'pg';
import { sleep } from '../async/abortable-sleep.js';
import { configError, toEtlError } from '../errors.js';
import type { AlertEvent } from '../pipeline/pipeline-events.js';
import { withDeadline } from './deadline.js';
import type { Monitor, MonitorContext, PipelineView } from './monitor.js';
import { serverLabel } from './slot-probe.js';

/** Options of {@link publicationMonitor}. */
export interface PublicationMonitorOptions {
  /** Time between two checks of every pipeline. */
  readonly intervalMs?: number;
  /** Longest one pipeline's check may take; past it, that check alone counts as failed. */
  readonly timeoutMs?: number;
}

/** Publications change by hand, rarely: once a minute finds a mistake long before anyone else does. */
export const DEFAULT_PUBLICATION_INTERVAL_MS = 60_000;
/** The query is a catalog lookup; 5 s is a server in trouble. */
export const DEFAULT_PUBLICATION_TIMEOUT_MS = 5_000;

/** Shows up in `pg_stat_activity`, so a DBA can tell what the connection is. */
const APPLICATION_NAME = 'etl-stream publication monitor';

const PUBLICATION_SQL = `
  SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AS present,
         COALESCE((SELECT array_agg(schemaname || '.' || tablename)
                     FROM pg_publication_tables WHERE pubname = $1), '{}') AS tables`;

/** What one check found for one pipeline. */
interface Finding {
  readonly present: boolean;
  readonly tables: ReadonlySet<string>;
}

/**
 * Watches that each pipeline's publication still exists and still holds every
 * table the pipeline streams. A table dropped from a publication by hand
 * (`ALTER PUBLICATION ... DROP TABLE`) makes PostgreSQL silently stop sending
 * its changes: nothing fails, the destination just goes stale. This monitor
 * raises a critical `alert` naming the pipeline, publication and tables, and a
 * resolved notice once they are back.
 *
 * Every pipeline is checked concurrently, each within its own timeout, so a
 * slow or unreachable server never delays the others; a check that fails
 * raises a warning alert for that pipeline only. Watches the pipelines it is
 * added to, through the slot their source reports (`PipelineView.slot`).
 *
 * @example
 * ```ts
 * pipeline.monitor(publicationMonitor({ intervalMs: 30_000 }), alerts({ webhook: { url } }));
 * ```
 */
export class PublicationMonitor implements Monitor {
  readonly name = 'publication';
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(options: PublicationMonitorOptions = {}) {
    this.intervalMs = positive(options.intervalMs, DEFAULT_PUBLICATION_INTERVAL_MS, 'intervalMs');
    this.timeoutMs = positive(options.timeoutMs, DEFAULT_PUBLICATION_TIMEOUT_MS, 'timeoutMs');
  }

  async run(ctx: MonitorContext): Promise<void> {
    const raised = new Map<string, AlertEvent>();
    /** Raises what is new or changed for one pipeline, and resolves what no longer holds for it. */
    const settle = (pipeline: string, now: readonly AlertEvent[]) => {
      const current = new Map(now.map((a) => [a.key, a]));
      for (const [key, alert] of current) {
        if (raised.get(key)?.message === alert.message) continue;
        raised.set(key, alert);
        ctx.emit('alert', alert);
      }
      for (const [key, alert] of raised) {
        if (alert.details?.pipeline !== pipeline || current.has(key)) continue;
        raised.delete(key);
        ctx.emit('alert', {
          ...alert,
          severity: 'info',
          resolved: true,
          message: `Resolved: ${alert.message}`,
        });
      }
    };
    while (!ctx.signal.aborted) {
      const views = ctx.pipelines().filter((v) => v.slot?.publication !== undefined);
      // Each pipeline is reported as soon as its own check settles: a slow server delays no one.
      await Promise.all(
        views.map((view) =>
          this.check(view, ctx.signal)
            .then(
              (found) => conditions(view, found),
              (err: unknown) => [unchecked(view, err, this.timeoutMs)],
            )
            .then((now) => {
              if (!ctx.signal.aborted) settle(view.name, now);
            }),
        ),
      );
      try {
        await sleep(this.intervalMs, ctx.signal);
      } catch {
        break;
      }
    }
  }

  /** Reads the publication of one pipeline on a connection of its own, within the timeout. */
  private check(view: PipelineView, signal: AbortSignal): Promise<Finding> {
    const slot = view.slot!;
    const server = serverLabel(slot.connectionString);
    return withDeadline(
      async (inner) => {
        const client = new pg.Client({
          connectionString: slot.connectionString,
          application_name: APPLICATION_NAME,
          connectionTimeoutMillis: this.timeoutMs,
          statement_timeout: this.timeoutMs,
        });
        client.on('error', () => {}); // reported through the query's rejection
        const onAbort = () => destroy(client);
        inner.addEventListener('abort', onAbort, { once: true });
        try {
          await client.connect();
          const { rows } = await client.query<{ present: boolean; tables: string[] }>(PUBLICATION_SQL, [
            slot.publication,
          ]);
          return { present: rows[0]?.present === true, tables: new Set(rows[0]?.tables ?? []) };
        } finally {
          inner.removeEventListener('abort', onAbort);
          await client.end().catch(() => destroy(client));
        }
      },
      { timeoutMs: this.timeoutMs, what: `Publication check of ${server}`, signal },
    );
  }
}

/** Alerts for what a successful check found. */
function conditions(view: PipelineView, found: Finding): AlertEvent[] {
  const slot = view.slot!;
  const publication = slot.publication!;
  const details = { pipeline: view.name, publication, server: serverLabel(slot.connectionString) };
  if (!found.present) {
    return [
      {
        key: `publication:${view.name}:missing`,
        severity: 'critical',
        resolved: false,
        message: `Publication "${publication}" of pipeline "${view.name}" no longer exists: no change can be streamed. Recreate it (CREATE PUBLICATION "${publication}" FOR TABLE ...) and restart the pipeline.`,
        details,
      },
    ];
  }
  const missing = (slot.tables ?? []).filter((t) => !found.tables.has(t));
  if (missing.length === 0) return [];
  const list = missing.map((t) => `"${t}"`).join(', ');
  return [
    {
      key: `publication:${view.name}:tables`,
      severity: 'critical',
      resolved: false,
      message: `Publication "${publication}" of pipeline "${view.name}" no longer holds ${list}: PostgreSQL silently stops sending their changes. Add them back: ALTER PUBLICATION "${publication}" ADD TABLE ${missing.join(', ')};`,
      details: { ...details, tables: missing },
    },
  ];
}

/** The warning for a pipeline whose check failed or timed out. */
function unchecked(view: PipelineView, reason: unknown, timeoutMs: number): AlertEvent {
  const error = toEtlError(reason, 'CONNECTION');
  const server = serverLabel(view.slot!.connectionString);
  return {
    key: `publication:${view.name}:unchecked`,
    severity: 'warning',
    resolved: false,
    message:
      error.code === 'TIMEOUT'
        ? `Could not check the publication of pipeline "${view.name}": ${server} did not answer within ${timeoutMs} ms`
        : `Could not check the publication of pipeline "${view.name}" on ${server}: ${error.message}`,
    details: { pipeline: view.name, server, code: error.code },
  };
}

/** Ends a client at once, whatever state it is in (a blackholed port included). */
function destroy(client: pg.Client): void {
  void client.end().catch(() => {});
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

function positive(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw configError(`publicationMonitor.${field}`, `must be a positive number of ms, got ${value}`);
  return value;
}

/**
 * Creates a {@link PublicationMonitor}: alerts when a pipeline's publication
 * disappears or loses one of the pipeline's tables.
 */
export function publicationMonitor(options: PublicationMonitorOptions = {}): PublicationMonitor {
  return new PublicationMonitor(options);
}
