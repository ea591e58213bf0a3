import type { ChangeBatch } from '../../src/change/change-batch.js';
import type { Destination } from '../../src/pipeline/destination.js';
import type { Source } from '../../src/pipeline/source.js';
import type { PhaseTimes } from './contender.js';

/** The parts of a destination write that {@link PhaseTimer} can be told about. */
export type WritePhase = 'encode' | 'upload' | 'apply';

/**
 * Splits an etl-stream run's time by wrapping its source and destination:
 * `decode` is the time the pipeline waited for the source's next batch
 * (reading the socket, decoding into Arrow, cutting batches), `write` the
 * time inside `write` until durable. End-to-end contenders also report
 * where inside `write` the time went ({@link PhaseTimer.add}): encode
 * (Arrow → Parquet), upload (PUT to the stage) and apply (COPY, MERGE,
 * watermark, COMMIT). The pipeline overlaps reading and writing (several
 * batches in flight), so decode and write may sum to more than the elapsed time.
 */
export class PhaseTimer {
  private sourceMs = 0;
  private writeMs = 0;
  private readonly split: Partial<Record<WritePhase, number>> = {};

  source(inner: Source): Source {
    const add = (ms: number) => (this.sourceMs += ms);
    return {
      name: inner.name,
      ...(inner.prepare ? { prepare: (ctx) => inner.prepare!(ctx) } : {}),
      open(ctx) {
        return timedIterable(inner.open(ctx), add);
      },
      confirm: (checkpoint) => inner.confirm(checkpoint),
      close: () => inner.close(),
    };
  }

  destination(inner: Destination): Destination {
    return {
      name: inner.name,
      ...(inner.open ? { open: (ctx) => inner.open!(ctx) } : {}),
      ...(inner.committedLsn ? { committedLsn: (p) => inner.committedLsn!(p) } : {}),
      write: async (batch, opts) => {
        const started = performance.now();
        try {
          await inner.write(batch, opts);
        } finally {
          this.writeMs += performance.now() - started;
        }
      },
      close: () => inner.close(),
    };
  }

  /** Adds `ms` to one part of the write time. */
  add(phase: WritePhase, ms: number): void {
    this.split[phase] = (this.split[phase] ?? 0) + ms;
  }

  /** Times `run` as `phase`. */
  async time<T>(phase: WritePhase, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } finally {
      this.add(phase, performance.now() - started);
    }
  }

  times(): PhaseTimes {
    return {
      decodeMs: this.sourceMs,
      writeMs: this.writeMs,
      ...(this.split.encode === undefined ? {} : { encodeMs: this.split.encode }),
      ...(this.split.upload === undefined ? {} : { uploadMs: this.split.upload }),
      ...(this.split.apply === undefined ? {} : { applyMs: this.split.apply }),
    };
  }
}

async function* timedIterable(
  inner: AsyncIterable<ChangeBatch>,
  add: (ms: number) => void,
): AsyncGenerator<ChangeBatch> {
  const it = inner[Symbol.asyncIterator]();
  try {
    for (;;) {
      const started = performance.now();
      const next = await it.next();
      add(performance.now() - started);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await it.return?.();
  }
}
