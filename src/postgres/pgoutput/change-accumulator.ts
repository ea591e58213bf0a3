import type { TableBatchWriter, TableBatchWriterOptions } from '../../arrow/table-batch-writer.js';
import { PG_EPOCH_MICROS } from '../../arrow/temporal-codec.js';
import { ChangeBatch } from '../../change/change-batch.js';
import type { SchemaChangeEntry, TruncateEntry } from '../../change/change-entry.js';
import type { Checkpoint } from '../../change/checkpoint.js';
import type { TableSchema } from '../../change/table-schema.js';
import { EtlError } from '../../errors.js';
import type { Lsn } from '../../lsn.js';
import type { TypeCatalog } from '../type-catalog.js';
import { BatchSegment, finalEntry, type SealedEntry, SegmentMark } from './batch-segment.js';
import { MessageReader } from './message-reader.js';
import { type LogicalMessage, MessageType, parse } from './pgoutput-messages.js';
import { type CachedRelation, RelationCache } from './relation-cache.js';
import { RowChangeDecoder } from './row-change-decoder.js';
import { StreamedTransaction } from './streamed-transaction.js';

/** Options of a {@link ChangeAccumulator}. */
export interface ChangeAccumulatorOptions {
  /** Types (and, ideally, the published tables' info) of the source database. */
  catalog: TypeCatalog;
  /** True when the stream was started with pgoutput `binary 'true'` (see `binaryModeSupported`). */
  binary: boolean;
  /** Values an Arrow type cannot hold: throw `VALUE_UNREPRESENTABLE`, or write null and report. */
  unrepresentable: 'fail' | 'null';
  /** Streamed transactions buffer at most this many bytes in memory in total, then spill to `spillDir`. */
  streamMemoryLimitBytes: number;
  /** Directory for spill files (Arrow IPC) of large streamed transactions. */
  spillDir: string;
  /** Called for each schema change as its batch is formed. */
  onSchema?(entry: SchemaChangeEntry): void;
  /** Called for each logical decoding message (`pg_logical_emit_message`) as it arrives. */
  onMessage?(m: { prefix: string; content: Uint8Array; transactional: boolean; lsn: Lsn }): void;
  /**
   * Says which non-transactional messages are stream markers (the backfill's
   * watermarks): such a message cuts the batch where it stands and is
   * handed out in order, as a {@link StreamMarker}, by
   * {@link ChangeAccumulator.takeItem}; `onMessage` does not see it.
   */
  isMarker?(m: LogicalMessage): boolean;
  /** Called with each transaction's top-level xid and commit LSN, as soon as both are known (Begin, Stream Commit). */
  onTransaction?(xid: number, commitLsn: Lsn): void;
  /** Called for each value written as null under the `null` policy. */
  onUnrepresentable?(info: { table: string; column: string; reason: string }): void;
  /** Tables to keep; changes of others are skipped without decoding. */
  tableFilter?: (schema: string, name: string) => boolean;
}

/** The open (not streamed) transaction. One record, reused for every transaction. */
interface OpenTransaction {
  /** Its commit LSN, from Begin (the `_etl_lsn` of its rows). */
  finalLsn: Lsn;
  beginLsn: Lsn;
  /** When it began, if it may be the first buffered one (else 0: nobody asks). */
  startedMs: number;
  mark: SegmentMark;
  /** The object `mark` reuses for this transaction record. */
  readonly markSpace: SegmentMark;
  rows: number;
  bytes: number;
}

/** A stream marker in its place among the batches (see `isMarker`). */
export interface StreamMarker {
  readonly kind: 'marker';
  readonly message: LogicalMessage;
}

interface ReadyMarker {
  readonly marker: StreamMarker;
  readonly rows: 0;
  readonly bytes: 0;
  readonly transactions: 0;
  readonly take?: undefined;
  readonly discard?: undefined;
}

interface ReadyBatch {
  readonly marker?: undefined;
  /** Builds the batch (chunks of a spilled transaction are read back from disk only now). */
  readonly take: () => ChangeBatch;
  /** Drops it untaken (on reset): removes spill files. */
  readonly discard?: () => void;
  readonly rows: number;
  readonly bytes: number;
  readonly transactions: number;
}

