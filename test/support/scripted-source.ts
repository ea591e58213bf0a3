import type { ChangeBatch } from '../../src/change/change-batch.js';
import type { Checkpoint } from '../../src/change/checkpoint.js';
import type { Source, SourceContext } from '../../src/pipeline/source.js';

/**
 * A Source that hands out prepared batches, for tests of the runtime. It
 * records how many batches were pulled and every confirmation, and, once the
 * script is used up, waits (like a quiet database) until the pipeline stops.
 */
export class ScriptedSource implements Source {
  readonly name = 'scripted';
  pulled = 0;
  readonly confirmed: Checkpoint[] = [];
  closed = 0;
  ctx: SourceContext | undefined;
  /** Called on each confirm, before it resolves (to check invariants at that instant). */
  onConfirm: ((c: Checkpoint) => void) | undefined;

  constructor(private readonly batches: ChangeBatch[]) {}

  async *open(ctx: SourceContext): AsyncIterable<ChangeBatch> {
    this.ctx = ctx;
    for (const batch of this.batches) {
      if (ctx.signal.aborted) return;
      this.pulled++;
      yield batch;
    }
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  async confirm(checkpoint: Checkpoint): Promise<void> {
    this.onConfirm?.(checkpoint);
    this.confirmed.push(checkpoint);
  }

  async close(): Promise<void> {
    this.closed++;
  }
}
