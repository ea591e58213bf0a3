/**
 * What the benchmark measures, and how: throughput from elapsed time, rows and
 * WAL bytes; peak resident memory; event-loop delay; latency percentiles.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** Event-loop delay is sampled at this resolution; finer costs CPU, coarser hides short stalls. */
const EVENT_LOOP_RESOLUTION_MS = 10;
/** How often peak RSS is sampled where the kernel's high-water mark is not readable (non-Linux). */
const RSS_SAMPLE_INTERVAL_MS = 20;
const BYTES_PER_MB = 1024 * 1024;
const NS_PER_MS = 1e6;

/** Throughput of one timed run. */
export interface Throughput {
  readonly elapsedMs: number;
  readonly rowsPerSec: number;
  readonly mbPerSec: number;
}

/** Rows/s and MB/s for `rows` rows and `bytes` bytes (WAL or table bytes) moved in `elapsedMs`. */
export function throughput(rows: number, bytes: number, elapsedMs: number): Throughput {
  const seconds = Math.max(elapsedMs, 1e-3) / 1000;
  return { elapsedMs, rowsPerSec: rows / seconds, mbPerSec: bytes / BYTES_PER_MB / seconds };
}

/** The `q`-quantile (0..1) of `values`, nearest-rank; undefined when empty. Sorts a copy. */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** p50 and p99 of latency samples in ms. */
export interface LatencySummary {
  readonly samples: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly maxMs: number | undefined;
}

export function summarizeLatency(samplesMs: readonly number[]): LatencySummary {
  return {
    samples: samplesMs.length,
    p50Ms: percentile(samplesMs, 0.5),
    p99Ms: percentile(samplesMs, 0.99),
    maxMs: percentile(samplesMs, 1),
  };
}

/** Wall-clock time now, in milliseconds since the Unix epoch, with sub-millisecond precision. */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Peak resident set size of a process in MB: the kernel's high-water mark (`VmHWM`), when readable. */
export function peakRssMb(pid: number | 'self' = 'self'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/**
 * Observes this process while a contender runs: event-loop delay (p99) and
 * peak RSS. Start it right before the timed section, stop it right after.
 */
export class ProcessProbe {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({
    resolution: EVENT_LOOP_RESOLUTION_MS,
  });
  private sampledPeakBytes = 0;
  private sampler: NodeJS.Timeout | undefined;
  private cpuAtStart: NodeJS.CpuUsage | undefined;

  start(): void {
    this.cpuAtStart = process.cpuUsage();
    this.histogram.enable();
    this.sampler = setInterval(() => {
      this.sampledPeakBytes = Math.max(this.sampledPeakBytes, process.memoryUsage.rss());
    }, RSS_SAMPLE_INTERVAL_MS);
    this.sampler.unref();
  }

  stop(): { peakRssMb: number | undefined; eventLoopDelayP99Ms: number | undefined; cpuMs: number } {
    const cpu = process.cpuUsage(this.cpuAtStart);
    this.histogram.disable();
    if (this.sampler) clearInterval(this.sampler);
    this.sampledPeakBytes = Math.max(this.sampledPeakBytes, process.memoryUsage.rss());
    const p99 = this.histogram.count > 0 ? this.histogram.percentile(99) / NS_PER_MS : undefined;
    return {
      peakRssMb: peakRssMb() ?? this.sampledPeakBytes / BYTES_PER_MB,
      // The histogram counts the resolution itself as delay; report only what exceeds it.
      eventLoopDelayP99Ms: p99 === undefined ? undefined : Math.max(0, p99 - EVENT_LOOP_RESOLUTION_MS),
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
  }
}

/** CPU time (user + system) of a process in ms, from `/proc/<pid>/stat`; undefined when unreadable. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at index 0 = state; utime, stime are 11, 12.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SEC : undefined;
  } catch {
    return undefined;
  }
}

/** `sysconf(_SC_CLK_TCK)` on every Linux the benchmark runs on. */
const CLOCK_TICKS_PER_SEC = 100;

/**
 * Polls another process's peak RSS (`VmHWM`) and CPU time until stopped;
 * keeps the last values read (the CPU time is then up to one interval short).
 */
export class ChildRssWatcher {
  private last: number | undefined;
  private lastCpuMs: number | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  private sample(): void {
    this.last = peakRssMb(this.pid) ?? this.last;
    this.lastCpuMs = processCpuMs(this.pid) ?? this.lastCpuMs;
  }

  stop(): { peakRssMb: number | undefined; cpuMs: number | undefined } {
    clearInterval(this.timer);
    return { peakRssMb: this.last, cpuMs: this.lastCpuMs };
  }
}

/** A V8 CPU profile of this process's main thread between `start()` and `stop()` (for `--cpu-prof`). */
export class CpuProfiler {
  private constructor(private readonly session: Session) {}

  static async start(): Promise<CpuProfiler> {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    return new CpuProfiler(session);
  }

  /** Stops and writes the profile (open it in Chrome DevTools or speedscope). */
  async stop(path: string): Promise<void> {
    const { profile } = await this.session.post('Profiler.stop');
    writeFileSync(path, JSON.stringify(profile));
    this.session.disconnect();
  }
}
