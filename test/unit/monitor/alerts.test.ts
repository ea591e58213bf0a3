import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EtlError } from '../../../src/errors.js';
import { alerts } from '../../../src/monitor/alerts.js';
import { testContext, until, within } from './test-context.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A webhook receiver; `answer` decides the response (or never answers). */
async function receiver(
  answer: (req: IncomingMessage, res: ServerResponse, n: number) => void = (_q, res) =>
    res.writeHead(200).end(),
) {
  const bodies: Record<string, unknown>[] = [];
  const headers: IncomingMessage['headers'][] = [];
  let n = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      headers.push(req.headers);
      answer(req, res, ++n);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/T0K3N`, bodies, headers };
}

const view = { name: 'orders', status: 'streaming' as const, confirmedLsn: undefined };
const warn = { key: 'k1', severity: 'warning' as const, message: 'lag is high', resolved: false };

describe('alerts monitor', () => {
  it('de-duplicates and POSTs raise and resolve notices as JSON, with the host headers', async () => {
    const hook = await receiver();
    const tc = testContext([view]);
    const monitor = alerts({ webhook: { url: hook.url, headers: { authorization: 'Bearer abc' } } });
    const run = monitor.run(tc.ctx);
    tc.ctx.emit('alert', warn);
    tc.ctx.emit('alert', { ...warn, message: 'lag is still high' }); // same key, same severity: dropped
    tc.ctx.emit('alert', { key: 'never-raised', severity: 'info', message: 'fine', resolved: true }); // dropped
    expect(monitor.active().map((a) => a.key)).toEqual(['k1']);
    tc.ctx.emit('alert', { key: 'k1', severity: 'info', message: 'lag ok', resolved: true });
    await until(() => hook.bodies.length === 2);
    expect(hook.bodies[0]).toMatchObject({
      source: 'etl-stream',
      pipelines: ['orders'],
      key: 'k1',
      severity: 'warning',
      message: 'lag is high',
      resolved: false,
    });
    expect(typeof hook.bodies[0]?.at).toBe('string');
    expect(hook.bodies[1]).toMatchObject({ key: 'k1', resolved: true, message: 'lag ok' });
    expect(hook.headers[0]?.authorization).toBe('Bearer abc');
    expect(hook.headers[0]?.['content-type']).toBe('application/json');
    expect(monitor.active()).toEqual([]);
    tc.stop();
    await within(run, 1_000, 'alerts run');
  });

  it('raises an alert on repeated errors and resolves it after a quiet window; a fatal error is critical', async () => {
    const tc = testContext([view]);
    const run = alerts({ errors: { count: 3, windowMs: 200 } }).run(tc.ctx);
    const error = new EtlError('DESTINATION', 'write failed', { retryable: true });
    for (let i = 0; i < 3; i++)
      tc.ctx.emit('error', { error, fatal: false, component: 'destination:wh:attempt 1' });
    const raised = await tc.waitFor('alert', (a) => a.key === 'errors:orders' && !a.resolved, 1_000);
    expect(raised).toMatchObject({ severity: 'warning' });
    expect(raised.message).toMatch(/had 3 errors within 200 ms.*write failed/);
    await tc.waitFor('alert', (a) => a.key === 'errors:orders' && a.resolved, 2_000);
    tc.ctx.emit('error', {
      error: new EtlError('PG_SLOT_INVALID', 'slot gone', { hint: 'drop it' }),
      fatal: true,
      component: 'source',
    });
    const fatal = await tc.waitFor('alert', (a) => a.key === 'fatal:orders', 1_000);
    expect(fatal.severity).toBe('critical');
    expect(fatal.message).toMatch(/stopped on a fatal error in source: slot gone \(hint: drop it\)/);
    tc.stop();
    await within(run, 1_000, 'alerts run');
  });

  it('retries a failing webhook, then reports a non-fatal error that does not leak the URL', async () => {
    const hook = await receiver((_q, res) => res.writeHead(503).end());
    const tc = testContext([view]);
    const run = alerts({ webhook: { url: hook.url, attempts: 2, timeoutMs: 1_000 } }).run(tc.ctx);
    tc.ctx.emit('alert', warn);
    const failed = await tc.waitFor('error', (e) => e.component === 'monitor:alerts', 5_000);
    expect(hook.bodies).toHaveLength(2);
    expect(failed.fatal).toBe(false);
    expect(failed.error.message).toMatch(/answered HTTP 503/);
    expect(failed.error.message).not.toContain('T0K3N');
    // The delivery failure does not feed the repeated-errors rule.
    expect(tc.of('alert').filter((a) => a.key.startsWith('errors:'))).toEqual([]);
    tc.stop();
    await within(run, 1_000, 'alerts run');
  });

  it('stops within the webhook timeout even when the receiver hangs', async () => {
    const hook = await receiver(() => {}); // never answers
    const tc = testContext([view]);
    const run = alerts({ webhook: { url: hook.url, timeoutMs: 300 } }).run(tc.ctx);
    tc.ctx.emit('alert', warn);
    await until(() => hook.bodies.length === 1);
    tc.stop();
    await within(run, 1_000, 'alerts run with a hung webhook');
  });

  it('validates options naming the field, and needs ctx.on', async () => {
    expect(() => alerts({ webhook: { url: 'not a url' } })).toThrowError(/`webhook\.url`/);
    expect(() => alerts({ webhook: { url: 'ftp://x' } })).toThrowError(/`webhook\.url`/);
    expect(() => alerts({ webhook: { url: 'http://x', timeoutMs: 0 } })).toThrowError(/`webhook\.timeoutMs`/);
    expect(() => alerts({ dedupe: { repeatMs: -1 } })).toThrowError(/`dedupe\.repeatMs`/);
    expect(() => alerts({ errors: { count: 0, windowMs: 1 } })).toThrowError(/`errors\.count`/);
    const tc = testContext([view], { withOn: false });
    await expect(alerts().run(tc.ctx)).rejects.toMatchObject({ code: 'LIFECYCLE' });
  });
});
