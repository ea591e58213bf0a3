import type { ChangeBatch } from '../../../src/change/change-batch.js';
import type { Checkpoint } from '../../../src/change/checkpoint.js';
import type { Source, SourceContext } from '../../../src/pipeline/source.js';

/** A Source the test feeds batch by batch (`push`), for monitors watching a real Pipeline. */
export class PushSource implements Source {
  readonly name = 'push';
  readonly confirmed: Checkpoint[] = [];
  private readonly queue: ChangeBatch[] = [];
  private wake: (() => void) | undefined;

  push(...batches: ChangeBatch[]): void {
    this.queue.push(...batches);
    this.wake?.();
  }

  async *open(ctx: SourceContext): AsyncIterable<ChangeBatch> {
    while (!ctx.signal.aborted) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  async confirm(checkpoint: Checkpoint): Promise<void> {
    this.confirmed.push(checkpoint);
  }

  async close(): Promise<void> {}
}
