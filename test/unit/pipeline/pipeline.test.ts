import { describe, expect, it } from 'vitest';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import { EtlError } from '../../../src/errors.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { faultInjecting } from '../../../src/testing/fault-injecting-destination.js';
import { itemsBatch } from '../../support/batches.js';
import { ScriptedSource } from '../../support/scripted-source.js';

/** Records the commit LSN and ids of every batch it makes "durable". */
function recording(name = 'rec', delayMs = 0) {
  const written: { commitLsn: bigint; ids: number[] }[] = [];
  let closed = 0;
  let open = 0;
  const dest: Destination & { written: typeof written; closed: () => number; opened: () => number } = {
    name,
    written,
    closed: () => closed,
    opened: () => open,
    async open() {
      open++;
    },
    async write(batch: ChangeBatch) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const ids: number[] = [];
      for (const e of batch.rowEntries()) {
        const col = e.data.getChild('id')!;
        for (let i = 0; i < e.data.numRows; i++) ids.push(col.get(i) as number);
      }
      written.push({ commitLsn: batch.commitLsn, ids });
    },
    async close() {
      closed++;
    },
  };
  return dest;
}

const ins = (id: number, lsn: bigint) => ({ id, label: `v${id}`, op: ChangeOp.Insert, lsn });
const fiveBatches = () =>
  [1, 2, 3, 4, 5].map((n) => itemsBatch([ins(n * 10, BigInt(n * 100)), ins(n * 10 + 1, BigInt(n * 100))]));

async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Pipeline builder', () => {
  it('validates options up front and names the field', () => {
    expect(() => new Pipeline({ name: 'bad name!' })).toThrowError(/`name`/);
    expect(() => new Pipeline({ name: 'p', batch: { maxRows: 0 } })).toThrowError(/`batch.maxRows`/);
    expect(() => new Pipeline({ name: 'p', maxInFlight: 1.5 })).toThrowError(/`maxInFlight`/);
    expect(() => new Pipeline({ name: 'p' }).to(recording('a'), recording('a'))).toThrowError(/named "a"/);
    const src = new ScriptedSource([]);
    expect(() => new Pipeline({ name: 'p' }).from(src).from(src)).toThrowError(/exactly one source/);
  });

  it('refuses to start without a source or destination, and refuses a second start', async () => {
    await expect(new Pipeline({ name: 'p' }).to(recording()).start()).rejects.toThrowError(/no source/);
    await expect(new Pipeline({ name: 'p' }).from(new ScriptedSource([])).start()).rejects.toThrowError(
      /no destination/,
    );
    const p = new Pipeline({ name: 'p' }).from(new ScriptedSource([])).to(recording());
    await p.start();
    await expect(p.start()).rejects.toMatchObject({ code: 'LIFECYCLE' });
    await p.stop();
  });
});

