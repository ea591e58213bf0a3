import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configError, EtlError } from '../errors.js';
import { HealthHandler, type HealthOptions, type HealthReport } from './health-handler.js';
import type { Monitor, MonitorContext } from './monitor.js';
import { SharedRun } from './shared-run.js';

/** Options of {@link healthServer}. */
export interface HealthServerOptions extends HealthOptions {
  /** TCP port; `0` picks a free one (see {@link HealthServer.listening}). */
  readonly port: number;
  /** Interface to listen on; every interface when omitted (probes come from outside the process's host). */
  readonly host?: string;
}

/** Probes and scrapes are short; a connection idle this long is closed. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** A request that has not arrived whole by then is a stuck or hostile client. */
const REQUEST_TIMEOUT_MS = 10_000;
/** On stop, requests in progress get this long before their connections are cut. */
const CLOSE_GRACE_MS = 1_000;

/**
 * A small HTTP server with the {@link HealthHandler} routes (`/health/live`,
 * `/health/ready`, `/health`, and `/metrics` when a metrics monitor is
 * given). It listens while at least one pipeline it was added to runs (one
 * server, however many pipelines) and closes, connections included, when the
 * last one stops, so it never keeps the process alive. `run` rejects when the
 * port cannot be opened.
 *
 * @example
 * ```ts
 * const m = metrics();
 * pipeline.monitor(m, healthServer({ port: 9464, lagBytesReady: 64 * 1024 ** 2, metrics: m }));
 * // curl localhost:9464/health/ready
 * ```
 */
export class HealthServer implements Monitor {
  readonly name = 'health-server';
  private readonly handler: HealthHandler;
  private readonly port: number;
  private readonly host: string | undefined;
  private readonly shared = new SharedRun((signal) => this.serve(signal));
  private address: AddressInfo | undefined;
  private waiters: ((a: AddressInfo) => void)[] = [];

  constructor(options: HealthServerOptions) {
    if (options === null || typeof options !== 'object')
      throw configError('healthServer', 'expected { port }');
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
      throw configError('port', `must be an integer from 0 to 65535, got ${String(options.port)}`);
    }
    if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) {
      throw configError('host', 'expected a host name or address');
    }
    this.handler = new HealthHandler(options, 'healthServer');
    this.port = options.port;
    this.host = options.host;
  }

  /** Serves while `ctx`'s pipelines run. */
  async run(ctx: MonitorContext): Promise<void> {
    await Promise.all([this.shared.attach(ctx), this.handler.run(ctx)]);
  }

  /** Resolves with the bound address once the server listens (useful with `port: 0`). */
  listening(): Promise<AddressInfo> {
    if (this.address) return Promise.resolve(this.address);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The report the endpoints serve. */
  report(): HealthReport {
    return this.handler.report();
  }

  private async serve(signal: AbortSignal): Promise<void> {
    const server = createServer(this.handler.handle);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new EtlError(
            'CONFIG_INVALID',
            `Health server cannot listen on ${this.host ?? '*'}:${this.port}: ${err.message}`,
            {
              hint: 'Change `port` (or `host`): another process may be using it.',
              cause: err,
            },
          ),
        ),
      );
      server.listen(this.port, this.host, () => resolve());
    });
    this.address = server.address() as AddressInfo;
    for (const w of this.waiters.splice(0)) w(this.address);
    try {
      if (!signal.aborted) {
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
    } finally {
      this.address = undefined;
      await close(server);
    }
  }
}

/** Stops accepting, closes idle keep-alive sockets at once and busy ones after a grace period. */
function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * Creates a {@link HealthServer}. Options are validated here, naming the field.
 *
 * @example
 * ```ts
 * pipeline.monitor(healthServer({ port: 8080, host: '0.0.0.0' }));
 * ```
 */
export function healthServer(options: HealthServerOptions): HealthServer {
  return new HealthServer(options);
}
