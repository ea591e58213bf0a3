import { type Lsn, maxLsn } from '../lsn.js';

/** Milliseconds from the Unix epoch to the Postgres epoch (2000-01-01T00:00:00Z). */
export const PG_EPOCH_UNIX_MS = 946_684_800_000;

/** Length of a Standby Status Update message: 'r', three LSNs, a timestamp and a flag. */
const STATUS_UPDATE_BYTES = 34;

/**
 * Encodes a Standby Status Update (`r`): write, flush and apply LSNs, the
 * client clock in microseconds since 2000-01-01, and whether the server
 * should answer at once with a keepalive.
 */
export function encodeStandbyStatus(
  position: { write: Lsn; flush: Lsn; apply: Lsn },
  nowMs: number,
  replyRequested: boolean,
): Buffer {
  const buf = Buffer.allocUnsafe(STATUS_UPDATE_BYTES);
  buf[0] = 0x72; // 'r'
  buf.writeBigUInt64BE(position.write, 1);
  buf.writeBigUInt64BE(position.flush, 9);
  buf.writeBigUInt64BE(position.apply, 17);
  buf.writeBigInt64BE(BigInt(Math.round(nowMs - PG_EPOCH_UNIX_MS)) * 1000n, 25);
  buf[33] = replyRequested ? 1 : 0;
  return buf;
}

/**
 * The three positions of one replication stream, tracked apart:
 *
 * - `received`: the furthest WAL position the server sent (XLogData, keepalive);
 * - `handedOut`: the checkpoint of the last batch given to the consumer;
 * - `confirmed`: what the consumer said is durable ({@link StandbyPositions.confirm}).
 *
 * The position reported to Postgres (as write, flush and apply) is always
 * `confirmed`: never a received or handed-out position, because the slot
 * forgets everything before the flush LSN (DESIGN §2, "no loss"). The one
 * exception is the idle rule: when nothing is in flight — everything handed
 * out is confirmed and the caller holds nothing undelivered — a keepalive's
 * WAL end may be confirmed, so slots of quiet tables advance.
 */
export class StandbyPositions {
  #received: Lsn;
  #handedOut: Lsn;
  #confirmed: Lsn;

  /** Starts with everything at `start` (the slot's confirmed position). */
  constructor(start: Lsn) {
    this.#received = start;
    this.#handedOut = start;
    this.#confirmed = start;
  }

  get received(): Lsn {
    return this.#received;
  }
  get handedOut(): Lsn {
    return this.#handedOut;
  }
  get confirmed(): Lsn {
    return this.#confirmed;
  }

  /** The server sent WAL up to `lsn`. */
  receive(lsn: Lsn): void {
    this.#received = maxLsn(this.#received, lsn);
  }

  /** A batch whose checkpoint is `lsn` went to the consumer. */
  handOut(lsn: Lsn): void {
    this.#handedOut = maxLsn(this.#handedOut, lsn);
  }

  /** The consumer made everything up to `lsn` durable. Returns true when the confirmed position moved. */
  confirm(lsn: Lsn): boolean {
    if (lsn <= this.#confirmed) return false;
    this.#confirmed = lsn;
    return true;
  }

  /** True when every batch handed out has been confirmed. */
  get settled(): boolean {
    return this.#handedOut <= this.#confirmed;
  }

  /**
   * The idle rule: confirms `walEnd` when nothing is in flight, i.e. every
   * batch handed out is confirmed and `holdingNothing` (the caller buffers no
   * change). Returns true when the confirmed position moved.
   */
  confirmIdle(walEnd: Lsn, holdingNothing: boolean): boolean {
    if (!holdingNothing || !this.settled) return false;
    const moved = this.confirm(walEnd);
    if (moved) this.#handedOut = maxLsn(this.#handedOut, walEnd);
    return moved;
  }

  /**
   * After a reconnect the stream restarts at `confirmed`: what was handed out
   * but not confirmed comes again. `handedOut` stays, so the idle rule waits
   * until those batches (or their re-deliveries) are confirmed.
   */
  restart(): void {
    this.#received = this.#confirmed;
  }

  /** The status update to send now. */
  encode(nowMs: number, replyRequested: boolean): Buffer {
    const c = this.#confirmed;
    return encodeStandbyStatus({ write: c, flush: c, apply: c }, nowMs, replyRequested);
  }
}
