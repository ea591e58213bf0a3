import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import { EtlError } from '../../../src/errors.js';
import { metrics } from '../../../src/monitor/metrics.js';
import type { MonitorContext } from '../../../src/monitor/monitor.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { itemsBatch } from '../../support/batches.js';
import { PushSource } from './runtime-source.js';
import { testContext, until, within } from './test-context.js';

/** The context the runtime gives monitors once it passes `on` (see the report to the pipeline owner). */
function contextOf(p: Pipeline, signal: AbortSignal): MonitorContext {
  return {
    signal,
    pipelines: () => [
      { name: p.name, status: p.status, confirmedLsn: p.confirmedLsn, circuitOpen: p.circuitOpen },
    ],
    emit: () => {},
    on: (type, listener) => p.on(type, listener),
  };
}

const ins = (id: number, lsn: bigint) => ({ id, label: `v${id}`, op: ChangeOp.Insert, lsn });
const slowDestination: Destination = {
  name: 'slow',
  async write() {
    await new Promise((r) => setTimeout(r, 20));
  },
  async close() {},
};

/** Value of one sample line, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics monitor', () => {
  it('counts what a real pipeline commits, in the host registry, under the documented names', async () => {
    const registry = new Registry();
    const m = metrics({ registry });
    const source = new PushSource();
    const pipeline = new Pipeline({ name: 'orders' }).from(source).to(slowDestination);
    const stop = new AbortController();
    await pipeline.start();
    const run = m.run(contextOf(pipeline, stop.signal));
    source.push(itemsBatch([ins(1, 100n), ins(2, 100n), ins(3, 200n)]), itemsBatch([ins(4, 300n)]));
    await until(() => source.confirmed.length === 2);

    const text = await registry.metrics();
    expect(sample(text, 'etl_stream_rows_total{pipeline="orders"}')).toBe(4);
    expect(sample(text, 'etl_stream_batches_total{pipeline="orders"}')).toBe(2);
    expect(sample(text, 'etl_stream_transactions_total{pipeline="orders"}')).toBe(3);
    expect(sample(text, 'etl_stream_bytes_total{pipeline="orders"}')).toBeGreaterThan(0);
    expect(sample(text, 'etl_stream_batch_latency_seconds_count{pipeline="orders"}')).toBe(2);
    const sum = sample(text, 'etl_stream_batch_latency_seconds_sum{pipeline="orders"}')!;
    expect(sum).toBeGreaterThanOrEqual(0.03); // two writes of >= 20 ms, in seconds
    expect(sum).toBeLessThan(5);
    expect(sample(text, 'etl_stream_pipeline_status{pipeline="orders",status="streaming"}')).toBe(1);
    expect(sample(text, 'etl_stream_pipeline_status{pipeline="orders",status="failed"}')).toBe(0);
    expect(sample(text, 'etl_stream_circuit_open{pipeline="orders"}')).toBe(0);

    // Every series in docs/metrics.md is registered, and nothing undocumented.
    const documented = [
      ...readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8').matchAll(
        /^\| `(etl_stream_[a-z_]+)`/gm,
      ),
    ].map((x) => x[1]);
    const exported = [...text.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]);
    expect(exported.sort()).toEqual(documented.sort());

    // Like the runtime: monitors end first, the final status is set after.
    stop.abort();
    await within(run, 1_000, 'metrics run');
    await pipeline.stop();
    // A stopped pipeline's final status stays visible.
    expect(
      sample(await registry.metrics(), 'etl_stream_pipeline_status{pipeline="orders",status="stopped"}'),
    ).toBe(1);
  });

  it('counts errors and retries by component without attempt numbers, lag per slot, and snapshot progress', async () => {
    const m = metrics({ prefix: 'etl_' });
    const tc = testContext([{ name: 'p', status: 'snapshotting', confirmedLsn: undefined }]);
    const run = m.run(tc.ctx);
    const error = new EtlError('DESTINATION', 'boom', { retryable: true });
    await m.load();
    tc.ctx.emit('error', { error, fatal: false, component: 'destination:sf:attempt 1' });
    tc.ctx.emit('error', { error, fatal: false, component: 'destination:sf:attempt 2' });
    tc.ctx.emit('error', { error, fatal: true, component: 'destination:sf' });
    tc.ctx.emit('lag', { slot: 'p', bytes: 123_456_789n, ms: 1_500 });
    tc.ctx.emit('snapshot:progress', { table: 'public.items', rows: 5000, done: false });
    tc.ctx.emit('alert', { key: 'x', severity: 'critical', message: 'x', resolved: false });
    const { contentType, body } = await m.scrape();
    expect(contentType).toMatch(/^text\/plain/);
    expect(
      sample(
        body,
        'etl_errors_total{pipeline="p",component="destination:sf",code="DESTINATION",fatal="false"}',
      ),
    ).toBe(2);
    expect(
      sample(
        body,
        'etl_errors_total{pipeline="p",component="destination:sf",code="DESTINATION",fatal="true"}',
      ),
    ).toBe(1);
    expect(sample(body, 'etl_retries_total{pipeline="p",component="destination:sf"}')).toBe(2);
    expect(sample(body, 'etl_lag_bytes{pipeline="p",slot="p"}')).toBe(123_456_789);
    expect(sample(body, 'etl_lag_seconds{pipeline="p",slot="p"}')).toBe(1.5);
    expect(sample(body, 'etl_snapshot_rows{pipeline="p",table="public.items"}')).toBe(5000);
    expect(sample(body, 'etl_snapshot_table_done{pipeline="p",table="public.items"}')).toBe(0);
    expect(sample(body, 'etl_alerts_total{pipeline="p",severity="critical"}')).toBe(1);
    tc.stop();
    await within(run, 1_000, 'metrics run');
  });

  it('validates options naming the field, and explains a missing registry', () => {
    expect(() => metrics({ prefix: 'bad-prefix' })).toThrowError(/`prefix`/);
    expect(() => metrics({ registry: {} as Registry })).toThrowError(/`registry`/);
    expect(() => metrics().registry).toThrowError(/created on first use/);
  });

  it('without ctx.on, reports once and still exports status series', async () => {
    const m = metrics();
    const tc = testContext([{ name: 'q', status: 'streaming', confirmedLsn: undefined }], { withOn: false });
    const run = m.run(tc.ctx);
    await until(() => tc.of('error').length === 1);
    expect(tc.of('error')[0]).toMatchObject({
      fatal: false,
      component: 'monitor:metrics',
      error: { code: 'LIFECYCLE' },
    });
    expect(
      sample((await m.scrape()).body, 'etl_stream_pipeline_status{pipeline="q",status="streaming"}'),
    ).toBe(1);
    tc.stop();
    await within(run, 1_000, 'metrics run');
  });
});
