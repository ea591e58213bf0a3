/**
 * Decode cost without a server in the loop: a workload's pgoutput frames are
 * captured to files once, in each protocol the contenders speak, then
 * replayed on one core (a child pinned with `taskset`, a fresh child per
 * decoder, so one decoder's garbage never lands on the next) through
 * (a) the baseline's `PgoutputPlugin.parse` on the frames it asks for
 * (protocol 1, text), (b) etl-stream's `ChangeAccumulator` on the frames its
 * source asks for (newest protocol, binary when possible) and (c) etl-stream's
 * `ChangeAccumulator` on the baseline's very bytes (text mode). The
 * accumulator is drained like the source drains it: `takeBatch()` until
 * undefined whenever a batch limit is reached at a commit boundary, so every
 * row ends up in a sealed Arrow batch.
 *
 * Run directly (`tsx bench/decode-replay.ts <decoder> <frames> '<protocol JSON>'`,
 * decoder `baseline`, `etl` or `etl-text`) it replays one decoder and prints
 * its timing as JSON; the harness does that for you.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { PgoutputPlugin } from 'pg-logical-replication';
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS } from '../src/pipeline/pipeline-options.js';
import { ChangeAccumulator } from '../src/postgres/pgoutput/change-accumulator.js';
import { DEFAULT_STREAM_MEMORY_LIMIT_BYTES } from '../src/postgres/postgres-options.js';
import { TypeCatalog } from '../src/postgres/type-catalog.js';
import { childCommand } from './child-build.js';
import { FrameFileWriter, type FrameSet, readFrameFile } from './frame-file.js';
import { throughput } from './metrics.js';
import { describeProtocol, type PgoutputOptions, sqlDecodingOptions } from './pgoutput-options.js';
import type { Workload } from './workloads.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Captures are kept here between runs (git-ignored), keyed by the workload's SQL and protocol. */
const FRAMES_DIR = join(REPO_ROOT, '.etl-stream', 'bench-frames');
/** Frames fetched from the capture cursor per round trip. */
const CAPTURE_FETCH_ROWS = 20_000;
/** Replays per decoder; the best counts (the first warms the JIT up). */
const REPLAY_ROUNDS = 3;
/**
 * Small captures (quick runs) get more rounds, so that each decoder decodes
 * at least this many rows in all: 100k rows take ~0.1 s, and three such
 * rounds mostly measure the JIT warming up.
 */
const MIN_REPLAY_ROWS = 1_000_000;
const MAX_REPLAY_ROUNDS = 20;

/** Rounds for a capture of `rows` rows. */
function roundsFor(rows: number): number {
  return Math.min(MAX_REPLAY_ROUNDS, Math.max(REPLAY_ROUNDS, Math.ceil(MIN_REPLAY_ROWS / Math.max(1, rows))));
}
/** The core the replay child is pinned to. */
const REPLAY_CPU = '1';
const REPLAY_TIMEOUT_MS = 10 * 60_000;
const MAX_REPLAY_OUTPUT_BYTES = 1 << 20;
/** pgoutput message tags that carry a row. */
const ROW_TAGS = new Set([0x49 /* I */, 0x55 /* U */, 0x44 /* D */]);

/** Timing of one decoder over the frames. */
export type ReplayTiming =
  | {
      readonly status: 'ok';
      /** The frames it decoded, e.g. `v1 text`. */
      readonly protocol: string;
      readonly bestMs: number;
      readonly rowsPerSec: number;
      readonly mbPerSec: number;
    }
  | { readonly status: 'unavailable' | 'failed'; readonly reason: string };

export interface ReplayResult {
  readonly workload: string;
  readonly frames: number;
  readonly rows: number;
  readonly payloadBytes: number;
  /** `PgoutputPlugin.parse` on the baseline's frames. */
  readonly baseline: ReplayTiming;
  /** `ChangeAccumulator` on the frames etl-stream's source asks for. */
  readonly etl: ReplayTiming;
  /** `ChangeAccumulator` (text mode) on the baseline's frames: the same bytes as `baseline`. */
  readonly etlSameFrames: ReplayTiming;
  /** etl rows/s ÷ baseline rows/s, when both ran: the decode target. */
  readonly speedup: number | undefined;
  /** etlSameFrames rows/s ÷ baseline rows/s. */
  readonly speedupSameFrames: number | undefined;
}

