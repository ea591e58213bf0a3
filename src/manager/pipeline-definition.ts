/**
 * Pipeline definitions as the configuration table holds them, and their
 * validation: a row becomes either a {@link PipelineDefinition} or an error
 * that names the column and field to fix. Validation runs without I/O and
 * without credentials: secrets are never in the table, only references.
 */
import { configError, EtlError } from '../errors.js';
import { resolveBatchLimits } from '../pipeline/pipeline-options.js';
import type { BatchLimits } from '../pipeline/source.js';
import { type PostgresSourceOptions, resolvePostgresOptions } from '../postgres/postgres-options.js';
import type { Transform } from '../transforms/transform.js';
import type { ComponentRegistry } from './component-registry.js';

/**
 * The `source` column: the options of `postgres({...})` without the
 * connection string, plus `credentials`, the reference the host's
 * credentials callback turns into a connection string.
 *
 * @example
 * ```json
 * { "credentials": "orders-db", "publication": "etl_orders", "tables": ["public.orders"] }
 * ```
 */
export interface SourceDefinition extends Omit<PostgresSourceOptions, 'connectionString' | 'spillDir'> {
  /** A name the host resolves to credentials (`{ connectionString }`); never a secret itself. */
  readonly credentials: string;
}

/**
 * The `destination` column: a destination kind the manager knows (built in:
 * `memory`, `duckdb`, `ndjson`, `snowflake`; or one the host registered), its
 * options, and optionally a credentials reference whose resolved fields are
 * merged into the options (a Snowflake private key, say).
 *
 * @example
 * ```json
 * { "kind": "duckdb", "options": { "path": "/var/lib/etl/orders.duckdb" } }
 * ```
 */
export interface DestinationDefinition {
  readonly kind: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly credentials?: string;
}

/** One entry of the `transforms` column: a transform the host (or etl-stream) registered, and its options. */
export interface TransformDefinition {
  readonly name: string;
  readonly options?: unknown;
}

/** A validated row of the definitions table. */
export interface PipelineDefinition {
  /** Pipeline name: keys the lease, the state and the default slot. */
  readonly name: string;
  /** Disabled pipelines are stopped (their slot and state are kept). */
  readonly enabled: boolean;
  /** The row's version; the trigger bumps it on every update. */
  readonly version: string;
  /** The row's content (what a change of restarts the pipeline); changes even when the trigger was bypassed. */
  readonly fingerprint: string;
  readonly source: SourceDefinition;
  readonly destination: DestinationDefinition;
  readonly transforms: readonly TransformDefinition[];
  readonly batch: Partial<BatchLimits>;
}

/** A row as read from the table (jsonb columns already parsed by `pg`). */
export interface DefinitionRow {
  readonly name: string;
  readonly enabled: boolean;
  readonly source: unknown;
  readonly destination: unknown;
  readonly transforms: unknown;
  readonly batch: unknown;
  readonly version: string;
}

/** A row that failed validation: the pipeline does not run until the row is fixed. */
export interface InvalidDefinition {
  readonly name: string;
  readonly version: string;
  readonly fingerprint: string;
  readonly enabled: boolean;
  readonly error: EtlError;
}

/**
 * Keys that would hold a secret: refused anywhere in a definition's source and
 * destination, so secrets never reach the table. (Transform options name
 * columns, which may well be called `secret` or `token`.)
 */
const SECRET_KEY = /^(password|passphrase|private_?key|secret|token|connection_?string|url)$/i;

/** Source option keys a definition may set (everything of `postgres({...})` but the connection and local paths). */
const SOURCE_KEYS = new Set([
  'credentials',
  'publication',
  'slot',
  'tables',
  'createPublication',
  'addTablesToPublication',
  'binary',
  'protocolVersion',
  'heartbeat',
  'snapshot',
  'snapshotChunkRows',
  'streamMemoryLimitBytes',
  'unrepresentable',
  'onSlotLost',
  'appendOnly',
  'statusIntervalMs',
  'reconnect',
]);

/** Stands in for the connection string while the other source options are checked. */
const PLACEHOLDER_CONNECTION = 'postgres://definition-check';

/**
 * Validates one row. Returns the definition, or an {@link InvalidDefinition}
 * whose error names the column and field (`source.tables[0]`, say) and how
 * to fix it. Transforms are built once here so their own option checks run.
 */
export function parseDefinition(
  row: DefinitionRow,
  registry: ComponentRegistry,
): PipelineDefinition | InvalidDefinition {
  try {
    return {
      name: row.name,
      enabled: row.enabled,
      version: row.version,
      fingerprint: JSON.stringify([row.enabled, row.source, row.destination, row.transforms, row.batch]),
      source: parseSource(row.source),
      destination: parseDestination(row.destination, registry),
      transforms: parseTransforms(row.name, row.transforms, registry),
      batch: parseBatch(row.batch),
    };
  } catch (err) {
    const error = err instanceof EtlError ? err : new EtlError('CONFIG_INVALID', String(err), { cause: err });
    return {
      name: row.name,
      version: row.version,
      fingerprint: JSON.stringify([row.enabled, row.source, row.destination, row.transforms, row.batch]),
      enabled: row.enabled,
      error: new EtlError('CONFIG_INVALID', `Pipeline definition "${row.name}": ${error.message}`, {
        hint: error.hint ?? 'Fix the row in the definitions table; the manager picks the change up at once.',
        cause: error,
        details: { pipeline: row.name, ...error.details },
      }),
    };
  }
}

