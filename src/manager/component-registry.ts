import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { NdjsonDestination } from '../destinations/console-destination.js';
import { duckdb } from '../destinations/duckdb/duckdb-destination.js';
import { memory } from '../destinations/memory-destination.js';
import { snowflake } from '../destinations/snowflake/snowflake-destination.js';
import type { SnowflakeOptions } from '../destinations/snowflake/snowflake-options.js';
import { configError } from '../errors.js';
import type { Destination } from '../pipeline/destination.js';
import { dropColumns } from '../transforms/drop-columns.js';
import { type FilterTablesOptions, filterTables } from '../transforms/filter-tables.js';
import { maskColumns } from '../transforms/mask-columns.js';
import { renameColumns } from '../transforms/rename-columns.js';
import { renameTables } from '../transforms/rename-tables.js';
import { selectColumns } from '../transforms/select-columns.js';
import type { Transform } from '../transforms/transform.js';
import type { DestinationDefinition, TransformDefinition } from './pipeline-definition.js';

/** What a {@link DestinationFactory} gets besides the options. */
export interface DestinationFactoryContext {
  /** The pipeline the destination is for. */
  readonly pipeline: string;
  /**
   * What the host's credentials callback returned for the definition's
   * `destination.credentials` reference (already merged into the options).
   */
  readonly credentials: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Builds a destination of one kind from a definition's `destination.options`
 * (with resolved credentials merged in). Called each time the pipeline
 * starts on this worker; must do no I/O (the pipeline opens the destination).
 */
export type DestinationFactory = (
  options: Readonly<Record<string, unknown>>,
  ctx: DestinationFactoryContext,
) => Destination;

/**
 * Builds a transform from a definition's `transforms[i].options`. Called when
 * a definition is validated and each time the pipeline starts; must do no
 * I/O and should throw `configError(...)` for bad options.
 */
export type TransformFactory = (options: unknown, ctx: { readonly pipeline: string }) => Transform;

/** Transforms whose options are plain JSON, usable from a definition without registering anything. */
const BUILT_IN_TRANSFORMS: Record<string, TransformFactory> = {
  dropColumns: (o) => dropColumns(o as Parameters<typeof dropColumns>[0]),
  selectColumns: (o) => selectColumns(o as Parameters<typeof selectColumns>[0]),
  renameColumns: (o) => renameColumns(o as Parameters<typeof renameColumns>[0]),
  renameTables: (o) => renameTables(o as Parameters<typeof renameTables>[0]),
  maskColumns: (o) => maskColumns(o as Parameters<typeof maskColumns>[0]),
  filterTables: (o) => filterTables(o as FilterTablesOptions),
};

/** Destinations built in: options are those of the factory of the same name (ndjson takes a file `path`). */
const BUILT_IN_DESTINATIONS: Record<string, DestinationFactory> = {
  memory: (o) => memory(o as Parameters<typeof memory>[0]),
  duckdb: (o) => duckdb(o as unknown as Parameters<typeof duckdb>[0]),
  ndjson: (o) => ndjsonFile(o),
  snowflake: (o) => snowflake(o as unknown as SnowflakeOptions),
};

/**
 * The destination kinds and transform names definitions may use: the
 * built-in ones plus those the host registers (a host entry replaces a
 * built-in of the same name).
 */
export class ComponentRegistry {
  private readonly destinations: Record<string, DestinationFactory>;
  private readonly transforms: Record<string, TransformFactory>;

  constructor(
    destinations: Readonly<Record<string, DestinationFactory>> = {},
    transforms: Readonly<Record<string, TransformFactory>> = {},
  ) {
    for (const [field, map] of [
      ['destinations', destinations],
      ['transforms', transforms],
    ] as const) {
      if (map === null || typeof map !== 'object') throw configError(field, 'must map names to factories');
      for (const [name, factory] of Object.entries(map)) {
        if (typeof factory !== 'function')
          throw configError(`${field}.${name}`, 'must be a factory function');
      }
    }
    this.destinations = { ...BUILT_IN_DESTINATIONS, ...destinations };
    this.transforms = { ...BUILT_IN_TRANSFORMS, ...transforms };
  }

  /** Whether a destination kind is known. */
  hasDestination(kind: string): boolean {
    return Object.hasOwn(this.destinations, kind);
  }

  /** Whether a transform name is known. */
  hasTransform(name: string): boolean {
    return Object.hasOwn(this.transforms, name);
  }

  /** Known destination kinds, sorted (for error hints). */
  destinationKinds(): string[] {
    return Object.keys(this.destinations).sort();
  }

  /** Known transform names, sorted (for error hints). */
  transformNames(): string[] {
    return Object.keys(this.transforms).sort();
  }

  /** Builds the destination of a definition; `credentials` are merged over its options. */
  destination(
    d: DestinationDefinition,
    pipeline: string,
    credentials: Readonly<Record<string, unknown>> | undefined,
  ): Destination {
    const factory = this.destinations[d.kind];
    if (!factory) throw configError('destination.kind', `unknown destination kind ${JSON.stringify(d.kind)}`);
    return factory({ ...d.options, ...credentials }, { pipeline, credentials });
  }

  /** Builds one transform of a definition. */
  transform(t: TransformDefinition, pipeline: string): Transform {
    const factory = this.transforms[t.name];
    if (!factory) throw configError('transforms', `unknown transform ${JSON.stringify(t.name)}`);
    return factory(t.options, { pipeline });
  }
}

/** NDJSON lines appended to a file; the file is closed with the destination. */
function ndjsonFile(options: Readonly<Record<string, unknown>>): Destination {
  const path = options.path;
  if (typeof path !== 'string' || path === '') {
    throw configError('destination.options.path', 'must be the path of the file to append lines to');
  }
  let file: ReturnType<typeof createWriteStream> | undefined;
  let inner: NdjsonDestination | undefined;
  const name = typeof options.name === 'string' ? options.name : 'ndjson';
  return {
    name,
    async open() {
      file = createWriteStream(path, { flags: 'a' });
      await once(file, 'open');
      inner = new NdjsonDestination({ stream: file, name });
    },
    write: (batch) => inner!.write(batch),
    async close() {
      await inner?.close();
      if (file) await new Promise<void>((resolve) => file!.end(() => resolve()));
    },
  };
}