/** The frame files of one workload: one per protocol. */
export interface CapturedFrames {
  readonly baseline: { readonly path: string; readonly protocol: PgoutputOptions };
  readonly etl: { readonly path: string; readonly protocol: PgoutputOptions };
}

/** Where the capture of `workload` under `protocol` lives. */
export function framesPath(workload: Workload, protocol: PgoutputOptions): string {
  const key = createHash('sha256')
    .update(JSON.stringify([workload.setup, workload.load, protocol]))
    .digest('hex')
    .slice(0, 12);
  return join(FRAMES_DIR, `${workload.name}-${workload.rows}-${key}.frames`);
}

/**
 * Captures the frames a walsender would send from `slot` (peeked, the slot is
 * not consumed) into `path`: the same messages and positions as XLogData.
 */
export async function captureFrames(
  url: string,
  slot: string,
  publication: string,
  protocol: PgoutputOptions,
  path: string,
): Promise<{ frames: number; payloadBytes: number }> {
  mkdirSync(FRAMES_DIR, { recursive: true });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const writer = new FrameFileWriter(`${path}.tmp`);
  try {
    await client.query('BEGIN');
    await client.query(
      `DECLARE frames NO SCROLL CURSOR FOR
         SELECT pg_wal_lsn_diff(lsn, '0/0')::text AS lsn, data
           FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, VARIADIC $2::text[])`,
      [slot, sqlDecodingOptions(protocol, publication)],
    );
    for (;;) {
      const { rows } = await client.query<{ lsn: string; data: Buffer }>(
        `FETCH ${CAPTURE_FETCH_ROWS} FROM frames`,
      );
      for (const r of rows) writer.write(BigInt(r.lsn), r.data);
      if (rows.length < CAPTURE_FETCH_ROWS) break;
    }
    await client.query('COMMIT');
  } finally {
    writer.close();
    await client.end();
  }
  renameSync(`${path}.tmp`, path);
  return { frames: writer.frames, payloadBytes: writer.payloadBytes };
}

/** The decoders the replay times, each in its own child. */
type DecoderName = 'baseline' | 'etl' | 'etl-text';

/** What one replay child prints. */
interface ChildOutput {
  readonly frames: number;
  readonly rows: number;
  readonly payloadBytes: number;
  readonly timing: ReplayTiming;
}

/** Replays one decoder over one capture in a child process pinned to one core (when `taskset` exists). */
async function replayChild(
  decoder: DecoderName,
  path: string,
  protocol: PgoutputOptions,
): Promise<ChildOutput> {
  const { execArgv, script } = childCommand('decode-replay');
  const node = [process.execPath, ...execArgv, script, decoder, path, JSON.stringify(protocol)];
  const pinned = existsSync('/usr/bin/taskset') ? ['/usr/bin/taskset', '-c', REPLAY_CPU, ...node] : node;
  const { stdout } = await promisify(execFile)(pinned[0]!, pinned.slice(1), {
    cwd: REPO_ROOT,
    timeout: REPLAY_TIMEOUT_MS,
    maxBuffer: MAX_REPLAY_OUTPUT_BYTES,
  });
  return JSON.parse(stdout) as ChildOutput;
}

/** Replays the captures through the three decoders, one pinned child each. */
export async function replayPinned(frames: CapturedFrames, workload: string): Promise<ReplayResult> {
  const text = await replayChild('baseline', frames.baseline.path, frames.baseline.protocol);
  const etl = await replayChild('etl', frames.etl.path, frames.etl.protocol);
  const etlText = await replayChild('etl-text', frames.baseline.path, frames.baseline.protocol);
  const baseline = text.timing;
  const ratio = (t: ReplayTiming) =>
    baseline.status === 'ok' && t.status === 'ok' ? t.rowsPerSec / baseline.rowsPerSec : undefined;
  return {
    workload,
    frames: text.frames,
    rows: text.rows,
    payloadBytes: text.payloadBytes,
    baseline,
    etl: etl.timing,
    etlSameFrames: etlText.timing,
    speedup: ratio(etl.timing),
    speedupSameFrames: ratio(etlText.timing),
  };
}

