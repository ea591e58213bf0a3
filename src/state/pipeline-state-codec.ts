import type { Checkpoint, SnapshotProgress, TableSnapshotProgress } from '../change/checkpoint.js';
import { EtlError } from '../errors.js';
import { formatLsn, type Lsn, parseLsn } from '../lsn.js';
import type { PipelineState } from './state-store.js';

/**
 * Version of the stored JSON shape. Bumped when the shape changes; decoding
 * refuses versions it does not know instead of guessing.
 */
export const PIPELINE_STATE_VERSION = 1;

/** The stored JSON shape (version 1): LSNs as Postgres `X/Y` text so operators can read them. */
interface StoredState {
  v: number;
  checkpoint: {
    lsn: string;
    commitLsn: string;
    snapshot?: { consistentPoint: string; tables: Record<string, TableSnapshotProgress> };
    backfill?: { tables: Record<string, TableSnapshotProgress> };
    tables?: string[];
  };
  destinations: Record<string, string>;
  updatedAt: string;
}

/**
 * Encodes a {@link PipelineState} as versioned JSON text. LSNs (bigint) are
 * written as Postgres `X/Y` text, so the stored value is readable by an
 * operator and survives any JSON tool. Inverse of {@link decodePipelineState}.
 *
 * @example
 * ```ts
 * const text = encodePipelineState({
 *   checkpoint: { lsn: 0x16b374d849n, commitLsn: 0x16b374d848n },
 *   destinations: { duckdb: 0x16b374d848n },
 *   updatedAt: new Date().toISOString(),
 * });
 * // {"v":1,"checkpoint":{"lsn":"16/B374D849","commitLsn":"16/B374D848"},...}
 * ```
 */
export function encodePipelineState(state: PipelineState): string {
  const { checkpoint } = state;
  const stored: StoredState = {
    v: PIPELINE_STATE_VERSION,
    checkpoint: { lsn: formatLsn(checkpoint.lsn), commitLsn: formatLsn(checkpoint.commitLsn) },
    destinations: Object.fromEntries(
      Object.entries(state.destinations).map(([name, lsn]) => [name, formatLsn(lsn)]),
    ),
    updatedAt: state.updatedAt,
  };
  if (checkpoint.snapshot) {
    stored.checkpoint.snapshot = {
      consistentPoint: formatLsn(checkpoint.snapshot.consistentPoint),
      tables: { ...checkpoint.snapshot.tables },
    };
  }
  if (checkpoint.backfill) stored.checkpoint.backfill = { tables: { ...checkpoint.backfill.tables } };
  if (checkpoint.tables) stored.checkpoint.tables = [...checkpoint.tables];
  return JSON.stringify(stored);
}

/**
 * Decodes text written by {@link encodePipelineState}, validating every
 * field. Anything else (corrupt JSON, a missing field, an unknown version, a
 * malformed LSN) rejects with a non-retryable `STATE_STORE` error that names
 * the pipeline and the field, because resuming from a misread position could
 * lose or repeat data.
 *
 * @param text the stored JSON text.
 * @param pipeline the pipeline name, used in error messages only.
 * @example
 * ```ts
 * const state = decodePipelineState(await redis.get(key), 'orders');
 * state.checkpoint.lsn; // bigint
 * ```
 */
