import { configError, EtlError, redactSecrets, toEtlError } from '../errors.js';
import type { AlertEvent, PipelineEvents } from '../pipeline/pipeline-events.js';
import { AlertLedger } from './alert-ledger.js';
import type { Monitor, MonitorContext } from './monitor.js';
import { formatDuration } from './readable-units.js';
import { Webhook, type WebhookOptions } from './webhook.js';

/** Options of {@link alerts}. */
export interface AlertsOptions {
  /** POST every alert that passes de-duplication to this URL, as JSON. */
  readonly webhook?: WebhookOptions;
  /**
   * De-duplication: `true` (default) passes an alert once while it stays
   * active (again if its severity changes) and a resolved notice only for an
   * active alert; `{ repeatMs }` also repeats an unchanged active alert after
   * that long; `false` passes everything.
   */
  readonly dedupe?: boolean | { readonly repeatMs: number };
  /** Raise an alert when this many non-fatal errors occur within `windowMs`; `false` disables. */
  readonly errors?: false | { readonly count: number; readonly windowMs: number };
}

/** The JSON body POSTed to the webhook. */
export interface AlertNotice extends AlertEvent {
  /** Always `etl-stream`, so one receiver can tell sources apart. */
  readonly source: 'etl-stream';
  /** The pipelines of the context the alert was raised on. */
  readonly pipelines: readonly string[];
  /** When it passed, ISO 8601. */
  readonly at: string;
}

/** Five retried errors in a minute is past a blip (a retry or two) and worth a look. */
export const DEFAULT_ERROR_ALERT = { count: 5, windowMs: 60_000 } as const;
/** Undelivered notices kept per pipeline while the webhook is slow; older ones are dropped (and reported). */
const MAX_PENDING_DELIVERIES = 100;

/**
 * Turns a pipeline's `alert` events (from the runtime's circuit breaker, the
 * WAL monitor, or this monitor's own repeated-errors and fatal-error rules)
 * into de-duplicated notices, optionally POSTed as {@link AlertNotice} JSON
 * to a webhook, in order, each with a time limit and retries.
 *
 * Contract: needs {@link MonitorContext.on}. De-duplication is by alert key
 * across every pipeline the monitor is added to. Raises `errors:<pipeline>`
 * (warning) when `errors.count` non-fatal errors happen within
 * `errors.windowMs`, resolved after a quiet window, and `fatal:<pipeline>`
 * (critical) on a fatal error. A delivery that fails for good is reported as a
 * non-fatal `error` event (component `monitor:alerts`), never thrown. When the
 * pipeline stops, deliveries still queued get one `webhook.timeoutMs` to go
 * out, then are abandoned; nothing outlives `run`.
 *
 * @example
 * ```ts
 * const notify = alerts({ webhook: { url: process.env.ALERT_WEBHOOK!, timeoutMs: 3_000 }, dedupe: { repeatMs: 3_600_000 } });
 * pipeline.monitor(walMonitor(), notify);
 * ```
 */
export class AlertsMonitor implements Monitor {
  readonly name = 'alerts';
  private readonly ledger: AlertLedger | undefined;
  private readonly webhook: Webhook | undefined;
  private readonly errorRule: { readonly count: number; readonly windowMs: number } | undefined;

  constructor(options: AlertsOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw configError('alerts', 'expected an options object');
    this.webhook = options.webhook === undefined ? undefined : new Webhook(options.webhook);
    const dedupe = options.dedupe ?? true;
    if (typeof dedupe === 'object') {
      if (!(typeof dedupe.repeatMs === 'number' && dedupe.repeatMs > 0)) {
        throw configError('dedupe.repeatMs', `must be a number > 0, got ${String(dedupe.repeatMs)}`);
      }
      this.ledger = new AlertLedger(dedupe.repeatMs);
    } else if (dedupe === true) this.ledger = new AlertLedger();
    else if (dedupe !== false) throw configError('dedupe', 'expected true, false or { repeatMs }');
    const errors = options.errors ?? DEFAULT_ERROR_ALERT;
    if (errors !== false) {
      if (!(Number.isInteger(errors.count) && errors.count > 0)) {
        throw configError('errors.count', `must be a positive integer, got ${String(errors.count)}`);
      }
      if (!(typeof errors.windowMs === 'number' && errors.windowMs > 0)) {
        throw configError('errors.windowMs', `must be a number > 0, got ${String(errors.windowMs)}`);
      }
      this.errorRule = errors;
    }
  }

  /** Alerts active now (raised and not yet resolved), when de-duplicating. */
  active(): AlertEvent[] {
    return this.ledger?.list().map((a) => a.alert) ?? [];
  }