describe('Pipeline run', () => {
  it('writes every batch, then confirms each checkpoint in order, only after it is durable', async () => {
    const batches = fiveBatches();
    const source = new ScriptedSource(batches);
    const dest = recording('rec', 5);
    source.onConfirm = (c) => {
      // At the instant of a confirmation the destination holds that batch.
      expect(dest.written.map((w) => w.commitLsn)).toContain(c.commitLsn);
    };
    const p = new Pipeline({ name: 'p' }).from(source).to(dest);
    await p.start();
    await until(() => source.confirmed.length === 5);
    await p.stop();
    expect(dest.written.map((w) => w.ids)).toEqual([
      [10, 11],
      [20, 21],
      [30, 31],
      [40, 41],
      [50, 51],
    ]);
    expect(source.confirmed.map((c) => c.lsn)).toEqual(batches.map((b) => b.checkpoint.lsn));
    expect(p.confirmedLsn).toBe(501n);
    expect(dest.opened()).toBe(1);
    expect(dest.closed()).toBe(1);
    expect(source.closed).toBe(1);
    expect(p.status).toBe('stopped');
  });

  it('keeps at most maxInFlight batches pulled but unconfirmed (backpressure)', async () => {
    const source = new ScriptedSource(fiveBatches());
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: Destination = { name: 'slow', write: () => gate, close: async () => {} };
    const p = new Pipeline({ name: 'p', maxInFlight: 2 }).from(source).to(slow);
    await p.start();
    await new Promise((r) => setTimeout(r, 100));
    // Two in flight, plus none read ahead: the source was asked for exactly two.
    expect(source.pulled).toBe(2);
    expect(source.confirmed).toEqual([]);
    release();
    await until(() => source.confirmed.length === 5);
    await p.stop();
  });

  it('fans out: a failing destination is retried, the other is not duplicated, the slot waits for the slower', async () => {
    const source = new ScriptedSource(fiveBatches());
    const good = recording('good');
    const flakyInner = recording('flaky');
    const flaky = faultInjecting(flakyInner, { failWrites: [2, 3, 4], when: 'before' });
    source.onConfirm = (c) => {
      expect(flakyInner.written.map((w) => w.commitLsn)).toContain(c.commitLsn);
      expect(good.written.map((w) => w.commitLsn)).toContain(c.commitLsn);
    };
    const errors: string[] = [];
    const p = new Pipeline({ name: 'p', retry: { initialDelayMs: 1, maxDelayMs: 5 } })
      .from(source)
      .to(good, flaky);
    p.on('error', (e) => errors.push(`${e.fatal}:${e.component}`));
    await p.start();
    await until(() => source.confirmed.length === 5);
    await p.stop();
    const expected = [
      [10, 11],
      [20, 21],
      [30, 31],
      [40, 41],
      [50, 51],
    ];
    expect(good.written.map((w) => w.ids)).toEqual(expected);
    expect(flakyInner.written.map((w) => w.ids)).toEqual(expected);
    expect(flaky.failures).toBe(3);
    expect(errors.filter((e) => e.startsWith('false:destination:flaky'))).toHaveLength(3);
  });

  it('skips what a destination already applied (its watermark) after a restart', async () => {
    const applied = recording('wm');
    const withWatermark: Destination = { ...applied, committedLsn: async () => 300n };
    const source = new ScriptedSource(fiveBatches());
    const p = new Pipeline({ name: 'p' }).from(source).to(withWatermark);
    await p.start();
    await until(() => source.confirmed.length === 5);
    await p.stop();
    expect(applied.written.map((w) => w.ids)).toEqual([
      [40, 41],
      [50, 51],
    ]);
    expect(source.confirmed).toHaveLength(5);
  });

  it('a fatal destination error stops the pipeline: wait() rejects with it, nothing after it is confirmed', async () => {
    const source = new ScriptedSource(fiveBatches());
    const broken = faultInjecting(recording('broken'), { failWrites: [3], retryable: false });
    const p = new Pipeline({ name: 'p' }).from(source).to(broken);
    const fatal: EtlError[] = [];
    p.on('error', (e) => e.fatal && fatal.push(e.error));
    await p.start();
    await expect(p.wait()).rejects.toMatchObject({
      code: 'DESTINATION',
      message: /Injected failure of write #3/,
    });
    expect(source.confirmed.map((c) => c.commitLsn)).toEqual([100n, 200n]);
    expect(fatal).toHaveLength(1);
    expect(p.status).toBe('failed');
    expect(source.closed).toBe(1);
  });

  it('an unheard error event never crashes the host, and a throwing listener is reported', async () => {
    const source = new ScriptedSource(fiveBatches());
    const p = new Pipeline({ name: 'p' }).from(source).to(recording());
    const reported: string[] = [];
    p.on('commit', () => {
      throw new Error('listener bug');
    });
    p.on('error', (e) => reported.push(e.component));
    await p.start();
    await until(() => source.confirmed.length === 5);
    await p.stop();
    expect(reported.filter((c) => c === 'listener')).toHaveLength(5);
    const q = new Pipeline({ name: 'q' })
      .from(new ScriptedSource(fiveBatches()))
      .to(faultInjecting(recording(), { failWrites: [1], retryable: false }));
    await q.start();
    await expect(q.wait()).rejects.toBeInstanceOf(EtlError);
  });

  it('stop() during a busy stream returns in bounded time and leaves no timer or handle', async () => {
    const before = new Set(process.getActiveResourcesInfo());
    const many = Array.from({ length: 200 }, (_, n) => itemsBatch([ins(n, BigInt(n + 1) * 10n)]));
    const source = new ScriptedSource(many);
    const p = new Pipeline({ name: 'p' }).from(source).to(recording('r', 2));
    await p.start();
    await until(() => source.confirmed.length >= 3);
    const t0 = Date.now();
    await p.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
    // Everything written was confirmed: the last confirmation is the last batch written.
    expect(source.confirmed.length).toBe(source.pulled);
    await new Promise((r) => setImmediate(r));
    const leaked = process.getActiveResourcesInfo().filter((r) => !before.has(r) && r !== 'TTYWrap');
    expect(leaked.filter((r) => r === 'Timeout')).toEqual([]);
  });

  it('stops when its signal aborts, and works with await using', async () => {
    const ac = new AbortController();
    const source = new ScriptedSource(fiveBatches());
    {
      await using p = new Pipeline({ name: 'p', signal: ac.signal }).from(source).to(recording());
      await p.start();
      await until(() => source.confirmed.length === 5);
      ac.abort();
      await p.wait();
      expect(p.status).toBe('stopped');
    }
    expect(source.closed).toBe(1);
  });
});

describe('Pipeline circuit breaker', () => {
  it('opens after repeated failures, pauses without dropping or confirming, and closes after a good probe', async () => {
    const source = new ScriptedSource(fiveBatches());
    const inner = recording('sf');
    // Writes 2..5 fail: with a threshold of 3 the circuit opens on the 4th call; the 5th is a failed
    // probe; the 6th probe succeeds.
    const flaky = faultInjecting(inner, { failWrites: [2, 3, 4, 5] });
    const p = new Pipeline({
      name: 'p',
      retry: { initialDelayMs: 1, maxDelayMs: 2 },
      circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 50 },
    })
      .from(source)
      .to(flaky);
    const alerts: string[] = [];
    const states: string[] = [];
    p.on('alert', (a) => alerts.push(`${a.severity}:${a.resolved}`));
    p.on('state', (s) => states.push(s.status));
    await p.start();
    await until(() => source.confirmed.length === 5);
    await p.stop();
    expect(inner.written.map((w) => w.ids)).toEqual([
      [10, 11],
      [20, 21],
      [30, 31],
      [40, 41],
      [50, 51],
    ]);
    expect(flaky.calls).toBe(9);
    expect(alerts).toEqual(['critical:false', 'info:true']);
    expect(states).toContain('paused');
  });
});