/** Rows (Insert/Update/Delete messages) and payload bytes of a capture. */
function measure(frames: FrameSet): { rows: number; bytes: number } {
  let rows = 0;
  let bytes = 0;
  for (let i = 0; i < frames.count; i++) {
    bytes += frames.length(i);
    if (ROW_TAGS.has(frames.tag(i))) rows++;
  }
  return { rows, bytes };
}

/** Times `decode` over every frame, best of `rounds` (see {@link roundsFor}); `decode` returns the rows it saw. */
function timeRounds(
  size: { rows: number; bytes: number },
  protocol: string,
  decode: () => number,
  rounds: number,
): ReplayTiming {
  const { rows, bytes } = size;
  let bestMs = Number.POSITIVE_INFINITY;
  try {
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      const seen = decode();
      bestMs = Math.min(bestMs, performance.now() - started);
      if (seen !== rows) throw new Error(`decoded ${seen} rows, the frames hold ${rows}`);
    }
  } catch (err) {
    return { status: 'failed', reason: (err as Error).message };
  }
  const t = throughput(rows, bytes, bestMs);
  return { status: 'ok', protocol, bestMs, rowsPerSec: t.rowsPerSec, mbPerSec: t.mbPerSec };
}

/** The baseline's parser over every frame; rows counted like the baseline contender counts them. */
function baselineDecode(frames: FrameSet): number {
  // A fresh parser per round: its relation cache fills from the Relation messages in the capture.
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: ['replay'] });
  let rows = 0;
  for (let i = 0; i < frames.count; i++) {
    const tag = plugin.parse(frames.payload(i)).tag;
    if (tag === 'insert' || tag === 'update' || tag === 'delete') rows++;
  }
  return rows;
}

/**
 * etl-stream's decoder over every frame, drained the way the source's change
 * stream drains it at the pipeline's default batch limits (minus the delay
 * timer, which never fires in a replay). The catalog holds the built-in
 * types only: no server in the loop.
 */
function etlDecode(frames: FrameSet, binary: boolean): number {
  const acc = new ChangeAccumulator({
    catalog: new TypeCatalog(),
    binary,
    unrepresentable: 'fail',
    streamMemoryLimitBytes: DEFAULT_STREAM_MEMORY_LIMIT_BYTES,
    spillDir: tmpdir(),
  });
  let rows = 0;
  const drain = () => {
    for (let b = acc.takeBatch(); b; b = acc.takeBatch()) rows += b.numRows;
  };
  for (let i = 0; i < frames.count; i++) {
    acc.push(frames.payload(i), frames.lsn(i));
    if (
      acc.mustCut ||
      (!acc.inTransaction &&
        acc.bufferedTransactions > 0 &&
        (acc.bufferedRows >= DEFAULT_MAX_ROWS || acc.bufferedBytes >= DEFAULT_MAX_BYTES))
    )
      drain();
  }
  drain();
  return rows;
}

/** Replays one decoder over one capture in this process. */
export function replay(
  decoder: DecoderName,
  path: string,
  protocol: PgoutputOptions,
  rounds?: number,
): ChildOutput {
  const frames = readFrameFile(path);
  const size = measure(frames);
  const n = rounds ?? roundsFor(size.rows);
  const described = describeProtocol({ ...protocol, streaming: false });
  const timing =
    decoder === 'baseline'
      ? timeRounds(size, described, () => baselineDecode(frames), n)
      : timeRounds(size, described, () => etlDecode(frames, protocol.binary), n);
  return { frames: frames.count, rows: size.rows, payloadBytes: size.bytes, timing };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // rounds: fewer for an instruction count under `valgrind --tool=callgrind`, which is repeatable on a busy machine.
  const [decoder, path, protocol, rounds] = process.argv.slice(2);
  if (!(decoder === 'baseline' || decoder === 'etl' || decoder === 'etl-text') || !path || !protocol) {
    console.error(
      "usage: tsx bench/decode-replay.ts baseline|etl|etl-text <frames> '<protocol JSON>' [rounds]",
    );
    process.exit(2);
  }
  const result = replay(
    decoder,
    path,
    JSON.parse(protocol) as PgoutputOptions,
    rounds === undefined ? undefined : Number(rounds),
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