  /** Listens until `ctx.signal` aborts, then flushes queued deliveries within `webhook.timeoutMs`. */
  async run(ctx: MonitorContext): Promise<void> {
    if (!ctx.on) {
      throw new EtlError('LIFECYCLE', 'The alerts monitor needs MonitorContext.on to hear alert events', {
        hint: 'Run it on a runtime whose monitor context provides on(type, listener).',
      });
    }
    if (ctx.signal.aborted) return;
    const delivery = new DeliveryQueue(this.webhook, ctx);
    const errors = this.errorRule ? new ErrorRate(this.errorRule, ctx) : undefined;
    const off = [
      ctx.on('alert', (event) => {
        const pass = this.ledger ? this.ledger.accept(event) : event;
        if (pass) delivery.push(pass);
      }),
      ctx.on('error', (event) => errors?.record(event)),
    ];
    await new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    for (const unsubscribe of off) unsubscribe();
    errors?.stop();
    await delivery.drain();
  }
}

/** One pipeline's webhook deliveries, in order, one at a time; one AbortController for all of them. */
class DeliveryQueue {
  private readonly controller = new AbortController();
  private readonly pending: AlertNotice[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly webhook: Webhook | undefined,
    private readonly ctx: MonitorContext,
  ) {}

  push(alert: AlertEvent): void {
    if (!this.webhook) return;
    if (this.pending.length >= MAX_PENDING_DELIVERIES) {
      const dropped = this.pending.shift()!;
      this.report(new EtlError('CONNECTION', `Webhook backlog full; dropped alert "${dropped.key}"`));
    }
    this.pending.push({
      ...alert,
      message: redactSecrets(alert.message),
      source: 'etl-stream',
      pipelines: this.ctx.pipelines().map((p) => p.name),
      at: new Date().toISOString(),
    });
    this.running ??= this.pump();
  }

  /** Waits for queued deliveries for at most one webhook timeout, then abandons the rest. */
  async drain(): Promise<void> {
    const running = this.running;
    if (!running || !this.webhook) return;
    const timer = setTimeout(() => this.controller.abort(), this.webhook.timeoutMs);
    await running;
    clearTimeout(timer);
    this.controller.abort();
  }

  private async pump(): Promise<void> {
    for (let notice = this.pending.shift(); notice; notice = this.pending.shift()) {
      if (this.controller.signal.aborted) break;
      try {
        await this.webhook!.post(notice, { signal: this.controller.signal });
      } catch (err) {
        if (!this.controller.signal.aborted) this.report(toEtlError(err, 'CONNECTION'));
      }
    }
    this.pending.length = 0;
    this.running = undefined;
  }

  private report(error: EtlError): void {
    this.ctx.emit('error', { error, fatal: false, component: 'monitor:alerts' });
  }
}

/** Raises `errors:<pipeline>` when errors come too often, resolves it after a quiet window; `fatal:<pipeline>` at once. */
class ErrorRate {
  private times: number[] = [];
  private quiet: ReturnType<typeof setTimeout> | undefined;
  private raised = false;
  private readonly label: string;

  constructor(
    private readonly rule: { readonly count: number; readonly windowMs: number },
    private readonly ctx: MonitorContext,
  ) {
    this.label =
      ctx
        .pipelines()
        .map((p) => p.name)
        .join(',') || 'pipeline';
  }

  record(event: PipelineEvents['error']): void {
    // Our own delivery failures must not feed the rule that raises alerts (a loop when the webhook is down).
    if (event.component === 'monitor:alerts') return;
    if (event.fatal) {
      this.ctx.emit('alert', {
        key: `fatal:${this.label}`,
        severity: 'critical',
        resolved: false,
        message: `Pipeline ${this.label} stopped on a fatal error in ${event.component}: ${event.error.message}${event.error.hint ? ` (hint: ${event.error.hint})` : ''}`,
        details: { component: event.component, code: event.error.code },
      });
      return;
    }
    const now = Date.now();
    this.times = this.times.filter((t) => now - t < this.rule.windowMs);
    this.times.push(now);
    if (!this.raised && this.times.length >= this.rule.count) {
      this.raised = true;
      this.ctx.emit('alert', {
        key: `errors:${this.label}`,
        severity: 'warning',
        resolved: false,
        message: `Pipeline ${this.label} had ${this.times.length} errors within ${formatDuration(this.rule.windowMs)}, being retried; latest in ${event.component}: ${event.error.message}`,
        details: { component: event.component, code: event.error.code, count: this.times.length },
      });
    }
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.resolve(), this.rule.windowMs);
  }

  stop(): void {
    clearTimeout(this.quiet);
  }

  private resolve(): void {
    this.times = [];
    if (!this.raised) return;
    this.raised = false;
    this.ctx.emit('alert', {
      key: `errors:${this.label}`,
      severity: 'info',
      resolved: true,
      message: `Pipeline ${this.label} had no errors for ${formatDuration(this.rule.windowMs)}.`,
    });
  }
}

/**
 * Creates an {@link AlertsMonitor}. Options are validated here, naming the field.
 *
 * @example
 * ```ts
 * pipeline.monitor(alerts({ webhook: { url: 'https://hooks.example.com/etl', headers: { authorization: `Bearer ${token}` } } }));
 * ```
 */
export function alerts(options: AlertsOptions = {}): AlertsMonitor {
  return new AlertsMonitor(options);
}