/** What a batch is made of besides its entries. */
interface BatchInfo {
  readonly firstLsn: Lsn;
  readonly checkpoint: Checkpoint;
  readonly transactions: number;
  readonly lastCommitTimeUs: bigint;
  readonly partial: boolean;
  /** Commit LSN for entries whose LSN was not known when they were decoded. */
  readonly lsn: Lsn;
}

const PG_EPOCH_US = BigInt(PG_EPOCH_MICROS);
const ZERO_CHECKPOINT: Checkpoint = { lsn: 0n, commitLsn: 0n };

function protocolError(message: string, cause?: unknown): EtlError {
  return new EtlError('PG_PROTOCOL', message, {
    cause,
    retryable: true,
    hint: 'The replication stream sent something this decoder does not understand; reconnecting resends it. If it persists, report it with the server version.',
  });
}

/**
 * Turns pgoutput messages (protocol 1–4) into {@link ChangeBatch}es of whole
 * transactions, decoding tuple values straight into Arrow column writers.
 *
 * Driven by the replication stream: {@link ChangeAccumulator.push} each
 * XLogData payload in order; when `mustCut`, or a batch limit is reached,
 * call {@link ChangeAccumulator.takeBatch} until it returns undefined.
 * Batches never span a schema change or a truncate of a table they hold;
 * streamed transactions are delivered at Stream Commit (possibly as several
 * `partial` batches); a transaction cut inside (a schema change of a table it
 * already wrote) is delivered as a `partial` batch then the rest.
 * Synchronous, single-threaded; after an error, call `reset()` and resume
 * from the confirmed LSN.
 *
 * @example
 * ```ts
 * const acc = new ChangeAccumulator({ catalog, binary: true, unrepresentable: 'fail',
 *   streamMemoryLimitBytes: 64 << 20, spillDir: os.tmpdir() });
 * acc.push(payload, walStart);
 * if (acc.mustCut || acc.bufferedRows >= maxRows) for (let b; (b = acc.takeBatch()); ) await sink(b);
 * ```
 */
