import type { MonitorContext } from './monitor.js';

/**
 * Lets one monitor be added to several pipelines while running one shared
 * thing (one HTTP server, one polling loop per server): the first
 * {@link SharedRun.attach} starts it, the last detach stops it. The shared
 * thing owns one `AbortController`, aborted when the last context detaches.
 *
 * @example
 * ```ts
 * const shared = new SharedRun(async (signal) => { await pollUntil(signal); });
 * const monitor: Monitor = { name: 'poller', run: (ctx) => shared.attach(ctx) };
 * ```
 */
export class SharedRun {
  private readonly attached: MonitorContext[] = [];
  private controller: AbortController | undefined;
  private running: Promise<void> | undefined;

  /** `start` runs until its signal aborts; a rejection fails every attached `run`. */
  constructor(private readonly start: (signal: AbortSignal) => Promise<void>) {}

  /** The contexts attached now, oldest first. */
  get contexts(): readonly MonitorContext[] {
    return this.attached;
  }

  /**
   * Attaches `ctx` until its signal aborts; starts the shared thing when it is
   * the first. Resolves once detached (and, for the last one, once the shared
   * thing has stopped); rejects when the shared thing fails.
   */
  async attach(ctx: MonitorContext, onDetach?: (ctx: MonitorContext) => void): Promise<void> {
    if (ctx.signal.aborted) return;
    this.attached.push(ctx);
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      this.running = Promise.resolve().then(() => this.start(controller.signal));
    }
    const running = this.running!;
    try {
      await Promise.race([aborted(ctx.signal), running]);
    } finally {
      this.attached.splice(this.attached.indexOf(ctx), 1);
      onDetach?.(ctx);
      if (this.attached.length === 0 && this.running === running) {
        this.controller?.abort();
        this.controller = undefined;
        this.running = undefined;
        await running.catch(() => {});
      }
    }
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
