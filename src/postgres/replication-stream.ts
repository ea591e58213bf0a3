/**
 * The walsender connection: replication commands, then one CopyBoth stream.
 *
 * Built on `pg`'s own replication connection rather than on
 * `pg-logical-replication`, whose semantics lose data: its keepalive timer
 * acknowledges the last *received* LSN even with `auto: false`; after a
 * handler error in flow-control mode the next ack skips past the failed
 * message; it acks every message at LSN+1 instead of at commit ends; its
 * Postgres-epoch constant is seven days off; and its pgoutput parser throws
 * on protocol v2+ messages. Here the flush LSN is only ever what
 * {@link StandbyPositions} holds as confirmed.
 */
import pg from 'pg';
import { abortError } from '../async/abortable-sleep.js';
import { EtlError, toEtlError } from '../errors.js';
import type { Lsn } from '../lsn.js';
import { LOST_SLOT_STEPS } from './slot.js';
import { WAL_SENDER_TIMEOUT_COMMAND } from './sql.js';
import { sqlStateOf } from './sql-state.js';
import type { StandbyPositions } from './standby-status.js';

/** Used when the server disables `wal_sender_timeout` (0): still notice a dead peer within a minute. */
const FALLBACK_WATCHDOG_MS = 60_000;
/** Replying three times per `wal_sender_timeout` survives one lost or late update. */
const STATUS_UPDATES_PER_TIMEOUT = 3;
/** How long close() waits for the server to acknowledge the end of the stream. */
const CLOSE_GRACE_MS = 2_000;
/** XLogData header: 'w', start LSN, end LSN, send time. */
const XLOG_DATA_HEADER_BYTES = 25;
/**
 * After this many bytes handled without a break, reading pauses until the
 * next turn of the event loop. libuv reads a busy socket up to 32 times per
 * turn, 64 KiB each: 2 MiB of rows decoded in one go would hold timers and
 * other I/O of the host application for tens of milliseconds.
 */
const YIELD_AFTER_BYTES = 256 * 1024;
/**
 * Confirmations closer together than this share one status update. At
 * thousands of small transactions a second, an update per confirmed batch
 * costs more CPU than decoding them; the slot still moves within this delay.
 */
const STATUS_COALESCE_MS = 50;

/** What the stream reports to its owner. All callbacks run synchronously, in stream order. */
export interface ReplicationStreamHandlers {
  /** One XLogData message: the pgoutput message (from its type byte) and its WAL start. */
  onData(payload: Buffer, walStart: Lsn): void;
  /**
   * A primary keepalive at `walEnd`. Return true when the owner confirmed a
   * new position (the idle rule), so a status update goes out now.
   */
  onKeepalive(walEnd: Lsn): boolean;
  /** The stream ended: `error` undefined when closed by us, else why it broke (retryable or not). */
  onEnd(error: EtlError | undefined): void;
}

/** Options of a {@link ReplicationStream}. */
export interface ReplicationStreamOptions {
  readonly connectionString: string;
  /** Positions to report; the flush LSN sent is always `positions.confirmed`. */
  readonly positions: StandbyPositions;
  /** Send a status update at least this often (capped at a third of `wal_sender_timeout`). */
  readonly statusIntervalMs: number;
}

interface RawConnection {
  stream: { pause(): void; resume(): void; writable: boolean; isPaused?(): boolean };
  sendCopyFromChunk(chunk: Buffer): void;
  on(event: 'copyData', listener: (msg: { chunk: Buffer }) => void): void;
}

