import type { Lsn } from '../../lsn.js';
import type { StagedChunk, StagedTablePart } from './batch-stager.js';
import type { SnowflakeSession } from './snowflake-session.js';
import {
  appendSql,
  BEGIN_SQL,
  COMMIT_SQL,
  clearTableSql,
  copyIntoSql,
  fillMovedSql,
  type MergeColumn,
  mergeSql,
  movesLeftSql,
  type ObjectRef,
  ROLLBACK_SQL,
  removeStagedSql,
  truncateSql,
  upsertWatermarkSql,
} from './sql.js';

/** What {@link applyChunks} writes to. */
export interface ApplyTarget {
  readonly pipeline: string;
  readonly stage: ObjectRef;
  readonly watermark: ObjectRef;
}

/** One table's work across all chunks of a unit. */
interface TableWork {
  readonly key: string;
  readonly part: StagedTablePart;
  readonly files: { prefix: string; files: string[] }[];
  readonly unchanged: Set<number>;
  moves: boolean;
  truncateSeq?: bigint;
  truncateLsn?: bigint;
}

/**
 * Steps 3–4 of a batch, on one session: COPY each table's staged files into
 * its (emptied) staging table, then in **one transaction** apply TRUNCATEs,
 * one MERGE (or append) per table — after resolving key changes in the
 * staging table ({@link fillMovedSql}, one round per link of a chain) —
 * and move the pipeline's watermark to
 * `commitLsn`; COMMIT. A failure inside the transaction is followed by a
 * ROLLBACK (Snowflake leaves the transaction open after a failed statement).
 *
 * A rejection at COMMIT leaves the outcome unknown; the caller re-reads the
 * watermark before retrying.
 */
export async function applyChunks(
  session: SnowflakeSession,
  target: ApplyTarget,
  chunks: readonly StagedChunk[],
  commitLsn: Lsn,
  signal: AbortSignal,
): Promise<void> {
  const work = collect(chunks);
  const run = (sql: string, step: string, table?: string, binds?: unknown[]) =>
    session.execute(sql, binds, { step, ...(table ? { table } : {}) }, signal);
  for (const w of work) {
    if (w.files.length === 0) continue;
    await run(clearTableSql(w.part.plan.staging), 'clear staging', w.key);
    for (const f of w.files) {
      await run(copyIntoSql(w.part.plan.staging, target.stage, `${f.prefix}/`, f.files), 'copy', w.key);
    }
  }
  await run(BEGIN_SQL, 'begin');
  try {
    for (const w of work) {
      const plan = w.part.plan;
      if (w.truncateSeq !== undefined) {
        const binds = plan.mode === 'merge-soft' ? [String(w.truncateLsn ?? commitLsn)] : undefined;
        await run(truncateSql(plan.target, plan.mode), 'truncate', w.key, binds);
      }
      if (w.files.length === 0) continue;
      const columns: MergeColumn[] = plan.columns.map((c) => ({
        ...c,
        unchanged: w.unchanged.has(c.position),
      }));
      const base = {
        target: plan.target,
        staging: plan.staging,
        columns,
        moves: w.moves,
        ...(w.truncateSeq === undefined ? {} : { afterSeq: w.truncateSeq }),
      };
      if (plan.mode === 'append') {
        await run(appendSql(base), 'append', w.key);
        continue;
      }
      const merge = { ...base, mode: plan.mode };
      if (w.moves && columns.some((c) => c.unchanged && !c.key)) {
        // Key changes first take what the old key held; a chain 1 → 2 → 3 resolves one link per round.
        const left = async () => Number((await run(movesLeftSql(merge), 'key changes', w.key))[0]?.N ?? 0);
        let n = await left();
        for (let rounds = n; n > 0 && rounds > 0; rounds--) {
          await run(fillMovedSql(merge), 'key changes', w.key);
          n = await left();
        }
      }
      await run(mergeSql(merge), 'merge', w.key);
    }
    await run(upsertWatermarkSql(target.watermark), 'watermark', undefined, [
      target.pipeline,
      commitLsn.toString(),
    ]);
  } catch (err) {
    // A broken session (timeout, network) is logged out on release, which ends its transaction.
    if (!session.broken) {
      await session.execute(ROLLBACK_SQL, undefined, { step: 'rollback' }).catch(() => {
        session.broken = true;
      });
    }
    throw err;
  }
  await run(COMMIT_SQL, 'commit');
}

/**
 * Step 5, after COMMIT: empties the staging tables and removes the staged
 * files. Best effort: the data is durable already, and the next batch empties
 * staging tables before loading them anyway.
 */
export async function cleanUp(
  session: SnowflakeSession,
  target: ApplyTarget,
  chunks: readonly StagedChunk[],
  signal: AbortSignal,
): Promise<unknown[]> {
  const failures: unknown[] = [];
  const attempt = (p: Promise<unknown>) => p.catch((err: unknown) => failures.push(err));
  for (const w of collect(chunks)) {
    if (w.files.length > 0)
      await attempt(
        session.execute(
          clearTableSql(w.part.plan.staging),
          undefined,
          { step: 'cleanup', table: w.key },
          signal,
        ),
      );
  }
  for (const c of chunks) {
    await attempt(
      session.execute(removeStagedSql(target.stage, `${c.prefix}/`), undefined, { step: 'cleanup' }, signal),
    );
  }
  return failures;
}

/** Merges the chunks' per-table parts, keeping the order tables first appeared in. */
function collect(chunks: readonly StagedChunk[]): TableWork[] {
  const byKey = new Map<string, TableWork>();
  for (const chunk of chunks) {
    for (const [key, part] of chunk.tables) {
      let w = byKey.get(key);
      if (!w) {
        w = { key, part, files: [], unchanged: new Set(), moves: false };
        byKey.set(key, w);
      } else {
        // A later chunk carries the table's latest plan.
        w = { ...w, part };
        byKey.set(key, w);
      }
      if (part.files.length > 0) w.files.push({ prefix: chunk.prefix, files: part.files });
      for (const p of part.unchanged) w.unchanged.add(p);
      if (part.moves) w.moves = true;
      if (
        part.truncateSeq !== undefined &&
        (w.truncateSeq === undefined || part.truncateSeq > w.truncateSeq)
      ) {
        w.truncateSeq = part.truncateSeq;
        w.truncateLsn = part.truncateLsn;
      }
    }
  }
  return [...byKey.values()];
}
