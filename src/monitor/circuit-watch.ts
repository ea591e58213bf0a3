import type { MonitorContext, PipelineView } from './monitor.js';

/** Alert key prefix the runtime uses for circuit breakers: `circuit:<pipeline>:<destination>`. */
const CIRCUIT_ALERT_PREFIX = 'circuit:';

/**
 * Knows whether a pipeline's circuit is open, from the best source the
 * runtime offers: `PipelineView.circuitOpen` when present, else the runtime's
 * `circuit:` alerts (raised on open, resolved on close), else a `paused`
 * status (the runtime pauses a pipeline only for an open circuit).
 *
 * @example
 * ```ts
 * const circuits = new CircuitWatch(ctx);
 * const open = ctx.pipelines().some((p) => circuits.isOpen(p));
 * circuits.stop();
 * ```
 */
export class CircuitWatch {
  private readonly open = new Set<string>();
  private readonly off: (() => void) | undefined;

  constructor(ctx: MonitorContext) {
    this.off = ctx.on?.('alert', (a) => {
      if (!a.key.startsWith(CIRCUIT_ALERT_PREFIX)) return;
      if (a.resolved) this.open.delete(a.key);
      else this.open.add(a.key);
    });
  }

  /** Whether `view`'s pipeline has an open (or half-open) circuit. */
  isOpen(view: PipelineView): boolean {
    if (view.circuitOpen !== undefined) return view.circuitOpen;
    if (this.off) {
      const prefix = `${CIRCUIT_ALERT_PREFIX}${view.name}:`;
      for (const key of this.open) if (key.startsWith(prefix)) return true;
      return false;
    }
    return view.status === 'paused';
  }

  /** Stops listening. */
  stop(): void {
    this.off?.();
  }
}