/** Parses a `wal_sender_timeout` setting (`60s`, `500ms`, `1min`, `0`) into milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(text);
  if (!m) return FALLBACK_WATCHDOG_MS;
  const unit = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms'] ?? 1;
  return Number(m[1]) * unit;
}

/**
 * One walsender connection (`replication=database`). Before streaming it runs
 * replication commands ({@link ReplicationStream.command}: slot creation,
 * IDENTIFY_SYSTEM); {@link ReplicationStream.start} then enters CopyBoth and
 * delivers XLogData and keepalives to the handlers until the stream ends.
 *
 * While streaming it answers keepalives that request a reply at once and
 * sends a status update at least every `statusIntervalMs`, also while
 * paused — the walsender tolerates a client that does not read (its sends
 * block on TCP) as long as replies keep arriving. A watchdog derived from
 * `wal_sender_timeout` ends the stream with a retryable `CONNECTION` error
 * when the server goes silent while we are reading (it asks for a reply
 * first, so a quiet but healthy server always answers).
 *
 * @example
 * ```ts
 * const stream = new ReplicationStream({ connectionString, positions, statusIntervalMs: 10_000 });
 * await stream.connect({ signal });
 * stream.start('START_REPLICATION SLOT "s" LOGICAL 0/0 (...)', handlers);
 * stream.pause(); // backpressure: stop reading the socket
 * await stream.close();
 * ```
 */
export class ReplicationStream {
  readonly #opts: ReplicationStreamOptions;
  readonly #client: pg.Client;
  #handlers: ReplicationStreamHandlers | undefined;
  #timer: NodeJS.Timeout | undefined;
  #paused = false;
  #ended = false;
  #closing = false;
  /** Settles when the CopyBoth query ends (either way). */
  #copy: Promise<void> | undefined;
  /** Closing: what still arrives is read and dropped. */
  #draining = false;
  #lastReceivedAtMs = 0;
  /** Something arrived since the last tick (cheaper than reading the clock per message). */
  #receivedSinceTick = false;
  #bytesSinceYield = 0;
  /** Reading is paused until the next turn of the event loop (see {@link YIELD_AFTER_BYTES}). */
  #yielding = false;
  #watchdogMs = FALLBACK_WATCHDOG_MS;
  #statusIntervalMs: number;

