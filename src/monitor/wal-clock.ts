import type { Lsn } from '../lsn.js';

/** At one check every 10 s this covers about 11 hours; older lag is reported as at least that old. */
const MAX_SAMPLES = 4096;

/**
 * Estimates how old a WAL position is, from samples of one server's WAL head
 * taken at each check: Postgres does not record when WAL was written, but the
 * monitor saw the head pass each position. {@link WalClock.ageMs} is a lower
 * bound (the time since the first sample whose head was past the position),
 * so a lag-time alert never fires early; its resolution is the check interval.
 *
 * @example
 * ```ts
 * const clock = new WalClock();
 * clock.sample(reading.currentLsn, reading.checkedAt);
 * const lagMs = clock.ageMs(reading.confirmedFlushLsn, reading.checkedAt);
 * ```
 */
export class WalClock {
  private readonly times: number[] = [];
  private readonly heads: Lsn[] = [];

  /** Records the WAL head seen at `at` (ms). Heads that go backwards (a restored server) restart the record. */
  sample(head: Lsn, at: number): void {
    const last = this.heads[this.heads.length - 1];
    if (last !== undefined && head < last) {
      this.times.length = 0;
      this.heads.length = 0;
    }
    if (last !== undefined && head === last) return; // the earliest time a head was seen is what counts
    this.times.push(at);
    this.heads.push(head);
    if (this.times.length > MAX_SAMPLES) {
      this.times.shift();
      this.heads.shift();
    }
  }

  /** How long ago (ms, at `now`) the head first moved past `position`; 0 when it has not, or no sample exists. */
  ageMs(position: Lsn, now: number): number {
    // Binary search for the first sample whose head is beyond `position`.
    let lo = 0;
    let hi = this.heads.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.heads[mid]! > position) hi = mid;
      else lo = mid + 1;
    }
    const at = this.times[lo];
    return at === undefined ? 0 : Math.max(0, now - at);
  }
}
