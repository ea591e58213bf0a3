import type { Int64 } from 'apache-arrow';
import { sleep } from '../../src/async/abortable-sleep.js';
import type { Destination } from '../../src/pipeline/destination.js';
import { epochNowMs } from '../metrics.js';
import type { RowGoal } from './row-goal.js';

/** The latency workload's key: arrivals are recorded by it. */
const ID_COLUMN = 'id';

/**
 * A destination that keeps nothing: counts rows into `goal` and, when
 * `arrivals`, records the moment each row (by its `id`) is handed over, for
 * latency runs. Durable at once, so the pipeline's own
 * cost is all that is measured — unless `throttleRowsPerSec` is set: then
 * each write takes as long as that rate allows, a slow destination that
 * must push backpressure all the way to the socket.
 */
export function nullDestination(
  goal: RowGoal,
  opts: { arrivals: boolean; throttleRowsPerSec?: number | undefined },
): Destination {
  const throttle = opts.throttleRowsPerSec;
  return {
    name: throttle ? 'throttled' : 'null',
    async write(batch, { signal }) {
      if (throttle) await sleep((batch.numRows / throttle) * 1000, signal);
      const now = epochNowMs();
      for (const entry of batch.rowEntries()) {
        if (opts.arrivals) {
          const ids = entry.data.getChild(ID_COLUMN);
          if (ids) for (const v of ids as unknown as Iterable<Int64['TValue']>) goal.arrived(Number(v), now);
        }
        goal.add(entry.data.numRows);
      }
    },
    async close() {},
  };
}
