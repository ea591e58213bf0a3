import type { AlertEvent } from '../pipeline/pipeline-events.js';

/** An alert the ledger holds as active. */
export interface ActiveAlert {
  readonly alert: AlertEvent;
  /** When it was first raised (ms since the epoch). */
  readonly since: number;
  /** When it was last let through (first raise, severity change, or repeat). */
  readonly notifiedAt: number;
}

/**
 * The de-duplication rule shared by every monitor: remembers which alerts are
 * active, by key. {@link AlertLedger.raise} lets an alert through when it is
 * new, when its severity changed, or when `repeatMs` passed since it was last
 * let through; {@link AlertLedger.resolve} lets a resolved notice through
 * only for an active key. Plain data, no timers, no I/O.
 *
 * @example
 * ```ts
 * const ledger = new AlertLedger();
 * ledger.raise({ key: 'lag', severity: 'warning', message: 'behind', resolved: false }); // → the alert
 * ledger.raise({ key: 'lag', severity: 'warning', message: 'still behind', resolved: false }); // → undefined
 * ledger.resolve('lag', 'caught up'); // → { key: 'lag', severity: 'info', resolved: true, ... }
 * ```
 */
export class AlertLedger {
  private readonly active = new Map<string, ActiveAlert>();

  /** `repeatMs`: re-notify an unchanged active alert after this long (`Infinity`: never). */
  constructor(private readonly repeatMs = Number.POSITIVE_INFINITY) {}

  /** The alert to pass on, or undefined when it repeats an active one. */
  raise(alert: AlertEvent, now = Date.now()): AlertEvent | undefined {
    const current = this.active.get(alert.key);
    if (current && current.alert.severity === alert.severity && now - current.notifiedAt < this.repeatMs) {
      this.active.set(alert.key, { ...current, alert });
      return undefined;
    }
    this.active.set(alert.key, { alert, since: current?.since ?? now, notifiedAt: now });
    return alert;
  }

  /** The resolved notice to pass on, or undefined when `key` was not active. */
  resolve(key: string, message: string, details?: Record<string, unknown>): AlertEvent | undefined {
    const current = this.active.get(key);
    if (!current) return undefined;
    this.active.delete(key);
    return {
      key,
      severity: 'info',
      message,
      resolved: true,
      ...(details === undefined ? {} : { details }),
    };
  }

  /** Feeds an alert event as received (raise or resolve); returns what to pass on. */
  accept(event: AlertEvent, now = Date.now()): AlertEvent | undefined {
    if (!event.resolved) return this.raise(event, now);
    return this.active.delete(event.key) ? event : undefined;
  }

  /** Whether `key` is active. */
  has(key: string): boolean {
    return this.active.has(key);
  }

  /** Active alerts, optionally those whose key starts with `prefix`. */
  list(prefix = ''): ActiveAlert[] {
    return [...this.active.values()].filter((a) => a.alert.key.startsWith(prefix));
  }
}
