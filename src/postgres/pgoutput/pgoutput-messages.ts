import type { ReplicaIdentity } from '../../change/table-schema.js';
import type { Lsn } from '../../lsn.js';
import type { MessageReader } from './message-reader.js';

/** pgoutput message type bytes (protocol versions 1–4). */
export const MessageType = {
  Begin: 0x42, // B
  Commit: 0x43, // C
  Origin: 0x4f, // O
  Relation: 0x52, // R
  Type: 0x59, // Y
  Insert: 0x49, // I
  Update: 0x55, // U
  Delete: 0x44, // D
  Truncate: 0x54, // T
  Message: 0x4d, // M
  StreamStart: 0x53, // S
  StreamStop: 0x45, // E
  StreamCommit: 0x63, // c
  StreamAbort: 0x41, // A
  BeginPrepare: 0x62, // b
  Prepare: 0x50, // P
  CommitPrepared: 0x4b, // K
  RollbackPrepared: 0x72, // r
  StreamPrepare: 0x70, // p
} as const;

/** Stream Commit (Begin and Commit are read in place by the accumulator, allocating nothing). */
export interface CommitMessage {
  readonly xid: number;
  readonly commitLsn: Lsn;
  readonly endLsn: Lsn;
  readonly commitTimePgUs: bigint;
}

/** A relation's shape as pgoutput sends it. */
export interface RelationMessage {
  readonly id: number;
  readonly schema: string;
  readonly name: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly columns: readonly { identity: boolean; name: string; typeOid: number; typeModifier: number }[];
}

/** Truncate of one or more relations. */
export interface TruncateMessage {
  readonly relationIds: readonly number[];
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
}

/** A logical decoding message (`pg_logical_emit_message`). */
export interface LogicalMessage {
  readonly transactional: boolean;
  readonly lsn: Lsn;
  readonly prefix: string;
  readonly content: Uint8Array;
}

/** Stream Abort: of the whole transaction (`subXid === xid`) or one subtransaction. */
export interface StreamAbortMessage {
  readonly xid: number;
  readonly subXid: number;
}

const IDENTITY: Record<number, ReplicaIdentity> = {
  100: 'default',
  110: 'nothing',
  102: 'full',
  105: 'index',
};

/** The tiny parsers of the control messages; each starts after the type byte (and the xid, when streamed). */
export const parse = {
  streamCommit(r: MessageReader): CommitMessage {
    const xid = r.u32();
    r.u8();
    return { xid, commitLsn: r.u64(), endLsn: r.u64(), commitTimePgUs: r.i64() };
  },
  relation(r: MessageReader): RelationMessage {
    const id = r.u32();
    const schema = r.cstring();
    const name = r.cstring();
    const replicaIdentity = IDENTITY[r.u8()] ?? 'default';
    const n = r.i16();
    const columns: RelationMessage['columns'][number][] = [];
    for (let i = 0; i < n; i++) {
      const identity = (r.u8() & 1) === 1;
      columns.push({ identity, name: r.cstring(), typeOid: r.u32(), typeModifier: r.i32() });
    }
    return { id, schema, name, replicaIdentity, columns };
  },
  truncate(r: MessageReader): TruncateMessage {
    const n = r.i32();
    const options = r.u8();
    const relationIds: number[] = [];
    for (let i = 0; i < n; i++) relationIds.push(r.u32());
    return { relationIds, cascade: (options & 1) !== 0, restartIdentity: (options & 2) !== 0 };
  },
  message(r: MessageReader): LogicalMessage {
    const transactional = (r.u8() & 1) === 1;
    const lsn = r.u64();
    const prefix = r.cstring();
    const content = r.bytes(r.i32()).slice();
    return { transactional, lsn, prefix, content };
  },
  streamAbort(r: MessageReader): StreamAbortMessage {
    // Protocol 4 (parallel apply) adds abort LSN and time; we need neither.
    return { xid: r.u32(), subXid: r.u32() };
  },
};
