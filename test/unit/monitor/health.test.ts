import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ChangeOp } from '../../../src/change/metadata-columns.js';
import { EtlError } from '../../../src/errors.js';
import { type HealthReport, healthHandler } from '../../../src/monitor/health-handler.js';
import { healthServer } from '../../../src/monitor/health-server.js';
import { metrics } from '../../../src/monitor/metrics.js';
import type { Destination } from '../../../src/pipeline/destination.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { itemsBatch } from '../../support/batches.js';
import { PushSource } from './runtime-source.js';
import { testContext, until, within } from './test-context.js';

const ins = (id: number, lsn: bigint) => ({ id, label: `v${id}`, op: ChangeOp.Insert, lsn });

/** Fails every write (retryably) while `broken` is set. */
function breakable(): Destination & { broken: boolean } {
  return {
    name: 'breakable',
    broken: false,
    async write() {
      if (this.broken) throw new EtlError('DESTINATION', 'target down', { retryable: true });
    },
    async close() {},
  };
}

async function get(url: string): Promise<{ status: number; body: HealthReport }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as HealthReport };
}

describe('health endpoint', () => {
  it('on a real pipeline: not ready while snapshotting, ready when streaming, not ready when the circuit opens', async () => {
    const source = new PushSource();
    const dest = breakable();
    const health = healthServer({ port: 0, host: '127.0.0.1' });
    const pipeline = new Pipeline({
      name: 'orders',
      retry: { initialDelayMs: 5, maxDelayMs: 10 },
      circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 },
    })
      .from(source)
      .to(dest)
      .monitor(health);
    await pipeline.start();
    const base = `http://127.0.0.1:${(await health.listening()).port}`;

    const starting = await get(`${base}/health/ready`);
    expect(starting.status).toBe(503);
    expect(starting.body.pipelines[0]?.reasons).toEqual(['status is snapshotting, not streaming']);

    source.push(itemsBatch([ins(1, 100n)]));
    await until(async () => (await get(`${base}/health/ready`)).status === 200, 5_000, 'ready');
    expect((await get(`${base}/health`)).body).toMatchObject({
      ready: true,
      live: true,
      pipelines: [{ name: 'orders', status: 'streaming', confirmedLsn: '0/65' }],
    });

    dest.broken = true;
    source.push(itemsBatch([ins(2, 200n)]));
    await until(() => pipeline.circuitOpen, 5_000, 'circuit open');
    const open = await get(`${base}/health/ready`);
    expect(open.status).toBe(503);
    expect(open.body.pipelines[0]).toMatchObject({ status: 'paused', circuitOpen: true });
    expect(open.body.pipelines[0]?.reasons).toContain('a destination circuit is open: writes keep failing');
    expect((await get(`${base}/health/live`)).status).toBe(200); // paused is alive: restarting would not help

    await within(pipeline.stop({ drain: false }), 5_000, 'pipeline stop');
    await expect(fetch(`${base}/health/live`)).rejects.toThrow(); // closed with the pipeline
  });

  it('one server for several pipelines: closes when the last stops; a failed pipeline is not live', async () => {
    const health = healthServer({ port: 0, host: '127.0.0.1' });
    const a = testContext([{ name: 'a', status: 'streaming', confirmedLsn: undefined }]);
    const b = testContext([{ name: 'b', status: 'streaming', confirmedLsn: undefined }]);
    const runs = [health.run(a.ctx), health.run(b.ctx)];
    const base = `http://127.0.0.1:${(await health.listening()).port}`;
    expect((await get(`${base}/health/ready`)).body.pipelines.map((p) => p.name)).toEqual(['a', 'b']);
    b.ctx.emit('lag', { slot: 'b', bytes: 10n * 1024n ** 3n });
    const lagging = await get(`${base}/health/ready`);
    expect(lagging.status).toBe(503);
    expect(lagging.body.pipelines[1]?.reasons).toEqual(['slot "b" lags 10.0 GB (ready under 256.0 MB)']);
    // `a` fails and stops; the server stays up for `b`, and reports `a` as not live.
    a.views = [{ name: 'a', status: 'failed', confirmedLsn: undefined }];
    a.stop();
    await within(runs[0]!, 1_000, 'first run');
    const afterFail = await get(`${base}/health/live`);
    expect(afterFail.status).toBe(503);
    expect(afterFail.body.pipelines.map((p) => p.name)).toEqual(['a', 'b']);
    b.stop();
    await within(runs[1]!, 2_000, 'last run');
    await expect(fetch(`${base}/health/live`)).rejects.toThrow();
  });

  it('a handler the host mounts, with /metrics, 404 and 405', async () => {
    const m = metrics();
    const health = healthHandler({ metrics: m, lagBytesReady: 1000 });
    const tc = testContext([{ name: 'p', status: 'streaming', confirmedLsn: 0x10n }]);
    const runs = [health.run(tc.ctx), m.run(tc.ctx)];
    const server = createServer((req, res) => health.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${base}/health/ready`)).status).toBe(200);
      const scrape = await fetch(`${base}/metrics`);
      expect(scrape.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await scrape.text()).toContain('etl_stream_pipeline_status{pipeline="p",status="streaming"} 1');
      expect((await fetch(`${base}/nope`)).status).toBe(404);
      expect((await fetch(`${base}/health`, { method: 'POST' })).status).toBe(405);
      tc.ctx.emit('lag', { slot: 'p', bytes: 1001n });
      expect((await fetch(`${base}/health/ready`)).status).toBe(503);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      tc.stop();
      await within(Promise.all(runs), 1_000, 'runs');
    }
  });

  it('validates options naming the field, and rejects run when the port is taken', async () => {
    expect(() => healthServer({ port: -1 })).toThrowError(/`port`/);
    expect(() => healthServer({ port: 1, lagBytesReady: Number.NaN })).toThrowError(/`lagBytesReady`/);
    const first = healthServer({ port: 0, host: '127.0.0.1' });
    const a = testContext([{ name: 'a', status: 'streaming', confirmedLsn: undefined }]);
    const run = first.run(a.ctx);
    const { port } = await first.listening();
    const b = testContext([{ name: 'b', status: 'streaming', confirmedLsn: undefined }]);
    const clash = healthServer({ port, host: '127.0.0.1' }).run(b.ctx);
    await expect(clash).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/cannot listen/),
    });
    a.stop();
    b.stop();
    await within(run, 2_000, 'run');
  });
});
