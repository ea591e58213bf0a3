import { describe, expect, it } from 'vitest';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { PipelineStatus } from '../../../src/pipeline/pipeline-events.js';
import type { Source } from '../../../src/pipeline/source.js';
import { itemsBatch } from '../../support/batches.js';
import { ScriptedSource } from '../../support/scripted-source.js';

const ins = (id: number, lsn: bigint) => ({ id, label: `v${id}`, op: ChangeOp.Insert, lsn });
const batches = () => [1, 2, 3].map((n) => itemsBatch([ins(n, BigInt(n * 100))]));

/** A destination whose writes never finish until aborted. */
function hanging(): Destination & { started: () => number } {
  let started = 0;
  return {
    name: 'hanging',
    started: () => started,
    write: (_batch, { signal }) => {
      started++;
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    },
    close: async () => {},
  };
}

async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('stop() with writes in flight', () => {
  for (const [label, opts] of [
    ['drain: false aborts them', { drain: false }],
    ['a drain that times out aborts them', { timeoutMs: 50 }],
  ] as const) {
    it(`${label}: the pipeline ends stopped (not failed), nothing unwritten is confirmed`, async () => {
      const source = new ScriptedSource(batches());
      const dest = hanging();
      const p = new Pipeline({ name: 'p' }).from(source).to(dest);
      const statuses: PipelineStatus[] = [];
      const fatal: string[] = [];
      p.on('state', (s) => statuses.push(s.status));
      p.on('error', (e) => e.fatal && fatal.push(e.error.toString()));
      await p.start();
      await until(() => dest.started() === 1);
      await p.stop(opts);
      await p.wait();
      expect(p.status).toBe('stopped');
      expect(statuses.at(-1)).toBe('stopped');
      expect(fatal).toEqual([]);
      expect(source.confirmed).toEqual([]);
      expect(source.closed).toBe(1);
    });
  }
});

describe('stop() with a source that does not end when told to', () => {
  it('returns once the stop timeout has passed, and the source is closed', async () => {
    let closed = 0;
    const stuck: Source = {
      name: 'stuck',
      // Ignores ctx.signal: its next() never settles (like a connect() that end() interrupted).
      open: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise<never>(() => {}) }) }),
      confirm: async () => {},
      close: async () => {
        closed++;
      },
    };
    const p = new Pipeline({ name: 'p', stopTimeoutMs: 100 }).from(stuck).to(hanging());
    await p.start();
    const outcome = await Promise.race([
      p.stop().then(() => 'stopped'),
      new Promise((r) => setTimeout(() => r('still stopping after 5 s'), 5_000).unref()),
    ]);
    expect(outcome).toBe('stopped');
    expect(p.status).toBe('stopped');
    expect(closed).toBe(1);
  });
});
