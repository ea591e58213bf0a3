// The public surface of etl-stream: explicit named exports only (test/unit/exports.test.ts pins the list).
export { ChangeBatch, type ChangeBatchInit } from './change/change-batch.js';
export type { ChangeEntry, RowsEntry, SchemaChangeEntry, TruncateEntry } from './change/change-entry.js';
export type {
  BackfillProgress,
  Checkpoint,
  SnapshotProgress,
  TableSnapshotProgress,
} from './change/checkpoint.js';
export {
  CHANGE_OP_NAMES,
  ChangeOp,
  isMetadataColumn,
  LSN_COLUMN,
  METADATA_COLUMNS,
  OP_COLUMN,
  SEQ_COLUMN,
  UNCHANGED_COLUMN,
} from './change/metadata-columns.js';
export {
  type ColumnSchema,
  qualifiedName,
  type ReplicaIdentity,
  sameShape,
  type TableSchema,
} from './change/table-schema.js';
export { NdjsonDestination, type NdjsonOptions, ndjson } from './destinations/console-destination.js';
export { DuckDBDestination, type DuckDBOptions, duckdb } from './destinations/duckdb/duckdb-destination.js';
// Destinations
export {
  MemoryDestination,
  type MemoryDestinationOptions,
  memory,
} from './destinations/memory-destination.js';
export {
  type DriverLogSink,
  SnowflakeDestination,
  type SnowflakeNamingOptions,
  type SnowflakeOptions,
  snowflake,
} from './destinations/snowflake/index.js';
export {
  configError,
  EtlError,
  type EtlErrorCode,
  type EtlErrorOptions,
  isRetryable,
  redactSecrets,
  toEtlError,
} from './errors.js';
export { formatLsn, type Lsn, maxLsn, minLsn, parseLsn, ZERO_LSN } from './lsn.js';
// Pipeline manager
export type {
  DestinationFactory,
  DestinationFactoryContext,
  TransformFactory,
} from './manager/component-registry.js';
export type {
  ManagedPipelineState,
  ManagedPipelineStatus,
  ManagerEvents,
  ManagerListener,
  StopReason,
} from './manager/manager-events.js';
export type { ManagerLimits, PipelineManagerOptions } from './manager/manager-options.js';
export { managerMigrationSql } from './manager/manager-sql.js';
export type {
  DestinationDefinition,
  PipelineDefinition,
  SourceDefinition,
  TransformDefinition,
} from './manager/pipeline-definition.js';
export type {
  CredentialsRequest,
  CredentialsResolver,
  ManagedPipelineOptions,
} from './manager/pipeline-factory.js';
export { PipelineManager } from './manager/pipeline-manager.js';
export { type AlertNotice, AlertsMonitor, type AlertsOptions, alerts } from './monitor/alerts.js';
export {
  HealthHandler,
  type HealthOptions,
  type HealthReport,
  healthHandler,
  type PipelineHealth,
} from './monitor/health-handler.js';
export { HealthServer, type HealthServerOptions, healthServer } from './monitor/health-server.js';
export { MetricsMonitor, type MetricsOptions, type MetricsRegistry, metrics } from './monitor/metrics.js';
export type { Monitor, MonitorContext, PipelineView } from './monitor/monitor.js';
export {
  PublicationMonitor,
  type PublicationMonitorOptions,
  publicationMonitor,
} from './monitor/publication-monitor.js';
// Monitors
export type { LostSlotPolicy } from './monitor/slot-conditions.js';
export { WalMonitor, walMonitor } from './monitor/wal-monitor.js';
export type { WalMonitorOptions, WalTarget } from './monitor/wal-monitor-options.js';
export type { WebhookOptions } from './monitor/webhook.js';
export type { CircuitBreakerOptions, CircuitState } from './pipeline/circuit-breaker.js';
export type { Destination, DestinationContext } from './pipeline/destination.js';
// Pipeline
export { Pipeline, type StopOptions } from './pipeline/pipeline.js';
export type {
  AlertEvent,
  AlertSeverity,
  PipelineEvents,
  PipelineStatus,
} from './pipeline/pipeline-events.js';
export type { PipelineOptions, RetryOptions } from './pipeline/pipeline-options.js';
export type {
  DestinationFinding,
  DestinationPositions,
  ReconcileOutcome,
  ReconcileReport,
} from './pipeline/reconcile.js';
export type { BatchLimits, ReplicationSlotRef, Source, SourceContext } from './pipeline/source.js';
export type { PostgresSourceOptions, ReconnectOptions } from './postgres/postgres-options.js';
// Sources
export { PostgresSource, postgres } from './postgres/postgres-source.js';
// State stores
export { MemoryStateStore, memoryState } from './state/memory-state-store.js';
export {
  decodePipelineState,
  encodePipelineState,
  PIPELINE_STATE_VERSION,
} from './state/pipeline-state-codec.js';
export {
  type PostgresStateOptions,
  PostgresStateStore,
  postgresState,
} from './state/postgres-state-store.js';
export type { RedisClient } from './state/redis/redis-client.js';
export { RedisLease } from './state/redis/redis-lease.js';
export { type RedisStateOptions, RedisStateStore, redisState } from './state/redis/redis-state-store.js';
export type { Lease, PipelineState, StateStore } from './state/state-store.js';
// Transforms
export { dropColumns } from './transforms/drop-columns.js';
export { filterRows, type RowPredicate } from './transforms/filter-rows.js';
export { filterRowsBy } from './transforms/filter-rows-by.js';
export { type FilterTablesOptions, filterTables } from './transforms/filter-tables.js';
export { type HashColumnsOptions, hashColumns } from './transforms/hash-columns.js';
export { type MapBatchResult, mapBatch } from './transforms/map-batch.js';
export { maskColumns } from './transforms/mask-columns.js';
export { renameColumns } from './transforms/rename-columns.js';
export { renameTables } from './transforms/rename-tables.js';
export { selectColumns } from './transforms/select-columns.js';
export type { Transform, TransformContext } from './transforms/transform.js';
