/**
 * Reads a logical replication slot over a real walsender connection and
 * feeds every pgoutput message into a ChangeAccumulator until enough whole
 * transactions have been taken as batches.
 */
import type { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import pg from 'pg';
import type { ChangeBatch } from '../../../src/change/change-batch.js';
import type { Lsn } from '../../../src/lsn.js';
import {
  ChangeAccumulator,
  type ChangeAccumulatorOptions,
} from '../../../src/postgres/pgoutput/change-accumulator.js';
import { TypeCatalog } from '../../../src/postgres/type-catalog.js';

/** What to read and how. */
export interface CaptureOptions {
  url: string;
  slot: string;
  publication: string;
  /** Stop once this many whole transactions were taken. */
  transactions: number;
  binary?: boolean;
  protoVersion?: number;
  streaming?: boolean;
  /** Walsender settings, e.g. `-c logical_decoding_work_mem=64kB`. */
  serverOptions?: string;
  /** Extra accumulator options. */
  accumulator?: Partial<ChangeAccumulatorOptions>;
  /**
   * When to take batches: after every transaction (`commit`, default), or only
   * when the accumulator must cut and at the end (`cut`, to observe cuts).
   */
  take?: 'commit' | 'cut';
  /** Relation OIDs whose table info (nullability, dims, keys) the catalog loads first. */
  tables?: number[];
  timeoutMs?: number;
}

/** The batches taken, the raw messages received, and the accumulator. */
export interface Capture {
  batches: ChangeBatch[];
  messages: { payload: Buffer; walStart: Lsn }[];
  catalog: TypeCatalog;
  accumulator: ChangeAccumulator;
}

/** Loads the catalog (types, and the given tables) through a normal connection. */
export async function loadCatalog(url: string, tables: number[] = []): Promise<TypeCatalog> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const catalog = await TypeCatalog.load(client);
    await catalog.loadTables(client, tables);
    return catalog;
  } finally {
    await client.end();
  }
}

/** Reads the slot until `transactions` whole transactions arrived (bounded by `timeoutMs`). */
export async function captureChanges(opts: CaptureOptions): Promise<Capture> {
  const catalog = await loadCatalog(opts.url, opts.tables);
  const accumulator = new ChangeAccumulator({
    catalog,
    binary: opts.binary ?? false,
    unrepresentable: 'fail',
    streamMemoryLimitBytes: 64 << 20,
    spillDir: tmpdir(),
    ...opts.accumulator,
  });
  const client = new pg.Client({
    connectionString: opts.url,
    replication: 'database',
    options: opts.serverOptions,
  } as pg.ClientConfig);
  await client.connect();
  const batches: ChangeBatch[] = [];
  const messages: Capture['messages'] = [];
  let transactions = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${transactions} of ${opts.transactions} transactions arrived`)),
        opts.timeoutMs ?? 30_000,
      );
      const connection = (client as unknown as { connection: EventEmitter }).connection;
      let done = false;
      connection.on('copyData', (msg: { chunk: Buffer }) => {
        const buf = msg.chunk;
        if (done || buf[0] !== 0x77 /* w */) return;
        const walStart = buf.readBigUInt64BE(1);
        const payload = buf.subarray(25);
        messages.push({ payload, walStart });
        try {
          accumulator.push(payload, walStart);
          const drain = () => {
            for (let b = accumulator.takeBatch(); b; b = accumulator.takeBatch()) {
              batches.push(b);
              transactions += b.transactions;
            }
          };
          if (accumulator.mustCut || (opts.take !== 'cut' && !accumulator.inTransaction)) drain();
          if (
            opts.take === 'cut' &&
            !accumulator.inTransaction &&
            transactions + accumulator.bufferedTransactions >= opts.transactions
          )
            drain();
        } catch (err) {
          done = true;
          clearTimeout(timer);
          reject(err);
          return;
        }
        if (transactions >= opts.transactions) {
          done = true;
          clearTimeout(timer);
          resolve();
        }
      });
      const options = [
        `proto_version '${opts.protoVersion ?? 2}'`,
        `publication_names '${opts.publication}'`,
        `messages 'true'`,
      ];
      if (opts.binary) options.push(`binary 'true'`);
      if (opts.streaming) options.push(`streaming 'true'`);
      client
        .query(`START_REPLICATION SLOT "${opts.slot}" LOGICAL 0/0 (${options.join(', ')})`)
        .catch((err: Error) => {
          if (!done) {
            clearTimeout(timer);
            reject(err);
          }
        });
    });
  } finally {
    await client.end().catch(() => {});
  }
  return { batches, messages, catalog, accumulator };
}
