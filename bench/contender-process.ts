/**
 * Entry point of the child process that runs one Node contender on one
 * workload, so that its peak RSS and event-loop delay are its own. Speaks to
 * the harness over the IPC channel (see {@link ContenderMessage}).
 */
import { baseline } from './contenders/baseline.js';
import {
  type ContenderJob,
  type ContenderMessage,
  type ContenderName,
  type ContenderResult,
  ContenderUnavailable,
  type HarnessMessage,
  type NodeContender,
} from './contenders/contender.js';
import { etlDuckdb, etlSnowflake } from './contenders/etl-end-to-end.js';
import { etlSource, etlThrottled } from './contenders/etl-source.js';
import { RowGoal } from './contenders/row-goal.js';
import { CpuProfiler, ProcessProbe } from './metrics.js';

const NODE_CONTENDERS: Partial<Record<ContenderName, NodeContender>> = {
  baseline,
  'etl-source': etlSource,
  'etl-duckdb': etlDuckdb,
  'etl-snowflake': etlSnowflake,
  'etl-throttled': etlThrottled,
  'etl-hugepages': etlSource,
};

function send(msg: ContenderMessage): Promise<void> {
  return new Promise((resolve) => process.send!(msg, () => resolve()));
}

async function run(job: ContenderJob): Promise<ContenderResult> {
  const contender = NODE_CONTENDERS[job.contender];
  if (!contender) return { status: 'failed', reason: `${job.contender} is not a Node contender` };
  const goal = new RowGoal(job.workload.kind === 'latency' ? undefined : job.workload.rows);
  process.on('message', (msg: HarnessMessage) => {
    if (msg.type === 'expect') goal.expect(msg.rows);
  });
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new Error(`timed out after ${job.timeoutMs} ms with ${goal.rows} rows`)),
    job.timeoutMs,
  );
  const timedOut = new Promise<never>((_, reject) =>
    abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true }),
  );
  const probe = new ProcessProbe();
  let reachedAt: number | undefined;
  void goal.reached.then(() => (reachedAt = performance.now()));
  const profiler = job.cpuProfilePath ? await CpuProfiler.start() : undefined;
  probe.start();
  const started = performance.now();
  try {
    const report = await Promise.race([
      contender({ job, goal, signal: abort.signal, ready: () => void send({ type: 'ready' }) }),
      timedOut,
    ]);
    const elapsedMs = (reachedAt ?? performance.now()) - started;
    const { peakRssMb, eventLoopDelayP99Ms, cpuMs } = probe.stop();
    if (profiler && job.cpuProfilePath) await profiler.stop(job.cpuProfilePath);
    return {
      status: 'ok',
      rows: goal.rows,
      elapsedMs,
      peakRssMb,
      cpuMs,
      eventLoopDelayP99Ms,
      latency: undefined,
      ...(goal.arrivalIds.length > 0 ? { arrivals: { ids: goal.arrivalIds, atMs: goal.arrivalMs } } : {}),
      phases: report.phases,
      protocol: report.protocol,
    };
  } catch (err) {
    probe.stop();
    if (err instanceof ContenderUnavailable) return { status: 'unavailable', reason: err.message };
    return { status: 'failed', reason: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

process.once('message', async (msg: HarnessMessage) => {
  if (msg.type !== 'job') return;
  const result = await run(msg.job);
  await send({ type: 'result', result });
  process.exit(0);
});
