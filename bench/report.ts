/**
 * The benchmark's output: an aligned table (workload × contender) on stdout,
 * the targets of issue #7 checked against it, and the whole result as
 * `bench/results/<YYYY-MM-DD>.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  CONTENDER_DESCRIPTIONS,
  type ContenderName,
  type ContenderResult,
  type PhaseTimes,
} from './contenders/contender.js';
import type { ReplayResult } from './decode-replay.js';
import type { Machine } from './machine.js';
import { throughput } from './metrics.js';
import type { WorkloadKind, WorkloadName } from './workloads.js';

/** Targets from issue #7. */
const TARGET_SOURCE_VS_CEILING = 0.9;
const TARGET_DECODE_SPEEDUP = 3;
const TARGET_ADDED_LATENCY_P99_MS = 1;
const TARGET_EVENT_LOOP_P99_MS = 20;
const TARGET_SNAPSHOT_ROWS_PER_SEC = 200_000;
const TARGET_PEAK_RSS_MB = 300;

/** One contender's line in a workload. */
export interface ContenderLine {
  readonly contender: ContenderName;
  readonly result: ContenderResult;
  readonly rowsPerSec: number | undefined;
  readonly mbPerSec: number | undefined;
  readonly vsCeiling: number | undefined;
  readonly vsBaseline: number | undefined;
}

export interface WorkloadReport {
  readonly name: WorkloadName;
  readonly kind: WorkloadKind;
  readonly description: string;
  readonly rows: number;
  /**
   * WAL bytes between the slots' start and the load's end (snapshot: heap +
   * TOAST bytes of the table); 0 for the latency workload, whose MB/s is not reported.
   */
  readonly bytes: number;
  readonly bytesOf: 'wal' | 'table';
  readonly lines: readonly ContenderLine[];
}

export interface BenchReport {
  readonly date: string;
  readonly startedAt: string;
  readonly durationSec: number;
  readonly quick: boolean;
  /** Workload rows were divided by this (1: full size; 10: quick). */
  readonly scale: number;
  readonly command: string;
  readonly machine: Machine;
  readonly contenders: Record<ContenderName, string>;
  readonly workloads: readonly WorkloadReport[];
  readonly decodeReplay: readonly ReplayResult[];
}

/** Turns raw results into rates and ratios against the ceiling and the baseline of the same workload. */
export function workloadReport(
  w: Omit<WorkloadReport, 'lines'>,
  results: ReadonlyMap<ContenderName, ContenderResult>,
): WorkloadReport {
  const rate = (r: ContenderResult | undefined) =>
    r?.status === 'ok' && w.kind !== 'latency' ? throughput(r.rows, w.bytes, r.elapsedMs) : undefined;
  const ceiling = rate(results.get('ceiling'))?.rowsPerSec;
  const base = rate(results.get('baseline'))?.rowsPerSec;
  const lines: ContenderLine[] = [];
  for (const [contender, result] of results) {
    const t = rate(result);
    lines.push({
      contender,
      result,
      rowsPerSec: t?.rowsPerSec,
      mbPerSec: w.bytes > 0 ? t?.mbPerSec : undefined,
      vsCeiling: t && ceiling && w.kind !== 'latency' ? t.rowsPerSec / ceiling : undefined,
      vsBaseline: t && base && w.kind !== 'latency' ? t.rowsPerSec / base : undefined,
    });
  }
  return { ...w, lines };
}

const HEADERS = [
  'workload',
  'contender',
  'rows/s',
  'MB/s',
  '×ceiling',
  '×baseline',
  'p50 ms',
  'p99 ms',
  'RSS MB',
  'CPU %',
  'WS CPU %',
  'ELD p99 ms',
  'note',
] as const;

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The workload × contender table, columns aligned; reasons for missing contenders as numbered notes. */
export function formatTable(report: BenchReport): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const w of report.workloads) {
    for (const line of w.lines) {
      const r = line.result;
      if (r.status !== 'ok') {
        // One note per distinct reason: a part that has not landed is named once, not once per workload.
        let note = notes.indexOf(r.reason) + 1;
        if (note === 0) note = notes.push(r.reason);
        rows.push([w.name, line.contender, ...Array<string>(10).fill('—'), `${r.status} [${note}]`]);
        continue;
      }
      rows.push([
        w.name,
        line.contender,
        fmt(line.rowsPerSec),
        fmt(line.mbPerSec, 1),
        fmt(line.vsCeiling, 2),
        fmt(line.vsBaseline, 2),
        fmt(r.latency?.p50Ms, 2),
        fmt(r.latency?.p99Ms, 2),
        fmt(r.peakRssMb),
        fmt(r.cpuMs === undefined ? undefined : (100 * r.cpuMs) / r.elapsedMs),
        fmt(r.walsenderCpuMs === undefined ? undefined : (100 * r.walsenderCpuMs) / r.elapsedMs),
        fmt(r.eventLoopDelayP99Ms, 1),
        [r.protocol, r.note, formatPhases(r.phases)].filter(Boolean).join(', '),
      ]);
    }
  }
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = (i: number) => i >= 2 && i <= 11;
  const render = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [render(HEADERS), widths.map((w) => '-'.repeat(w)).join('  ')];
  let previous = '';
  for (const r of rows) {
    if (previous && r[0] !== previous) out.push('');
    previous = r[0]!;
    out.push(render(r));
  }
  if (notes.length > 0) out.push('', ...notes.map((n, i) => `[${i + 1}] ${n}`));
  return out.join('\n');
}