export function decodePipelineState(text: string, pipeline = 'unknown'): PipelineState {
  const fail = (problem: string, cause?: unknown): EtlError =>
    new EtlError('STATE_STORE', `Stored state of pipeline "${pipeline}" is invalid: ${problem}`, {
      hint:
        'The state was written by another program or a newer etl-stream. Restore it from a backup, or ' +
        'delete it to restart the pipeline from the replication slot position.',
      details: { pipeline },
      ...(cause === undefined ? {} : { cause }),
    });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail('not JSON', err);
  }
  if (!isObject(raw)) throw fail('not a JSON object');
  if (raw.v !== PIPELINE_STATE_VERSION) {
    throw fail(`unknown version ${JSON.stringify(raw.v)} (this etl-stream reads ${PIPELINE_STATE_VERSION})`);
  }
  const lsn = (value: unknown, field: string): Lsn => {
    if (typeof value !== 'string') throw fail(`\`${field}\` is not an LSN text`);
    try {
      return parseLsn(value);
    } catch (err) {
      throw fail(`\`${field}\` is not an LSN: ${JSON.stringify(value)}`, err);
    }
  };
  const cp = raw.checkpoint;
  if (!isObject(cp)) throw fail('`checkpoint` is missing');
  let checkpoint: Checkpoint = {
    lsn: lsn(cp.lsn, 'checkpoint.lsn'),
    commitLsn: lsn(cp.commitLsn, 'checkpoint.commitLsn'),
  };
  if (cp.snapshot !== undefined) {
    const snapshot = decodeSnapshot(cp.snapshot, lsn, fail);
    checkpoint = { ...checkpoint, snapshot };
  }
  if (cp.backfill !== undefined) {
    if (!isObject(cp.backfill)) throw fail('`checkpoint.backfill` is malformed');
    checkpoint = {
      ...checkpoint,
      backfill: { tables: decodeTables(cp.backfill.tables, 'checkpoint.backfill', fail) },
    };
  }
  if (cp.tables !== undefined) {
    if (!Array.isArray(cp.tables) || !cp.tables.every((t) => typeof t === 'string')) {
      throw fail('`checkpoint.tables` is not a list of table names');
    }
    checkpoint = { ...checkpoint, tables: cp.tables as string[] };
  }
  if (!isObject(raw.destinations)) throw fail('`destinations` is missing');
  const destinations: Record<string, Lsn> = {};
  for (const [name, value] of Object.entries(raw.destinations)) {
    destinations[name] = lsn(value, `destinations.${name}`);
  }
  if (typeof raw.updatedAt !== 'string') throw fail('`updatedAt` is missing');
  return { checkpoint, destinations, updatedAt: raw.updatedAt };
}

function decodeSnapshot(
  value: unknown,
  lsn: (value: unknown, field: string) => Lsn,
  fail: (problem: string) => EtlError,
): SnapshotProgress {
  if (!isObject(value)) throw fail('`checkpoint.snapshot` is malformed');
  const tables = decodeTables(value.tables, 'checkpoint.snapshot', fail);
  return { consistentPoint: lsn(value.consistentPoint, 'checkpoint.snapshot.consistentPoint'), tables };
}

/** Per-table copy progress (of the initial snapshot, or of a backfill under `at`). */
function decodeTables(
  value: unknown,
  at: string,
  fail: (problem: string) => EtlError,
): Record<string, TableSnapshotProgress> {
  if (!isObject(value)) throw fail(`\`${at}\` is malformed`);
  const tables: Record<string, TableSnapshotProgress> = {};
  for (const [name, t] of Object.entries(value)) {
    const field = `${at}.tables.${name}`;
    if (!isObject(t)) throw fail(`\`${field}\` is malformed`);
    if (t.status !== 'pending' && t.status !== 'copying' && t.status !== 'done') {
      throw fail(`\`${field}.status\` is ${JSON.stringify(t.status)}`);
    }
    if (typeof t.rows !== 'number' || !Number.isInteger(t.rows) || t.rows < 0) {
      throw fail(`\`${field}.rows\` is not a row count`);
    }
    let progress: TableSnapshotProgress = { status: t.status, rows: t.rows };
    if (t.lastKey !== undefined) {
      if (!Array.isArray(t.lastKey) || !t.lastKey.every((k) => k === null || typeof k === 'string')) {
        throw fail(`\`${field}.lastKey\` is not a list of texts`);
      }
      progress = { ...progress, lastKey: t.lastKey as (string | null)[] };
    }
    tables[name] = progress;
  }
  return tables;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