export class ChangeAccumulator {
  readonly #opts: ChangeAccumulatorOptions;
  readonly #writerOptions: TableBatchWriterOptions;
  readonly #relations: RelationCache;
  readonly #reader = new MessageReader();
  readonly #rowDecoder = new RowChangeDecoder();
  #segment: BatchSegment;
  #ready: (ReadyBatch | ReadyMarker)[] = [];
  #tx: OpenTransaction | undefined;
  readonly #txRecord: OpenTransaction = {
    finalLsn: 0n,
    beginLsn: 0n,
    startedMs: 0,
    mark: SegmentMark.EMPTY,
    markSpace: new SegmentMark(0, []),
    rows: 0,
    bytes: 0,
  };
  #seq = 0;
  // Whole transactions in #segment.
  #segTx = 0;
  #segRows = 0;
  #segBytes = 0;
  #segFirstLsn: Lsn | undefined;
  #firstBufferedAtMs: number | undefined;
  // The last commit, kept raw: the checkpoint object and the bigint time are made when a batch is sealed.
  #lastEndLsn: Lsn = 0n;
  #lastCommitLsn: Lsn = 0n;
  #lastCheckpointMade: Checkpoint | undefined = ZERO_CHECKPOINT;
  /** Commit time of the last commit, microseconds since 2000-01-01 (a number when exact). */
  #lastCommitPgUs: number | bigint = -PG_EPOCH_MICROS;
  readonly #streams = new Map<number, StreamedTransaction>();
  #stream: StreamedTransaction | undefined;
  #streamMemory = 0;

  constructor(opts: ChangeAccumulatorOptions) {
    this.#opts = opts;
    this.#writerOptions = {
      catalog: opts.catalog,
      binary: opts.binary,
      unrepresentable: opts.unrepresentable,
      onUnrepresentable: opts.onUnrepresentable,
    };
    this.#relations = new RelationCache(opts.catalog, opts.tableFilter);
    this.#segment = new BatchSegment(this.#writerOptions);
  }

  /** True between Begin and Commit, or inside a Stream Start/Stop block. */
  get inTransaction(): boolean {
    return this.#tx !== undefined || this.#stream !== undefined;
  }
  /** Rows of whole transactions not yet taken. */
  get bufferedRows(): number {
    return this.#segRows + this.#ready.reduce((n, r) => n + r.rows, 0);
  }
  /** Approximate bytes (wire bytes of their changes) of whole transactions not yet taken. */
  get bufferedBytes(): number {
    return this.#segBytes + this.#ready.reduce((n, r) => n + r.bytes, 0);
  }
  /** Whole transactions not yet taken. */
  get bufferedTransactions(): number {
    return this.#segTx + this.#ready.reduce((n, r) => n + r.transactions, 0);
  }
  /** `Date.now()` when the oldest not-taken transaction began arriving. */
  get firstBufferedAtMs(): number | undefined {
    return this.#firstBufferedAtMs;
  }
  /** True when batches were cut (schema change, truncate, streamed commit) and must be taken now. */
  get mustCut(): boolean {
    return this.#ready.length > 0;
  }
  /** The schema of a relation seen in the stream, by OID. */
  relation(id: number): TableSchema | undefined {
    return this.#relations.get(id)?.schema;
  }

  /** Feeds one pgoutput message (XLogData payload from its type byte); `walStart` is the XLogData start. */
  push(message: Uint8Array, walStart: Lsn): void {
    try {
      this.#dispatch(message, walStart);
    } catch (err) {
      if (err instanceof EtlError) throw err;
      throw protocolError(`Could not decode pgoutput message '${String.fromCharCode(message[0] ?? 0)}'`, err);
    }
  }

  #dispatch(buf: Uint8Array, walStart: Lsn): void {
    const type = buf[0];
    const r = this.#reader.reset(buf, 1);
    switch (type) {
      case MessageType.Insert:
      case MessageType.Update:
      case MessageType.Delete:
        this.#rowChange(type, r, buf);
        return;
      case MessageType.Begin: {
        if (this.#tx) throw protocolError('Begin inside a transaction');
        // Begin: final (commit) LSN, commit time (the Commit message carries it too), xid.
        const finalLsn = r.u64();
        r.skip(8);
        this.#opts.onTransaction?.(r.u32(), finalLsn);
        const tx = this.#txRecord;
        tx.finalLsn = finalLsn;
        tx.beginLsn = walStart;
        tx.startedMs = this.#firstBufferedAtMs === undefined ? Date.now() : 0;
        tx.mark = this.#segment.markInto(tx.markSpace);
        tx.rows = 0;
        tx.bytes = 0;
        this.#tx = tx;
        return;
      }
      case MessageType.Commit: {
        r.u8(); // flags, unused
        const commitLsn = r.u64();
        const endLsn = r.u64();
        this.#commit(commitLsn, endLsn, r.i64Lazy());
        return;
      }
      case MessageType.Relation:
        this.#relation(r);
        return;
      case MessageType.Truncate:
        this.#truncate(r);
        return;
      case MessageType.Message: {
        if (this.#stream) r.u32();
        const m = parse.message(r);
        if (!m.transactional && !this.inTransaction && this.#opts.isMarker?.(m)) {
          this.#sealWhole();
          this.#ready.push({ marker: { kind: 'marker', message: m }, rows: 0, bytes: 0, transactions: 0 });
          return;
        }
        this.#opts.onMessage?.(m);
        return;
      }
      case MessageType.Origin:
      case MessageType.Type:
        return;
      case MessageType.StreamStart: {
        const xid = r.u32();
        let st = this.#streams.get(xid);
        if (!st)
          this.#streams.set(
            xid,
            (st = new StreamedTransaction(xid, walStart, this.#writerOptions, this.#opts.spillDir)),
          );
        this.#stream = st;
        return;
      }
      case MessageType.StreamStop:
        this.#stream = undefined;
        return;
      case MessageType.StreamCommit:
        this.#streamCommit(parse.streamCommit(r));
        return;
      case MessageType.StreamAbort:
        this.#streamAbort(parse.streamAbort(r));
        return;
      case MessageType.BeginPrepare:
      case MessageType.Prepare:
      case MessageType.CommitPrepared:
      case MessageType.RollbackPrepared:
      case MessageType.StreamPrepare:
        throw new EtlError(
          'PG_PROTOCOL',
          'pgoutput sent a two-phase commit message; two_phase is not supported',
          {
            hint: "Create the slot without two_phase and do not pass the 'two_phase' option.",
          },
        );
      default:
        throw protocolError(`Unknown pgoutput message type 0x${(type ?? 0).toString(16)}`);
    }
  }

  /** The transaction changes go to: the streamed one of the current block, or the open one. */
  #noteXid(r: MessageReader): StreamedTransaction | undefined {
    const st = this.#stream;
    if (st) st.noteChange(r.u32());
    else if (!this.#tx) throw protocolError('A change arrived outside a transaction');
    return st;
  }

  #rowChange(type: number, r: MessageReader, buf: Uint8Array): void {
    const st = this.#noteXid(r);
    const relationId = r.u32();
    const rel = this.#relations.get(relationId);
    if (!rel) throw protocolError(`A change names relation ${relationId} before its Relation message`);
    if (rel.skip) return;
    const writer = this.#writerFor(relationId, rel, st);
    const lsn = st ? 0n : this.#tx!.finalLsn;
    const seq = st ? st.seq : this.#seq;
    const d = this.#rowDecoder;
    const used =
      type === MessageType.Insert
        ? d.insert(buf, r.pos, writer, lsn, seq)
        : type === MessageType.Update
          ? d.update(buf, r.pos, rel, writer, lsn, seq)
          : d.delete(buf, r.pos, writer, lsn, seq);
    if (st) {
      st.seq += used;
      st.rows += used;
      st.memoryBytes += buf.length;
      this.#streamMemory += buf.length;
      if (this.#streamMemory > this.#opts.streamMemoryLimitBytes) this.#spill(st);
    } else {
      this.#seq += used;
      this.#tx!.rows += used;
      this.#tx!.bytes += buf.length;
    }
  }

  #writerFor(relationId: number, rel: CachedRelation, st: StreamedTransaction | undefined): TableBatchWriter {
    const w = (st ? st.segment : this.#segment).writerFor(relationId, rel.schema);
    if (w) return w;
    if (st) st.cut();
    else this.#cutMain(relationId);
    return (st ? st.segment : this.#segment).writerFor(relationId, rel.schema)!;
  }

  #spill(st: StreamedTransaction): void {
    this.#streamMemory -= st.memoryBytes;
    st.spill();
  }

  #relation(r: MessageReader): void {
    const st = this.#stream;
    if (st) st.noteChange(r.u32());
    const { relation, previous, changed } = this.#relations.apply(parse.relation(r));
    if (!changed || relation.skip) return;
    const id = relation.schema.id;
    if (st) {
      if (st.segment.holds(id)) st.cut();
      st.segment.entries.push({
        kind: 'schema',
        table: relation.schema,
        previous,
        seq: st.seq++,
        lsn: undefined,
      });
      return;
    }
    this.#cutMain(id);
    const lsn = this.#tx?.finalLsn ?? this.#lastCommitLsn;
    this.#segment.entries.push({ kind: 'schema', table: relation.schema, previous, seq: this.#seq++, lsn });
  }

  #truncate(r: MessageReader): void {
    const st = this.#noteXid(r);
    const m = parse.truncate(r);
    const tables: TableSchema[] = [];
    for (const id of m.relationIds) {
      const rel = this.#relations.get(id);
      if (!rel || rel.skip) continue;
      tables.push(rel.schema);
      if (st) {
        if (st.segment.holds(id)) st.cut();
      } else this.#cutMain(id);
    }
    if (tables.length === 0) return;
    const entry = {
      kind: 'truncate' as const,
      tables,
      cascade: m.cascade,
      restartIdentity: m.restartIdentity,
    };
    if (st) st.segment.entries.push({ ...entry, seq: st.seq++, lsn: undefined });
    else this.#segment.entries.push({ ...entry, seq: this.#seq++, lsn: this.#tx!.finalLsn });
  }

  /**
   * A schema change or truncate of `relationId` is coming: if the open
   * segment holds rows of it, the whole transactions before are made a
   * ready batch, and if the open transaction itself holds some, its rows so
   * far become a partial batch.
   */
  #cutMain(relationId: number): void {
    if (!this.#segment.holds(relationId)) return;
    this.#sealWhole();
    const tx = this.#tx;
    if (tx && this.#segment.holds(relationId)) {
      const sealed = this.#segment.seal();
      this.#pushReady(
        sealed,
        {
          firstLsn: tx.beginLsn,
          checkpoint: this.#lastCheckpoint,
          transactions: 0,
          lastCommitTimeUs: this.#lastCommitTimeUs,
          partial: true,
          lsn: tx.finalLsn,
        },
        tx.rows,
        tx.bytes,
      );
      tx.rows = 0;
      tx.bytes = 0;
      tx.mark = SegmentMark.EMPTY;
    }
  }

  /** Makes the whole transactions of the open segment a ready batch. */
  #sealWhole(): void {
    const tx = this.#tx;
    if (this.#segTx === 0 && (!tx || tx.mark.entries === 0)) return;
    const sealed = tx ? this.#segment.sealBefore(tx.mark) : this.#segment.seal();
    if (tx) tx.mark = SegmentMark.EMPTY;
    this.#pushReady(
      sealed,
      {
        firstLsn: this.#segFirstLsn ?? this.#lastCheckpoint.lsn,
        checkpoint: this.#lastCheckpoint,
        transactions: this.#segTx,
        lastCommitTimeUs: this.#lastCommitTimeUs,
        partial: false,
        lsn: this.#lastCheckpoint.commitLsn,
      },
      this.#segRows,
      this.#segBytes,
    );
    this.#segTx = this.#segRows = this.#segBytes = 0;
    this.#segFirstLsn = undefined;
  }

  /** The position after the last whole transaction (made once per commit, when a batch asks for it). */
  get #lastCheckpoint(): Checkpoint {
    this.#lastCheckpointMade ??= { lsn: this.#lastEndLsn, commitLsn: this.#lastCommitLsn };
    return this.#lastCheckpointMade;
  }

  /** Commit time of the last commit, microseconds since the Unix epoch. */
  get #lastCommitTimeUs(): bigint {
    return BigInt(this.#lastCommitPgUs) + PG_EPOCH_US;
  }

  #setLastCommit(commitLsn: Lsn, endLsn: Lsn, commitTimePgUs: number | bigint): void {
    this.#lastEndLsn = endLsn;
    this.#lastCommitLsn = commitLsn;
    this.#lastCheckpointMade = undefined;
    this.#lastCommitPgUs = commitTimePgUs;
  }

  #pushReady(sealed: SealedEntry[], info: BatchInfo, rows: number, bytes: number): void {
    const batch = this.#batchOf(sealed, info);
    this.#ready.push({ take: () => batch, rows, bytes, transactions: info.transactions });
  }

  #batchOf(sealed: SealedEntry[], info: BatchInfo): ChangeBatch {
    const entries = sealed.map((e) => {
      const entry = finalEntry(e, info.lsn);
      if (entry.kind === 'schema') this.#opts.onSchema?.(entry);
      return entry;
    });
    return new ChangeBatch({ ...info, entries });
  }

  #commit(commitLsn: Lsn, endLsn: Lsn, commitTimePgUs: number | bigint): void {
    const tx = this.#tx;
    if (!tx) throw protocolError('Commit without Begin');
    this.#tx = undefined;
    this.#segTx++;
    this.#segRows += tx.rows;
    this.#segBytes += tx.bytes;
    this.#segFirstLsn ??= tx.beginLsn;
    this.#firstBufferedAtMs ??= tx.startedMs || Date.now();
    tx.mark = SegmentMark.EMPTY;
    this.#setLastCommit(commitLsn, endLsn, commitTimePgUs);
  }

  #streamCommit(c: { xid: number; commitLsn: Lsn; endLsn: Lsn; commitTimePgUs: bigint }): void {
    this.#sealWhole();
    const st = this.#streams.get(c.xid);
    this.#streams.delete(c.xid);
    this.#opts.onTransaction?.(c.xid, c.commitLsn);
    if (st) this.#streamMemory -= st.memoryBytes;
    const count = Math.max(1, st?.seal() ?? 0);
    const before = this.#lastCheckpoint;
    const beforeTime = this.#lastCommitTimeUs;
    this.#setLastCommit(c.commitLsn, c.endLsn, c.commitTimePgUs);
    for (let i = 0; i < count; i++) {
      const last = i === count - 1;
      const info: BatchInfo = {
        firstLsn: st?.firstLsn ?? before.lsn,
        checkpoint: last ? this.#lastCheckpoint : before,
        transactions: last ? 1 : 0,
        lastCommitTimeUs: last ? this.#lastCommitTimeUs : beforeTime,
        partial: !last,
        lsn: c.commitLsn,
      };
      // Chunks stay where they are (spilled ones on disk) until their batch is taken.
      this.#ready.push({
        take: () => this.#batchOf(st ? st.chunk(i, c.commitLsn) : [], info),
        discard: last ? () => st?.discard() : undefined,
        rows: st?.chunkRows(i) ?? 0,
        bytes: 0,
        transactions: info.transactions,
      });
    }
    this.#firstBufferedAtMs ??= Date.now();
  }

  #streamAbort(a: { xid: number; subXid: number }): void {
    const st = this.#streams.get(a.xid);
    if (!st) return;
    this.#streamMemory -= st.memoryBytes;
    if (a.subXid === a.xid) {
      st.discard();
      this.#streams.delete(a.xid);
      return;
    }
    st.abortSubtransaction(a.subXid);
    st.memoryBytes = 0;
    for (const w of st.segment.writers.values()) st.memoryBytes += w.bytes;
    this.#streamMemory += st.memoryBytes;
  }

  /**
   * Takes the oldest ready batch, or else all whole transactions accumulated
   * so far as one ChangeBatch (checkpoint: last Commit's end LSN and commit
   * LSN); undefined when there is none. Call until undefined to drain.
   */
  takeBatch(): ChangeBatch | undefined {
    for (;;) {
      const item = this.takeItem();
      if (item === undefined || item instanceof ChangeBatch) return item;
    }
  }

  /** Like {@link ChangeAccumulator.takeBatch}, but hands out stream markers too, in their place. */
  takeItem(): ChangeBatch | StreamMarker | undefined {
    if (this.#ready.length === 0) this.#sealWhole();
    const next = this.#ready.shift();
    if (!next) return undefined;
    if (this.#ready.length === 0 && this.#segTx === 0) {
      this.#firstBufferedAtMs = undefined;
      if (!this.#tx) this.#seq = 0;
    }
    return next.marker ?? next.take();
  }

  /** The table filter changed (a table was added): cached relations are filtered again from the next change on. */
  refilter(): void {
    this.#relations.refilter();
  }

  /** Drops everything not yet taken (on reconnect: the server resends from the confirmed LSN). Keeps the relation cache. */
  reset(): void {
    for (const st of this.#streams.values()) st.discard();
    for (const r of this.#ready) r.discard?.();
    this.#streams.clear();
    this.#stream = undefined;
    this.#streamMemory = 0;
    this.#segment = new BatchSegment(this.#writerOptions);
    this.#ready = [];
    this.#tx = undefined;
    this.#seq = 0;
    this.#segTx = this.#segRows = this.#segBytes = 0;
    this.#segFirstLsn = undefined;
    this.#firstBufferedAtMs = undefined;
  }
}

export type { TruncateEntry };
