/**
 * What every contender is given and what it hands back. The ceiling runs in
 * the harness process (it is a C program); the Node contenders each run in a
 * fresh child process so their peak RSS and event-loop delay are their own.
 */
import type { BatchLimits } from '../../src/pipeline/source.js';
import type { LatencySummary } from '../metrics.js';
import type { PgoutputOptions } from '../pgoutput-options.js';
import type { WorkloadKind, WorkloadName } from '../workloads.js';
import type { RowGoal } from './row-goal.js';

/**
 * The glibc setting the `etl-hugepages` contender runs with: malloc asks for
 * transparent huge pages for its large (mmap'd) allocations, where Arrow's
 * value buffers live. See docs/performance.md.
 */
export const HUGEPAGES_TUNABLE = 'GLIBC_TUNABLES=glibc.malloc.hugetlb=1';

export const CONTENDERS = [
  'ceiling',
  'baseline',
  'etl-source',
  'etl-duckdb',
  'etl-snowflake',
  'etl-throttled',
  'etl-hugepages',
] as const;
export type ContenderName = (typeof CONTENDERS)[number];

/** One line per contender for the report's legend. */
export const CONTENDER_DESCRIPTIONS: Record<ContenderName, string> = {
  ceiling: 'pg_recvlogical → /dev/null (snapshot: psql COPY → /dev/null): how fast Postgres emits',
  baseline: 'pg-logical-replication 2.5 + PgoutputPlugin counting rows (snapshot: pg keyset pages)',
  'etl-source': 'etl-stream PostgresSource → Arrow batches → null destination, through the real Pipeline',
  'etl-duckdb': 'etl-stream end to end into the embedded DuckDB destination',
  'etl-snowflake': 'etl-stream end to end into the Snowflake emulator',
  'etl-throttled':
    "etl-stream into a null destination throttled to 1/10 of etl-source's rows/s (insert only: peak RSS)",
  'etl-hugepages': `etl-source in a process started with ${HUGEPAGES_TUNABLE} (toast only: large Arrow buffers on huge pages)`,
};

/**
 * Whether a contender runs on a workload at all: the throttled run is the
 * insert workload's memory test; the huge-pages run is for the workload whose
 * time goes to faulting in fresh buffer memory; latency is measured into the
 * null destination (the target), not end to end.
 */
export function runsOn(contender: ContenderName, workload: WorkloadName): boolean {
  if (contender === 'etl-throttled') return workload === 'insert';
  if (contender === 'etl-hugepages') return workload === 'toast';
  if (contender === 'etl-duckdb' || contender === 'etl-snowflake') return workload !== 'latency';
  return true;
}

/** The part of a workload a contender needs. */
export interface WorkloadRef {
  readonly name: WorkloadName;
  readonly kind: WorkloadKind;
  readonly table: string;
  readonly publication: string;
  /** Rows to receive; for latency runs the exact number arrives later. */
  readonly rows: number;
}

/** Where a Snowflake emulator listens and who may log in: nothing here is a secret. */
export interface EmulatorLogin {
  readonly accessUrl: string;
  readonly account: string;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly schema: string;
  readonly warehouse: string;
  readonly role: string;
}

/** What a Node contender's process is told to do. */
export interface ContenderJob {
  readonly contender: ContenderName;
  readonly workload: WorkloadRef;
  readonly url: string;
  /** The slot to drain (stream and latency workloads); the snapshot workload has none. */
  readonly slot: string | undefined;
  readonly protocol: PgoutputOptions;
  /** etl-throttled: the rows/s its destination lets through. */
  readonly throttleRowsPerSec?: number;
  /** etl-snowflake: the emulator the harness started for this run (in its own process). */
  readonly snowflake?: EmulatorLogin;
  /** Give up after this long. */
  readonly timeoutMs: number;
  /**
   * Batch limits of etl-stream pipelines when not the defaults: quick runs
   * scale them down with the workloads, so a quick run cuts as many batches
   * per workload as a full one.
   */
  readonly batch?: Partial<BatchLimits>;
  /** Write a V8 CPU profile of the timed section here (`--cpu-prof`). */
  readonly cpuProfilePath?: string;
}

/** Where the time of an etl-stream run went, in ms summed over batches. */
export interface PhaseTimes {
  /** Waiting for the source's next batch: socket, decode into Arrow, batching. */
  readonly decodeMs?: number;
  /** Inside destination writes, until durable (encode + upload + apply for end-to-end contenders). */
  readonly writeMs?: number;
  /** Arrow → Parquet on the worker pool. */
  readonly encodeMs?: number;
  /** PUT of the Parquet files to the stage (Snowflake). */
  readonly uploadMs?: number;
  /** Loading staged files, MERGE, watermark and COMMIT. */
  readonly applyMs?: number;
}

/** A contender's outcome on one workload. */
export type ContenderResult =
  | {
      readonly status: 'ok';
      readonly rows: number;
      readonly elapsedMs: number;
      readonly peakRssMb: number | undefined;
      /**
       * CPU time (user + system) the contender's process used over the run, in
       * ms: near the elapsed time, the client itself is the bottleneck.
       */
      readonly cpuMs?: number | undefined;
      /** CPU time of the walsender that streamed to the contender, in ms (stream workloads). */
      readonly walsenderCpuMs?: number | undefined;
      /** Undefined for the ceiling (not a Node process). */
      readonly eventLoopDelayP99Ms: number | undefined;
      readonly latency: LatencySummary | undefined;
      /**
       * Latency runs, from the contender process to the harness only: when each
       * row arrived, by id. The harness turns them into {@link latency} with the
       * rows' commit timestamps and drops them from the result.
       */
      readonly arrivals?: { readonly ids: readonly number[]; readonly atMs: readonly number[] };
      readonly phases: PhaseTimes | undefined;
      readonly protocol: string | undefined;
      /** Anything else worth a word in the table (e.g. the writer's achieved rate). */
      readonly note?: string;
    }
  | { readonly status: 'unavailable' | 'failed'; readonly reason: string };

/** Messages from a contender process to the harness. */
export type ContenderMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly result: ContenderResult };

/** Messages from the harness to a contender process. */
export type HarnessMessage =
  | { readonly type: 'job'; readonly job: ContenderJob }
  /** Latency runs: the writer finished; this many rows were written. */
  | { readonly type: 'expect'; readonly rows: number };

/** What a Node contender reports besides the rows its {@link RowGoal} counted. */
export interface RunReport {
  readonly phases?: PhaseTimes;
  readonly protocol?: string;
}

/**
 * What a Node contender's run function gets: the job, the goal to count rows
 * (and latencies) into, and `ready()` to call once it is streaming.
 */
export interface ContenderRun {
  readonly job: ContenderJob;
  readonly goal: RowGoal;
  readonly signal: AbortSignal;
  ready(): void;
}

/** A Node contender: resolves once `run.goal` is reached and everything is closed. */
export type NodeContender = (run: ContenderRun) => Promise<RunReport>;

/** Thrown by a contender whose code has not landed yet; reported as `unavailable`, not as a failure. */
export class ContenderUnavailable extends Error {
  override readonly name = 'ContenderUnavailable';
}
