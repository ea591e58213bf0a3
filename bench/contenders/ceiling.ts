/**
 * The ceiling: how fast Postgres itself can emit the changes, measured with
 * its own C clients writing to /dev/null. Streams: `pg_recvlogical` with the
 * same pgoutput options as etl-stream, exiting at the workload's end LSN
 * (`--endpos`). Snapshot: `psql` running `COPY table TO STDOUT`.
 */
import { spawn } from 'node:child_process';
import { ChildRssWatcher } from '../metrics.js';
import { describeProtocol, type PgoutputOptions, recvlogicalOptions } from '../pgoutput-options.js';
import type { ContenderResult } from './contender.js';

/** Keep stderr for the error message, but never unboundedly. */
const MAX_STDERR_CHARS = 4000;

export interface StreamCeilingOptions {
  /** Path of `pg_recvlogical`. */
  readonly program: string;
  readonly url: string;
  readonly slot: string;
  readonly publication: string;
  /** WAL position after the workload's last commit: pg_recvlogical exits there. */
  readonly endLsn: string;
  readonly protocol: PgoutputOptions;
  readonly rows: number;
  readonly timeoutMs: number;
}

/** Drains the slot with `pg_recvlogical --start --endpos` into /dev/null. */
export function streamCeiling(opts: StreamCeilingOptions): Promise<ContenderResult> {
  const args = [
    '--start',
    '--no-loop',
    '-d',
    opts.url,
    '-S',
    opts.slot,
    '--endpos',
    opts.endLsn,
    ...recvlogicalOptions(opts.protocol, opts.publication),
    '-f',
    '/dev/null',
  ];
  return timedProgram(opts.program, args, opts.rows, opts.timeoutMs, describeProtocol(opts.protocol));
}

export interface SnapshotCeilingOptions {
  /** Path of `psql`. */
  readonly program: string;
  readonly url: string;
  readonly table: string;
  readonly rows: number;
  readonly timeoutMs: number;
}

/** Copies the whole table out with `COPY … TO STDOUT` (text format) into /dev/null. */
export function snapshotCeiling(opts: SnapshotCeilingOptions): Promise<ContenderResult> {
  const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', opts.url, '-c', `COPY ${opts.table} TO STDOUT`];
  return timedProgram(opts.program, args, opts.rows, opts.timeoutMs, 'COPY text');
}

/** Runs a program with stdout to /dev/null and times it from spawn to exit. */
function timedProgram(
  program: string,
  args: string[],
  rows: number,
  timeoutMs: number,
  protocol: string,
): Promise<ContenderResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const rss = child.pid === undefined ? undefined : new ChildRssWatcher(child.pid);
    let stderr = '';
    child.stderr.on('data', (d) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      rss?.stop();
      resolve({ status: 'failed', reason: `cannot run ${program}: ${err.message}` });
    });
    child.once('exit', (code, signal) => {
      const elapsedMs = performance.now() - started;
      clearTimeout(timer);
      const { peakRssMb, cpuMs } = rss?.stop() ?? { peakRssMb: undefined, cpuMs: undefined };
      if (code !== 0) {
        const why = signal === 'SIGKILL' ? `timed out after ${timeoutMs} ms` : `exited ${code ?? signal}`;
        resolve({ status: 'failed', reason: `${program} ${why}: ${stderr.trim()}` });
        return;
      }
      resolve({
        status: 'ok',
        rows,
        elapsedMs,
        peakRssMb,
        cpuMs,
        eventLoopDelayP99Ms: undefined,
        latency: undefined,
        phases: undefined,
        protocol,
      });
    });
  });
}
