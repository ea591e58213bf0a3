/**
 * The pgoutput options each streaming contender asks the walsender for.
 *
 * The baseline's parser (pg-logical-replication 2.5) understands only
 * protocol 1 with text values: it has no Stream* messages and no binary
 * values. etl-stream's source asks for the newest protocol the server speaks,
 * binary values when every published column has a binary decoder, logical
 * messages, and streaming of large transactions; {@link etlProtocol} makes
 * the same decisions with the same functions, and the ceiling always uses
 * the result, so the walsender does for the ceiling exactly the work it does
 * for etl-stream.
 */
import type pg from 'pg';
import { binaryModeSupported } from '../src/arrow/column-codec.js';
import { protocolFor } from '../src/postgres/replication-plan.js';
import { TypeCatalog } from '../src/postgres/type-catalog.js';

export interface PgoutputOptions {
  readonly protoVersion: 1 | 2 | 3 | 4;
  /** Values in binary (`binary 'true'`) instead of text. */
  readonly binary: boolean;
  /** Large in-progress transactions streamed (`streaming 'on'`, protocol ≥ 2). */
  readonly streaming: boolean;
  /** Logical decoding messages (`messages 'true'`, protocol ≥ 2). */
  readonly messages: boolean;
}

/** What the baseline speaks. */
export const BASELINE_PROTOCOL: PgoutputOptions = {
  protoVersion: 1,
  binary: false,
  streaming: false,
  messages: false,
};

/**
 * What etl-stream's PostgresSource asks for on this server for `table`
 * (`protocolVersion: 'auto'`, `binary: 'auto'`): see `planReplication` and
 * `startReplicationCommand` in src/postgres.
 */
export async function etlProtocol(client: pg.Client, table: string): Promise<PgoutputOptions> {
  const version = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  const protoVersion = protocolFor(Number(version.rows[0]?.v));
  const catalog = await TypeCatalog.load(client);
  // The table name comes from the workload definitions, never from input.
  const { rows } = await client.query<{ oid: number }>('SELECT $1::regclass::oid::int4 AS oid', [table]);
  const [info] = await catalog.loadTables(client, [rows[0]!.oid]);
  const newer = protoVersion >= 2;
  return {
    protoVersion,
    binary: newer && binaryModeSupported(info!.columns, catalog),
    streaming: newer,
    messages: newer,
  };
}

/** `-o name=value` pairs for `pg_recvlogical`. */
export function recvlogicalOptions(protocol: PgoutputOptions, publication: string): string[] {
  const pairs: [string, string][] = [
    ['proto_version', String(protocol.protoVersion)],
    ['publication_names', publication],
  ];
  if (protocol.protoVersion >= 2) pairs.push(['binary', String(protocol.binary)]);
  if (protocol.messages) pairs.push(['messages', 'true']);
  if (protocol.streaming) pairs.push(['streaming', 'on']);
  return pairs.flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}

/** Arguments for `pg_logical_slot_peek_binary_changes(slot, upto_lsn, upto_nchanges, VARIADIC options)`. */
export function sqlDecodingOptions(protocol: PgoutputOptions, publication: string): string[] {
  const opts = ['proto_version', String(protocol.protoVersion), 'publication_names', publication];
  if (protocol.binary) opts.push('binary', 'true');
  if (protocol.messages) opts.push('messages', 'true');
  // Streaming is meaningless through the SQL interface (whole transactions only); leave it off.
  return opts;
}

/** A short label for the report, e.g. `v1 text`, `v3 binary streaming`. */
export function describeProtocol(protocol: PgoutputOptions): string {
  return `v${protocol.protoVersion} ${protocol.binary ? 'binary' : 'text'}${protocol.streaming ? ' streaming' : ''}`;
}
