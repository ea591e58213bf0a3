import pg from 'pg';
import { sleep } from '../async/abortable-sleep.js';
import { Backoff } from '../async/backoff.js';
import { EtlError, toEtlError } from '../errors.js';
import type { DefinitionRow } from './pipeline-definition.js';

/** Options of {@link DefinitionWatcher}. */
export interface DefinitionWatcherOptions {
  /** The configuration database. */
  readonly connectionString: string;
  /** `LISTEN` statement for the table's channel. */
  readonly listenSql: string;
  /** Reads every definition row. */
  readonly read: () => Promise<DefinitionRow[]>;
  /** Every row, after each read that succeeded (the caller diffs). */
  readonly onRows: (rows: DefinitionRow[]) => void | Promise<void>;
  /** A read or the listening connection failed (the watcher keeps going). */
  readonly onError: (error: EtlError) => void;
  /** Time between two reads when no notification came (the fallback). */
  readonly pollIntervalMs: number;
  /** Notifications arriving within this window are served by one read. */
  readonly debounceMs: number;
}

/**
 * Keeps the manager's view of the definitions table current: a `LISTEN`
 * connection on the channel the table's trigger notifies makes changes take
 * effect within milliseconds, and a read every `pollIntervalMs` catches
 * whatever a lost notification or a dropped connection missed. Each time the
 * listening connection is (re)established the table is read again, since
 * notifications sent while it was down are gone. Reads never overlap.
 */
export class DefinitionWatcher {
  private readonly abort = new AbortController();
  private listener: pg.Client | undefined;
  private pending: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly o: DefinitionWatcherOptions) {}

  /**
   * Starts listening (a failure to is reported, and retried in the
   * background), then reads the table once — rejecting when that fails — so
   * that no change made after start() resolved can be missed; then polls.
   */
  async start(): Promise<void> {
    let listening!: () => void;
    const firstAttempt = new Promise<void>((resolve) => {
      listening = resolve;
    });
    this.loops = [this.listenLoop(listening)];
    await firstAttempt;
    try {
      await this.readNow(true);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.loops.push(this.pollLoop());
  }

  /** Reads the table now (coalesced with a read in progress). */
  refresh(): Promise<void> {
    return this.readNow(false);
  }

  /** Stops listening and polling; waits for a read in progress. */
  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.pending);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => {});
    await Promise.allSettled(this.loops);
    await this.reading?.catch(() => {});
  }

  private async readNow(throwOnError: boolean): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        try {
          await this.o.onRows(await this.o.read());
        } catch (err) {
          const error = toEtlError(err, 'CONNECTION');
          if (throwOnError) throw error;
          this.o.onError(error);
        }
      } while (this.again && !this.abort.signal.aborted);
    })().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private schedule(): void {
    if (this.pending || this.abort.signal.aborted) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.readNow(false);
    }, this.o.debounceMs);
  }

  private async pollLoop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await sleep(this.o.pollIntervalMs, this.abort.signal);
      } catch {
        return;
      }
      await this.readNow(false);
    }
  }

  /** Holds a LISTEN connection; reconnects with backoff, reading the table after each (re)connect. */
  private async listenLoop(firstAttemptDone: () => void): Promise<void> {
    try {
      await this.listenUntilStopped(firstAttemptDone);
    } finally {
      firstAttemptDone();
    }
  }

  private async listenUntilStopped(firstAttemptDone: () => void): Promise<void> {
    const backoff = new Backoff({ initialDelayMs: 200, maxDelayMs: 10_000 });
    let first = true;
    while (!this.abort.signal.aborted) {
      // keepAlive: a silently dead connection is noticed eventually; polling covers the meantime.
      const client = new pg.Client({ connectionString: this.o.connectionString, keepAlive: true });
      const closed = new Promise<Error | undefined>((resolve) => {
        client.on('error', (err) => resolve(err));
        client.on('end', () => resolve(undefined));
      });
      try {
        await client.connect();
        client.on('notification', () => this.schedule());
        await client.query(this.o.listenSql);
        this.listener = client;
        if (this.abort.signal.aborted) {
          await client.end().catch(() => {});
          return;
        }
        backoff.reset();
        if (!first) this.schedule();
        first = false;
        firstAttemptDone();
        const err = await closed;
        if (this.abort.signal.aborted) return;
        this.o.onError(
          new EtlError(
            'CONNECTION',
            `The LISTEN connection to the configuration database closed: ${err?.message ?? 'ended'}`,
            {
              retryable: true,
              hint: 'Definitions are still read every pollIntervalMs; the connection is re-opened with backoff.',
              cause: err,
            },
          ),
        );
      } catch (err) {
        // The initial read follows this first attempt; after any later (re)connect, read again.
        first = false;
        firstAttemptDone();
        if (this.abort.signal.aborted) {
          await client.end().catch(() => {});
          return;
        }
        this.o.onError(
          new EtlError(
            'CONNECTION',
            `Cannot LISTEN on the configuration database: ${(err as Error).message}`,
            {
              retryable: true,
              hint: 'Check the configuration database; definitions are still polled meanwhile.',
              cause: err,
            },
          ),
        );
      }
      this.listener = undefined;
      await client.end().catch(() => {});
      try {
        await sleep(backoff.next(), this.abort.signal);
      } catch {
        return;
      }
    }
  }
}