function formatPhases(p: PhaseTimes | undefined): string | undefined {
  if (!p) return undefined;
  const parts: [string, number | undefined][] = [
    ['decode', p.decodeMs],
    ['write', p.writeMs],
    ['encode', p.encodeMs],
    ['upload', p.uploadMs],
    ['apply', p.applyMs],
  ];
  return parts
    .filter(([, ms]) => ms !== undefined)
    .map(([name, ms]) => `${name} ${fmt(ms! / 1000, 2)} s`)
    .join(' / ');
}

export function formatReplay(results: readonly ReplayResult[]): string {
  const timing = (t: ReplayResult['baseline']) =>
    t.status === 'ok'
      ? `${fmt(t.rowsPerSec)} rows/s (${fmt(t.mbPerSec, 1)} MB/s, ${t.protocol})`
      : `${t.status}: ${t.reason}`;
  const times = (x: number | undefined) => (x === undefined ? '' : ` ×${fmt(x, 2)}`);
  return results
    .map(
      (r) =>
        `decode replay ${r.workload} (${fmt(r.rows)} rows, ${fmt(r.frames)} frames, one core):\n` +
        `  baseline PgoutputPlugin.parse  ${timing(r.baseline)}\n` +
        `  etl ChangeAccumulator          ${timing(r.etl)}${times(r.speedup)}\n` +
        `  etl, the baseline's frames     ${timing(r.etlSameFrames)}${times(r.speedupSameFrames)}`,
    )
    .join('\n');
}

/** The issue's targets, each with its measured value or why it is not measured yet. */
export function formatTargets(report: BenchReport): string {
  const line = (w: WorkloadName, c: ContenderName) =>
    report.workloads.find((x) => x.name === w)?.lines.find((l) => l.contender === c);
  const ok = (l: ContenderLine | undefined) => (l?.result.status === 'ok' ? l.result : undefined);
  const verdict = (value: number | undefined, pass: (v: number) => boolean, shown: string) =>
    value === undefined ? 'not measured yet' : `${shown} ${pass(value) ? 'PASS' : 'FAIL'}`;
  const out: string[] = [];
  for (const w of ['insert', 'update'] as const) {
    const v = line(w, 'etl-source')?.vsCeiling;
    out.push(
      `source → null ≥ ${TARGET_SOURCE_VS_CEILING}× ceiling (${w}): ${verdict(v, (x) => x >= TARGET_SOURCE_VS_CEILING, `${fmt(v, 2)}×`)}`,
    );
  }
  for (const r of report.decodeReplay) {
    out.push(
      `decode replay ≥ ${TARGET_DECODE_SPEEDUP}× baseline (${r.workload}): ${verdict(r.speedup, (x) => x >= TARGET_DECODE_SPEEDUP, `${fmt(r.speedup, 2)}×`)}`,
    );
  }
  const ours = ok(line('latency', 'etl-source'))?.latency?.p99Ms;
  const theirs = ok(line('latency', 'baseline'))?.latency?.p99Ms;
  const added = ours !== undefined && theirs !== undefined ? ours - theirs : undefined;
  out.push(
    `pipeline-added latency p99 < ${TARGET_ADDED_LATENCY_P99_MS} ms (etl-source p99 − baseline p99): ${verdict(added, (x) => x < TARGET_ADDED_LATENCY_P99_MS, `${fmt(added, 2)} ms`)}`,
  );
  const eld = Math.max(
    ...report.workloads
      .filter((w) => w.kind === 'stream')
      .map((w) => ok(w.lines.find((l) => l.contender === 'etl-source'))?.eventLoopDelayP99Ms ?? Number.NaN),
  );
  out.push(
    `event-loop delay p99 < ${TARGET_EVENT_LOOP_P99_MS} ms (etl-source, worst stream workload): ${verdict(Number.isNaN(eld) ? undefined : eld, (x) => x < TARGET_EVENT_LOOP_P99_MS, `${fmt(eld, 1)} ms`)}`,
  );
  const snap = line('snapshot', 'etl-source')?.rowsPerSec;
  out.push(
    `snapshot ≥ ${fmt(TARGET_SNAPSHOT_ROWS_PER_SEC)} rows/s into null: ${verdict(snap, (x) => x >= TARGET_SNAPSHOT_ROWS_PER_SEC, `${fmt(snap)} rows/s`)}`,
  );
  const rss = ok(line('insert', 'etl-throttled'))?.peakRssMb;
  out.push(
    `peak RSS < ${TARGET_PEAK_RSS_MB} MB into a destination throttled to 1/10 (insert): ${verdict(rss, (x) => x < TARGET_PEAK_RSS_MB, `${fmt(rss)} MB`)}`,
  );
  return out.join('\n');
}

/** Writes the report as JSON; returns the path. */
export function writeReport(report: BenchReport, path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

/** Legend of contenders, one per line. */
export function formatLegend(): string {
  return Object.entries(CONTENDER_DESCRIPTIONS)
    .map(([name, text]) => `  ${name.padEnd(14)} ${text}`)
    .join('\n');
}
