import { createHash } from 'node:crypto';

/** What one worker knows when it decides which pipelines to take or hand over. */
export interface BalanceInput {
  /** This worker. */
  readonly me: string;
  /** Live workers (this one included or not). */
  readonly workers: readonly string[];
  /** Pipelines that should run: enabled and valid. */
  readonly runnable: readonly string[];
  /** Current lease owner per pipeline (absent: free). */
  readonly owners: ReadonlyMap<string, string>;
  /** Pipelines this worker runs now. */
  readonly mine: readonly string[];
  /** This worker never runs more than this many pipelines. */
  readonly maxPipelines: number;
}

/** What this worker should do now. */
export interface BalancePlan {
  /** How many pipelines this worker should run. */
  readonly quota: number;
  /** Free pipelines to try, best first: take them in order until the quota is reached. */
  readonly acquire: readonly string[];
  /** Pipelines to hand over (stop with a drain, release the lease). */
  readonly shed: readonly string[];
}

/**
 * Even spread with deterministic quotas: with P runnable pipelines and W live
 * workers (sorted by id), the worker of rank r runs ⌊P/W⌋ pipelines, plus one
 * when r < P mod W, capped at `maxPipelines`. The quotas add up to P, so a
 * worker below its quota always finds a free pipeline once the others settle
 * at theirs. A worker takes free pipelines up to its quota and hands over
 * those above it; pipelines it already runs stay where they are (no churn),
 * and free pipelines are tried in an order that differs per worker
 * (rendezvous hashing), so workers rarely race for the same one.
 */
export function planBalance(input: BalanceInput): BalancePlan {
  const workers = [...new Set([...input.workers, input.me])].sort();
  const runnable = new Set(input.runnable);
  const count = runnable.size;
  const rank = workers.indexOf(input.me);
  const base = Math.floor(count / workers.length);
  const quota = Math.min(input.maxPipelines, base + (rank < count % workers.length ? 1 : 0));
  const mine = input.mine.filter((p) => runnable.has(p));
  const byPreference = (list: readonly string[]) =>
    [...list].sort((a, b) => score(input.me, a).localeCompare(score(input.me, b)) || a.localeCompare(b));
  if (mine.length > quota) {
    // Hand over the ones this worker likes least, so the same ones do not come straight back.
    const shed = byPreference(mine).slice(quota);
    return { quota, acquire: [], shed };
  }
  const free = input.runnable.filter((p) => !input.owners.has(p) && !mine.includes(p));
  return { quota, acquire: mine.length < quota ? byPreference(free) : [], shed: [] };
}

/** Rendezvous score: the worker's preference for a pipeline (lower is preferred). */
function score(worker: string, pipeline: string): string {
  return createHash('sha1').update(`${worker}\u0000${pipeline}`).digest('hex');
}