  constructor(opts: ReplicationStreamOptions) {
    this.#opts = opts;
    this.#statusIntervalMs = opts.statusIntervalMs;
    this.#client = new pg.Client({
      connectionString: opts.connectionString,
      replication: 'database',
      keepAlive: true,
    } as pg.ClientConfig);
    // Socket errors also reject the active query, which ends the stream; never crash the host.
    this.#client.on('error', () => {});
  }

  get #connection(): RawConnection {
    return (this.#client as unknown as { connection: RawConnection }).connection;
  }

  /** Opens the connection. Rejects with a retryable `CONNECTION` error when the server cannot be reached. */
  async connect(opts: { signal: AbortSignal }): Promise<void> {
    if (opts.signal.aborted) throw abortError(opts.signal);
    // pg's end() during connect() leaves connect()'s promise pending for ever: settle on abort here.
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        void this.#client.end().catch(() => {});
        reject(abortError(opts.signal));
      };
    });
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const connecting = this.#client.connect();
    connecting.catch(() => {}); // after an abort nobody waits for it
    try {
      await Promise.race([connecting, aborted]);
    } catch (err) {
      if (opts.signal.aborted) throw abortError(opts.signal);
      const code = sqlStateOf(err);
      // Bad credentials, a missing database or role: retrying cannot help.
      const permanent = code !== undefined && /^(28|3D)/.test(code);
      throw new EtlError('CONNECTION', `Could not open a replication connection: ${(err as Error).message}`, {
        cause: err,
        retryable: !permanent,
        hint: permanent ? 'Check the user, password and database in `connectionString`.' : undefined,
      });
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Runs one replication command (before {@link ReplicationStream.start}) and returns its rows. */
  async command<R extends Record<string, unknown>>(text: string): Promise<R[]> {
    const result = await this.#client.query(text);
    return result.rows as R[];
  }

  /**
   * Enters CopyBoth with `startCommand` (START_REPLICATION) and streams until
   * the server ends, the connection breaks, the watchdog fires or
   * {@link ReplicationStream.close} is called; then calls `handlers.onEnd` once.
   */
  async start(startCommand: string, handlers: ReplicationStreamHandlers): Promise<void> {
    const [row] = await this.command<{ wal_sender_timeout: string }>(WAL_SENDER_TIMEOUT_COMMAND);
    const timeoutMs = parseDurationMs(row?.wal_sender_timeout ?? '60s');
    if (timeoutMs > 0) {
      this.#statusIntervalMs = Math.min(this.#statusIntervalMs, timeoutMs / STATUS_UPDATES_PER_TIMEOUT);
      this.#watchdogMs = Math.max(timeoutMs, 2 * this.#statusIntervalMs);
    }
    this.#handlers = handlers;
    this.#lastReceivedAtMs = Date.now();
    this.#connection.on('copyData', (msg) => this.#onCopyData(msg.chunk));
    this.#copy = this.#client.query(startCommand).then(
      () =>
        this.#end(
          this.#closing
            ? undefined
            : new EtlError('CONNECTION', 'The server ended the replication stream', { retryable: true }),
        ),
      (err: unknown) => this.#end(this.#closing ? undefined : streamError(err)),
    );
    this.#timer = setInterval(() => this.#tick(), Math.max(50, Math.floor(this.#statusIntervalMs / 2)));
  }

  /** Whether reading is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Stops reading the socket (backpressure). Status updates keep going out.
   * Only while streaming: before {@link ReplicationStream.start} has entered
   * CopyBoth, the replies of its commands must still be read.
   */
  pause(): void {
    if (this.#paused || this.#ended || !this.#handlers) return;
    this.#paused = true;
    this.#connection.stream.pause();
  }

  /** Reads the socket again. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#lastReceivedAtMs = Date.now();
    if (!this.#ended && !this.#yielding) this.#connection.stream.resume();
  }

  /**
   * Reports a new confirmed position soon: now when no update went out in
   * the last {@link STATUS_COALESCE_MS}, else once that much time has passed
   * (one update then carries every confirmation made meanwhile).
   */
  requestStatus(): void {
    if (this.#ended || !this.#handlers || this.#statusTimer) return;
    const waitMs = this.#lastStatusAtMs + STATUS_COALESCE_MS - Date.now();
    if (waitMs <= 0) {
      this.sendStatus();
      return;
    }
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = undefined;
      this.sendStatus();
    }, waitMs);
  }
  #statusTimer: NodeJS.Timeout | undefined;

  /** Sends a Standby Status Update with the confirmed position now. */
  sendStatus(replyRequested = false): void {
    clearTimeout(this.#statusTimer);
    this.#statusTimer = undefined;
    if (this.#ended || !this.#handlers) return;
    const conn = this.#connection;
    if (!conn.stream.writable) return;
    conn.sendCopyFromChunk(this.#opts.positions.encode(Date.now(), replyRequested));
    this.#lastStatusAtMs = Date.now();
  }
  #lastStatusAtMs = 0;

  #onCopyData(chunk: Buffer): void {
    if (this.#ended || this.#draining) return;
    this.#receivedSinceTick = true;
    this.#bytesSinceYield += chunk.length;
    if (this.#bytesSinceYield >= YIELD_AFTER_BYTES) this.#yield();
    const handlers = this.#handlers!;
    try {
      switch (chunk[0]) {
        case 0x77: {
          // 'w' XLogData
          const walStart = chunk.readBigUInt64BE(1);
          this.#opts.positions.receive(chunk.readBigUInt64BE(9));
          handlers.onData(chunk.subarray(XLOG_DATA_HEADER_BYTES), walStart);
          return;
        }
        case 0x6b: {
          // 'k' primary keepalive: walEnd, server time, reply requested
          const walEnd = chunk.readBigUInt64BE(1);
          this.#opts.positions.receive(walEnd);
          const moved = handlers.onKeepalive(walEnd);
          if (moved || chunk[17] === 1) this.sendStatus(false);
          return;
        }
        default:
          throw new EtlError('PG_PROTOCOL', `Unknown replication message 0x${(chunk[0] ?? 0).toString(16)}`, {
            retryable: true,
          });
      }
    } catch (err) {
      this.#fail(toEtlError(err, 'PG_PROTOCOL'));
    }
  }

  /** Lets the event loop turn before reading on; what the current socket read holds is still handled. */
  #yield(): void {
    this.#bytesSinceYield = 0;
    if (this.#yielding) return;
    this.#yielding = true;
    this.#connection.stream.pause();
    setImmediate(() => {
      this.#yielding = false;
      if (!this.#paused && !this.#ended) this.#connection.stream.resume();
    });
  }

  #tick(): void {
    const now = Date.now();
    if (this.#receivedSinceTick) {
      this.#receivedSinceTick = false;
      this.#lastReceivedAtMs = now;
    }
    const silentMs = now - this.#lastReceivedAtMs;
    if (!this.#paused && silentMs > this.#watchdogMs) {
      this.#fail(
        new EtlError('CONNECTION', `No message from the walsender for ${silentMs} ms; reconnecting`, {
          retryable: true,
          hint: 'The server or the network stopped answering; check that PostgreSQL is up and reachable.',
        }),
      );
      return;
    }
    if (now - this.#lastStatusAtMs >= this.#statusIntervalMs) {
      // Ask for an answer when the server has been quiet, so the watchdog hears from a healthy one.
      this.sendStatus(!this.#paused && silentMs >= this.#statusIntervalMs);
    }
  }

  /** Ends the stream with `error` (the owner reconnects when it is retryable). */
  #fail(error: EtlError): void {
    if (this.#ended) return;
    this.#end(error);
    (this.#client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  }

  #end(error: EtlError | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#timer);
    clearTimeout(this.#statusTimer);
    this.#statusTimer = undefined;
    this.#handlers?.onEnd(error);
  }

  /** Ends the stream (if any) and the connection. Idempotent; never rejects. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const conn = this.#connection as RawConnection & { endCopyFrom(): void };
    if (this.#copy && !this.#ended && conn.stream.writable) {
      // Graceful: the last status update, then CopyDone; the walsender processes both before it
      // ends the COPY (a destroyed socket could drop the update on the floor).
      this.sendStatus();
      this.#draining = true;
      clearInterval(this.#timer);
      conn.endCopyFrom();
      conn.stream.resume();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#copy, new Promise((r) => (timer = setTimeout(r, CLOSE_GRACE_MS)))]);
      clearTimeout(timer);
    }
    this.#end(undefined);
    // A walsender busy decoding a large transaction may not read our Terminate for a long while:
    // wait a moment for a clean end, then drop the socket (nothing is lost, the slot keeps its position).
    let timer: NodeJS.Timeout | undefined;
    const ended = this.#client.end().catch(() => {});
    const late = await Promise.race([
      ended.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), CLOSE_GRACE_MS))),
    ]);
    clearTimeout(timer);
    if (late) (this.#connection as unknown as { stream: { destroy(): void } }).stream.destroy();
    await ended;
  }
}

/**
 * Classifies why a stream broke: server errors by SQLSTATE, socket errors as retryable.
 * Only an error the server sent has a SQLSTATE: a socket error's `code` (`EPIPE`, five
 * characters too) must never be read as one.
 */
export function streamError(err: unknown): EtlError {
  const code = sqlStateOf(err);
  const message = (err as Error).message ?? String(err);
  if (code === '55006') {
    return new EtlError('PG_SLOT_ACTIVE', `The replication slot is in use: ${message}`, {
      cause: err,
      retryable: true,
      hint: 'Another process streams from this slot (another worker of the pipeline?). Stop it, or terminate its walsender.',
    });
  }
  if (code === '42704' || (code === '55000' && /slot/.test(message))) {
    return new EtlError('PG_SLOT_INVALID', `The replication slot cannot be used: ${message}`, {
      cause: err,
      hint: `The slot was dropped or invalidated; the changes it held are gone. To recover: ${LOST_SLOT_STEPS}`,
    });
  }
  if (code !== undefined && !/^(08|57)/.test(code)) {
    return new EtlError('PG_PROTOCOL', `The walsender rejected the stream: ${message}`, {
      cause: err,
      retryable: false,
    });
  }
  return new EtlError('CONNECTION', `Replication connection lost: ${message}`, {
    cause: err,
    retryable: true,
  });
}