/** True when `d` failed validation. */
export function isInvalid(d: PipelineDefinition | InvalidDefinition): d is InvalidDefinition {
  return 'error' in d;
}

function object(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw configError(field, `must be a JSON object, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Refuses keys that would put a secret in the table, at any depth. */
function rejectSecrets(field: string, value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value)) {
    const path = Array.isArray(value) ? `${field}[${key}]` : `${field}.${key}`;
    if (!Array.isArray(value) && SECRET_KEY.test(key)) {
      throw configError(
        path,
        'secrets and connection strings must not be stored in the definitions table',
        "Store a reference in `credentials` instead; the host resolves it through the manager's `credentials` callback.",
      );
    }
    rejectSecrets(path, inner);
  }
}

function parseSource(value: unknown): SourceDefinition {
  const source = object('source', value);
  rejectSecrets('source', source);
  for (const key of Object.keys(source)) {
    if (!SOURCE_KEYS.has(key)) {
      throw configError(
        `source.${key}`,
        'is not a source option a definition may set',
        `Allowed: ${[...SOURCE_KEYS].join(', ')}.`,
      );
    }
  }
  if (typeof source.credentials !== 'string' || source.credentials === '') {
    throw configError(
      'source.credentials',
      'must name the credentials of the source database',
      'Set e.g. "credentials": "orders-db"; the manager passes it to your credentials callback.',
    );
  }
  const options: Record<string, unknown> = { ...source, connectionString: PLACEHOLDER_CONNECTION };
  delete options.credentials;
  try {
    resolvePostgresOptions(options as unknown as PostgresSourceOptions);
  } catch (err) {
    throw prefixed('source', err);
  }
  return source as unknown as SourceDefinition;
}

function parseDestination(value: unknown, registry: ComponentRegistry): DestinationDefinition {
  const destination = object('destination', value);
  rejectSecrets('destination', destination);
  for (const key of Object.keys(destination)) {
    if (key !== 'kind' && key !== 'options' && key !== 'credentials') {
      throw configError(
        `destination.${key}`,
        'is not a destination field',
        'Use kind, options, credentials.',
      );
    }
  }
  const kind = destination.kind;
  if (typeof kind !== 'string' || !registry.hasDestination(kind)) {
    throw configError(
      'destination.kind',
      `unknown destination kind ${JSON.stringify(kind)}`,
      `Use one of: ${registry.destinationKinds().join(', ')} (register others with the manager's \`destinations\` option).`,
    );
  }
  const options = destination.options === undefined ? {} : object('destination.options', destination.options);
  const credentials = destination.credentials;
  if (credentials !== undefined && (typeof credentials !== 'string' || credentials === '')) {
    throw configError('destination.credentials', 'must be a non-empty reference name');
  }
  return { kind, options, ...(credentials === undefined ? {} : { credentials }) };
}

function parseTransforms(
  pipeline: string,
  value: unknown,
  registry: ComponentRegistry,
): TransformDefinition[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw configError('transforms', 'must be a JSON array of { name, options }');
  return value.map((entry, i) => {
    const field = `transforms[${i}]`;
    const t = object(field, entry);
    if (typeof t.name !== 'string' || !registry.hasTransform(t.name)) {
      throw configError(
        `${field}.name`,
        `unknown transform ${JSON.stringify(t.name)}`,
        `Use one of: ${registry.transformNames().join(', ')} (register others with the manager's \`transforms\` option).`,
      );
    }
    const definition: TransformDefinition = { name: t.name, options: t.options };
    // Built once now so that the transform's own option checks report here, naming the entry.
    try {
      buildCheck(registry.transform(definition, pipeline));
    } catch (err) {
      throw prefixed(field, err);
    }
    return definition;
  });
}

function buildCheck(t: Transform): void {
  if (typeof t !== 'function')
    throw configError('transforms', 'the transform factory did not return a function');
}

function parseBatch(value: unknown): Partial<BatchLimits> {
  if (value === null || value === undefined) return {};
  const batch = object('batch', value);
  for (const key of Object.keys(batch)) {
    if (key !== 'maxRows' && key !== 'maxBytes' && key !== 'maxDelayMs') {
      throw configError(`batch.${key}`, 'is not a batch limit', 'Use maxRows, maxBytes, maxDelayMs.');
    }
  }
  resolveBatchLimits(batch as Partial<BatchLimits>, 'batch');
  return batch as Partial<BatchLimits>;
}

/** Re-raises a nested option error with its field under `column`. */
function prefixed(column: string, err: unknown): EtlError {
  if (!(err instanceof EtlError)) return new EtlError('CONFIG_INVALID', String(err), { cause: err });
  const field = typeof err.details?.field === 'string' ? `${column}.${err.details.field}` : column;
  const message = err.message.replace(/^Invalid option `[^`]*`/, `Invalid option \`${field}\``);
  return new EtlError('CONFIG_INVALID', message, {
    hint: err.hint?.replace(/`([^`]*)`/, `\`${field}\``),
    cause: err,
    details: { ...err.details, field },
  });
}
