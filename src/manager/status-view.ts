import type { ManagedPipelineStatus } from './manager-events.js';
import { type InvalidDefinition, isInvalid, type PipelineDefinition } from './pipeline-definition.js';

/** What one worker knows when it answers `status()`. */
export interface StatusSources {
  readonly definitions: ReadonlyMap<string, PipelineDefinition | InvalidDefinition>;
  /** This worker's live view of the pipelines it runs (and is not handing over). */
  readonly local: (name: string) => ManagedPipelineStatus | undefined;
  /** Lease owners, from the last look at Redis. */
  readonly owners: ReadonlyMap<string, string>;
  /** The status table, as last read. */
  readonly rows: ReadonlyMap<string, ManagedPipelineStatus>;
}

/**
 * Every defined pipeline, sorted by name: the live status where this worker
 * runs it; what the definition says when it is invalid or disabled; else the
 * row its current owner wrote, or `unassigned` when nobody holds its lease.
 */
export function composeStatus(s: StatusSources): ManagedPipelineStatus[] {
  return [...s.definitions]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, d]) => {
      const local = s.local(name);
      if (local) return local;
      const row = s.rows.get(name);
      const owner = s.owners.get(name);
      if (isInvalid(d) || !d.enabled) return definitionStatus(name, d, row);
      if (row && owner !== undefined && row.owner === owner) return row;
      return {
        name,
        owner,
        state: owner === undefined ? 'unassigned' : 'starting',
        confirmedLsn: row?.confirmedLsn,
        lagBytes: row?.lagBytes,
        lastError: row?.lastError,
        local: false,
        updatedAt: row?.updatedAt ?? new Date(),
      };
    });
}

/**
 * The status row to write for a pipeline: `null` (remove it) when the
 * definition is gone; `invalid` or `disabled` when the definition says so,
 * whatever its runner reports while winding down; otherwise `reported`.
 */
export function rowToWrite(
  name: string,
  d: PipelineDefinition | InvalidDefinition | undefined,
  reported: ManagedPipelineStatus | undefined,
): ManagedPipelineStatus | null | undefined {
  if (!d) return null;
  if (isInvalid(d) || !d.enabled) return definitionStatus(name, d, reported);
  return reported;
}

function definitionStatus(
  name: string,
  d: PipelineDefinition | InvalidDefinition,
  known: ManagedPipelineStatus | undefined,
): ManagedPipelineStatus {
  const invalid = isInvalid(d);
  return {
    name,
    owner: undefined,
    state: invalid ? 'invalid' : 'disabled',
    confirmedLsn: known?.confirmedLsn,
    lagBytes: undefined,
    lastError: invalid ? d.error.toString() : undefined,
    local: false,
    updatedAt: new Date(),
  };
}
