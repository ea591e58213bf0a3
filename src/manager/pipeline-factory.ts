import { EtlError } from '../errors.js';
import type { Monitor } from '../monitor/monitor.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { PipelineOptions } from '../pipeline/pipeline-options.js';
import { PostgresSource } from '../postgres/postgres-source.js';
import type { Lease, StateStore } from '../state/state-store.js';
import type { ComponentRegistry } from './component-registry.js';
import type { PipelineDefinition } from './pipeline-definition.js';

/** What the host's credentials callback is asked for. */
export interface CredentialsRequest {
  /** The reference written in the definition (`source.credentials` or `destination.credentials`). */
  readonly ref: string;
  /** The pipeline that needs them. */
  readonly pipeline: string;
  /** `source`: must return `{ connectionString }`. `destination`: fields merged into the destination's options. */
  readonly use: 'source' | 'destination';
}

/**
 * Resolves a credentials reference to the secret fields (from the
 * environment, a secret manager, ...). Called each time a pipeline starts on
 * this worker; what it returns is held in memory only, never written to the
 * configuration database, the state store or a log.
 */
export type CredentialsResolver = (
  request: CredentialsRequest,
) => Promise<Readonly<Record<string, unknown>>> | Readonly<Record<string, unknown>>;

/** Pipeline options the manager applies to every pipeline it builds. */
export type ManagedPipelineOptions = Pick<
  PipelineOptions,
  'maxInFlight' | 'stopTimeoutMs' | 'retry' | 'circuitBreaker'
>;

/** Everything needed to turn a definition into a runnable pipeline. */
export interface PipelineFactoryContext {
  readonly registry: ComponentRegistry;
  readonly credentials: CredentialsResolver;
  readonly pipelineOptions: ManagedPipelineOptions;
  readonly monitors: (definition: PipelineDefinition) => readonly Monitor[];
}

/** A built pipeline and its source (the runner watches the source's snapshot and lag). */
export interface BuiltPipeline {
  readonly pipeline: Pipeline;
  readonly source: PostgresSource;
}

/**
 * Builds the pipeline of a definition: resolves its credentials, then the
 * source, transforms, destination, state store, lease and monitors. Does no
 * other I/O. Errors are `CONFIG_INVALID` (the definition or what it refers to
 * is wrong; retryable when the credentials callback failed, which may pass).
 */
export async function buildPipeline(
  definition: PipelineDefinition,
  ctx: PipelineFactoryContext,
  deps: { readonly lease: Lease; readonly store: StateStore },
): Promise<BuiltPipeline> {
  const { credentials: sourceRef, ...sourceOptions } = definition.source;
  const sourceSecrets = await resolve(ctx.credentials, {
    ref: sourceRef,
    pipeline: definition.name,
    use: 'source',
  });
  const connectionString = sourceSecrets.connectionString;
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new EtlError(
      'CONFIG_INVALID',
      `Credentials "${sourceRef}" of pipeline "${definition.name}" have no connectionString`,
      { hint: 'Make the credentials callback return { connectionString } for source references.' },
    );
  }
  const destinationRef = definition.destination.credentials;
  const destinationSecrets =
    destinationRef === undefined
      ? undefined
      : await resolve(ctx.credentials, {
          ref: destinationRef,
          pipeline: definition.name,
          use: 'destination',
        });
  const source = new PostgresSource({ ...sourceOptions, connectionString });
  const pipeline = new Pipeline({
    ...ctx.pipelineOptions,
    name: definition.name,
    batch: definition.batch,
    lease: deps.lease,
  })
    .from(source)
    .transform(...definition.transforms.map((t) => ctx.registry.transform(t, definition.name)))
    .to(ctx.registry.destination(definition.destination, definition.name, destinationSecrets))
    .state(deps.store)
    .monitor(...ctx.monitors(definition));
  return { pipeline, source };
}

async function resolve(
  resolver: CredentialsResolver,
  request: CredentialsRequest,
): Promise<Readonly<Record<string, unknown>>> {
  let value: unknown;
  try {
    value = await resolver(request);
  } catch (err) {
    throw new EtlError(
      'CONFIG_INVALID',
      `The credentials callback failed for "${request.ref}" (${request.use} of pipeline "${request.pipeline}")`,
      {
        retryable: true,
        hint: 'Check that the host can resolve this reference (environment, secret manager); the manager retries.',
        cause: err,
      },
    );
  }
  if (value === null || typeof value !== 'object') {
    throw new EtlError(
      'CONFIG_INVALID',
      `The credentials callback returned no object for "${request.ref}" (${request.use} of pipeline "${request.pipeline}")`,
      { hint: "Return an object such as { connectionString } (source) or the destination's secret fields." },
    );
  }
  return value as Readonly<Record<string, unknown>>;
}
