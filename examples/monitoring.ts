/**
 * A slot watchdog: watches every replication slot on a server, prints alerts,
 * POSTs them to a webhook, and serves /health/live, /health/ready and
 * /metrics on :9464. Runs on its own, without a pipeline, by giving the
 * monitors a small MonitorContext; inside an application the same monitors are
 * simply added to the pipelines:
 *
 *   pipeline.monitor(wal, m, notify, healthServer({ port: 9464, metrics: m }));
 *
 * Run: DATABASE_URL=postgres://... [ALERT_WEBHOOK=https://...] npx tsx examples/monitoring.ts
 * For monitors on a pipeline see examples/monitored-pipeline.ts.
 */

import { alerts, healthServer, type MonitorContext, metrics, walMonitor } from 'etl-stream';
import { EventEmitter } from 'eventemitter3';

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('Set DATABASE_URL to the server to watch.');

const wal = walMonitor({
  targets: [{ connectionString }], // every slot on the server
  intervalMs: 5_000,
  thresholds: { lagBytes: 256 * 1024 ** 2, lagMs: 5 * 60_000, inactiveMs: 10 * 60_000 },
  onLost: 'report',
});
const m = metrics({ wal });
const notify = alerts(process.env.ALERT_WEBHOOK ? { webhook: { url: process.env.ALERT_WEBHOOK } } : {});
const health = healthServer({ port: 9464, metrics: m, lagBytesReady: 256 * 1024 ** 2 });

// The context a pipeline would give its monitors: here one "watchdog" that is always streaming.
const events = new EventEmitter();
const stop = new AbortController();
const ctx: MonitorContext = {
  signal: stop.signal,
  pipelines: () => [{ name: 'watchdog', status: 'streaming', confirmedLsn: undefined }],
  emit: (type, payload) => void events.emit(type, payload),
  on: (type, listener) => {
    events.on(type, listener);
    return () => void events.off(type, listener);
  },
};
ctx.on?.('alert', (a) => console.log(`[${a.resolved ? 'resolved' : a.severity}] ${a.message}`));
ctx.on?.('lag', (l) =>
  console.log(`slot ${l.slot}: ${l.bytes} bytes behind${l.ms === undefined ? '' : `, ${l.ms} ms`}`),
);
ctx.on?.('error', (e) => console.error(e.component, e.error.toString()));

process.once('SIGINT', () => stop.abort());
console.log('Watching slots; health and metrics on http://localhost:9464 (Ctrl-C to stop)');
await Promise.all([wal, m, notify, health].map((monitor) => monitor.run(ctx)));
console.log('Stopped: every connection, timer and socket is closed.');
