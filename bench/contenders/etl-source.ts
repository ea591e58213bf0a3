/**
 * etl-stream's source alone: PostgresSource → Arrow batches → a null
 * destination, through the real `Pipeline` runtime (batching, in-flight
 * bound, state, confirm), as a user runs it.
 */
import type { Destination } from '../../src/pipeline/destination.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { BatchLimits } from '../../src/pipeline/source.js';
import { postgres } from '../../src/postgres/postgres-source.js';
import { describeProtocol } from '../pgoutput-options.js';
import type { ContenderRun, NodeContender, RunReport } from './contender.js';
import { nullDestination } from './null-destination.js';
import { PhaseTimer } from './phase-timer.js';

/** Pipeline name; also the state key (in-memory state). The slot is the harness's, passed explicitly. */
const PIPELINE_NAME = 'bench';

/**
 * Batch limits of the latency workload: cut at every commit boundary instead
 * of waiting up to the default 1 s for a batch to fill, which is what a
 * latency-sensitive user configures. Every other workload runs with the
 * defaults (50,000 rows, 64 MiB, 1 s).
 */
export const LATENCY_BATCH: Partial<BatchLimits> = { maxDelayMs: 0 };

export const etlSource: NodeContender = async (run) => {
  const destination = nullDestination(run.goal, { arrivals: run.job.workload.kind === 'latency' });
  return runPipeline(run, destination);
};

/** The same, into a destination throttled to a tenth of etl-source's speed: the memory-bound test. */
export const etlThrottled: NodeContender = async (run) => {
  const throttleRowsPerSec = run.job.throttleRowsPerSec;
  if (!throttleRowsPerSec) throw new Error("etl-throttled needs etl-source's rows/s on the same workload");
  return runPipeline(run, nullDestination(run.goal, { arrivals: false, throttleRowsPerSec }));
};

/**
 * Runs a pipeline into `destination` until the goal is reached, then stops it.
 * Stream and latency workloads read the harness's slot, created before the
 * load (`snapshot: 'never'`: the slot's changes only, like the other
 * contenders). The snapshot workload lets the source create its slot and copy
 * the table from the slot's exported snapshot (`snapshot: 'initial'`).
 */
export async function runPipeline(
  run: ContenderRun,
  destination: Destination,
  timer = new PhaseTimer(),
): Promise<RunReport> {
  const { job, goal } = run;
  if (!job.slot) throw new Error('etl-stream contenders need a slot name');
  const snapshot = job.workload.kind === 'snapshot';
  const source = postgres({
    connectionString: job.url,
    publication: job.workload.publication,
    tables: [job.workload.table],
    slot: job.slot,
    snapshot: snapshot ? 'initial' : 'never',
  });
  const pipeline = new Pipeline({ name: PIPELINE_NAME })
    .from(timer.source(source))
    .to(timer.destination(destination));
  pipeline.batch({ ...job.batch, ...(job.workload.kind === 'latency' ? LATENCY_BATCH : {}) });
  let failure: unknown;
  pipeline.on('error', ({ error, fatal }) => {
    if (fatal) failure ??= error;
  });
  await pipeline.start({ signal: run.signal });
  try {
    run.ready();
    await Promise.race([goal.reached, pipeline.wait()]);
    if (!goal.done) {
      throw new Error(
        `pipeline ended after ${goal.rows} rows, before the workload's end${failure ? `: ${String(failure)}` : ''}`,
      );
    }
  } finally {
    await pipeline.stop();
  }
  return {
    protocol: snapshot ? 'COPY binary keyset chunks' : describeProtocol(job.protocol),
    phases: timer.times(),
  };
}
