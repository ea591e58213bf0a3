import { EtlError } from '../errors.js';

/**
 * An MVCC snapshot as `txid_current_snapshot()` prints it (`xmin:xmax:xip,...`,
 * 64-bit transaction ids), reduced to what the backfill asks of it: would a
 * transaction whose 32-bit xid pgoutput reported be visible to it, if committed?
 *
 * pgoutput sends 32-bit xids; the snapshot's ids are epoch-extended. Both are
 * compared modulo 2^32 the way PostgreSQL compares xids
 * (`TransactionIdPrecedes`), which is exact as long as the two are less than
 * 2^31 transactions apart — always the case for a snapshot and the
 * transactions streamed around it.
 */
export class XidSnapshot {
  private constructor(
    /** Every xid before this one had finished when the snapshot was taken. */
    readonly xmin: number,
    /** The first xid not yet assigned: this one and later ones are invisible. */
    readonly xmax: number,
    /** Transactions in progress when the snapshot was taken (invisible). */
    readonly running: ReadonlySet<number>,
  ) {}

  /** Parses `txid_current_snapshot()::text` (or `pg_current_snapshot()::text`). */
  static parse(text: string): XidSnapshot {
    const m = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
    if (!m)
      throw new EtlError('PG_PROTOCOL', `Unexpected snapshot text from the server: ${JSON.stringify(text)}`);
    const xid32 = (s: string) => Number(BigInt(s) & 0xffffffffn);
    const running = new Set(m[3] ? m[3].split(',').map(xid32) : []);
    return new XidSnapshot(xid32(m[1]!), xid32(m[2]!), running);
  }

  /** True when a committed transaction with this xid is visible to the snapshot. */
  sees(xid: number): boolean {
    return precedes(xid, this.xmax) && !this.running.has(xid);
  }

  /** True when the transaction had finished before the snapshot: visible to it and to every later one. */
  settled(xid: number): boolean {
    return precedes(xid, this.xmin);
  }
}

/** PostgreSQL's `TransactionIdPrecedes` for normal xids: `a` is older than `b` (modulo 2^32). */
export function precedes(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
