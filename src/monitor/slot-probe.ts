import pg from 'pg';
import { EtlError, toEtlError } from '../errors.js';
import { withDeadline } from './deadline.js';
import { type SlotReading, toSlotReading } from './slot-reading.js';
import { SERVER_VERSION_SQL, type SlotRow, slotsSql } from './slot-sql.js';

/** Shows up in `pg_stat_activity`, so a DBA can tell what the connection is. */
const APPLICATION_NAME = 'etl-stream wal monitor';

/**
 * Reads replication slots from one PostgreSQL server over one ordinary
 * (non-replication) connection, kept open between checks and replaced after
 * any failure. Every {@link SlotProbe.read} settles within its `timeoutMs`
 * whatever the server does (a blackholed port included): a connection that
 * did not answer in time is destroyed, not waited for.
 *
 * @example
 * ```ts
 * const probe = new SlotProbe('postgres://monitor@db1:5432/postgres');
 * const slots = await probe.read(['orders'], { timeoutMs: 5_000, signal });
 * await probe.close();
 * ```
 */
export class SlotProbe {
  /** `host:port` of the server, for messages and labels (never credentials). */
  readonly server: string;
  private client: pg.Client | undefined;
  private version: number | undefined;
  private closed = false;

  constructor(private readonly connectionString: string) {
    this.server = serverLabel(connectionString);
  }

  /**
   * The named slots (all slots when `slots` is undefined). Rejects with a
   * retryable `TIMEOUT` or `CONNECTION` error; the next call reconnects.
   */
  read(
    slots: readonly string[] | undefined,
    opts: { readonly timeoutMs: number; readonly signal?: AbortSignal },
  ): Promise<SlotReading[]> {
    if (this.closed) return Promise.reject(new EtlError('LIFECYCLE', 'SlotProbe used after close()'));
    return withDeadline(
      async (signal) => {
        const client = await this.connect(opts.timeoutMs, signal);
        this.version ??= (await client.query<{ version: number }>(SERVER_VERSION_SQL)).rows[0]?.version ?? 0;
        const { rows } = await client.query<SlotRow>(slotsSql(this.version), [slots ? [...slots] : null]);
        const now = Date.now();
        return rows.map((row) => toSlotReading(row, this.server, now));
      },
      { timeoutMs: opts.timeoutMs, what: `Slot check of ${this.server}`, ...optionalSignal(opts.signal) },
    ).catch((err: unknown) => {
      this.discard();
      throw toEtlError(err, 'CONNECTION', `Slot check of ${this.server} failed: ${messageOf(err)}`);
    });
  }

  /** Closes the connection; later reads reject. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => destroy(client));
  }

  private async connect(timeoutMs: number, signal: AbortSignal): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: APPLICATION_NAME,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      keepAlive: true,
    });
    // After connecting, a dropped connection is reported here; the next read reconnects.
    client.on('error', () => {
      if (this.client === client) this.discard();
    });
    const onAbort = () => destroy(client);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await client.connect();
    } catch (err) {
      destroy(client);
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (this.closed) {
      destroy(client);
      throw new EtlError('LIFECYCLE', 'SlotProbe closed while connecting');
    }
    this.client = client;
    this.version = undefined;
    return client;
  }

  private discard(): void {
    const client = this.client;
    this.client = undefined;
    if (client) destroy(client);
  }
}

/** Ends a client at once, whatever state it is in, leaving no socket or timer behind. */
function destroy(client: pg.Client): void {
  void client.end().catch(() => {});
  // A connection that never got an answer (blackholed port) would otherwise wait for the OS timeout.
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * `host:port` from a URL or a `key=value` connection string; credentials never included.
 *
 * @example
 * ```ts
 * serverLabel('postgres://etl:pw@db1:6543/app'); // 'db1:6543'
 * ```
 */
export function serverLabel(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.hostname) return `${url.hostname}:${url.port || '5432'}`;
  } catch {}
  const host = /(?:^|\s)host=([^\s]+)/.exec(connectionString)?.[1] ?? 'localhost';
  const port = /(?:^|\s)port=(\d+)/.exec(connectionString)?.[1] ?? '5432';
  return `${host}:${port}`;
}

function optionalSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
