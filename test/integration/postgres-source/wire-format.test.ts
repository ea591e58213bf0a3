import { describe, expect, it } from 'vitest';
import { CopyBinaryParser } from '../../../src/postgres/copy-out.js';
import { defaultSlotName, parseQualifiedName } from '../../../src/postgres/postgres-options.js';
import { protocolFor } from '../../../src/postgres/replication-plan.js';
import { parseDurationMs } from '../../../src/postgres/replication-stream.js';
import {
  chunkCopySql,
  quoteIdent,
  quoteLiteral,
  startReplicationCommand,
} from '../../../src/postgres/sql.js';
import { encodeStandbyStatus, StandbyPositions } from '../../../src/postgres/standby-status.js';

describe('standby status', () => {
  it('encodes positions and the clock in microseconds since 2000-01-01', () => {
    const buf = encodeStandbyStatus({ write: 1n, flush: 2n, apply: 3n }, Date.UTC(2000, 0, 2), true);
    expect(buf.length).toBe(34);
    expect(String.fromCharCode(buf[0]!)).toBe('r');
    expect([buf.readBigUInt64BE(1), buf.readBigUInt64BE(9), buf.readBigUInt64BE(17)]).toEqual([1n, 2n, 3n]);
    expect(buf.readBigInt64BE(25)).toBe(86_400_000_000n); // one day, not seven days off
    expect(buf[33]).toBe(1);
  });

  it('reports only confirmed positions; keepalives move it only when nothing is in flight', () => {
    const p = new StandbyPositions(100n);
    p.receive(500n);
    p.handOut(300n);
    expect(p.confirmIdle(500n, true)).toBe(false); // batch 300 not confirmed yet
    expect(p.confirm(300n)).toBe(true);
    expect(p.confirmIdle(500n, false)).toBe(false); // something buffered
    expect(p.confirmIdle(500n, true)).toBe(true);
    const r = p.encode(Date.now(), false);
    expect(r.readBigUInt64BE(9)).toBe(500n);
    expect(p.confirm(400n)).toBe(false); // never backwards
  });
});

describe('names and SQL text', () => {
  it('parses qualified names', () => {
    expect(parseQualifiedName('public.orders')).toEqual({ schema: 'public', name: 'orders' });
    expect(parseQualifiedName('"My Schema"."a.b""c"')).toEqual({ schema: 'My Schema', name: 'a.b"c' });
    expect(parseQualifiedName('orders')).toBeUndefined();
    expect(parseQualifiedName('a.b.c')).toBeUndefined();
    expect(parseQualifiedName('a.')).toBeUndefined();
    expect(defaultSlotName('Orders-EU')).toBe('etl_orders_eu');
  });

  it('quotes identifiers and literals', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
  });

  it('builds chunk queries and replication commands', () => {
    const sql = chunkCopySql({
      table: { schema: 's', name: 't' },
      columns: ['id', 'v'],
      asText: false,
      key: { columns: ['id'], types: ['bigint'], after: ["4'2"], limit: 10 },
    });
    expect(sql).toBe(
      `COPY (SELECT "id", "v", "id"::text AS "_etl_key_0" FROM "s"."t" WHERE ("id") > (CAST('4''2' AS bigint)) ORDER BY "id" LIMIT 10) TO STDOUT (FORMAT binary)`,
    );
    expect(
      startReplicationCommand({
        slot: 's',
        publication: 'p',
        protocolVersion: 1,
        binary: false,
        startLsn: 0x1_0000_0010n,
      }),
    ).toBe(`START_REPLICATION SLOT "s" LOGICAL 1/10 (proto_version '1', publication_names '"p"')`);
    expect(protocolFor(130000)).toBe(1);
    expect(protocolFor(140005)).toBe(2);
    expect(protocolFor(150004)).toBe(3);
    expect(protocolFor(170002)).toBe(4);
    expect(parseDurationMs('60s')).toBe(60_000);
    expect(parseDurationMs('1min')).toBe(60_000);
    expect(parseDurationMs('0')).toBe(0);
  });
});

describe('COPY binary parser', () => {
  it('parses rows split anywhere across messages', () => {
    const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
    const row = (fields: (string | null)[]) => {
      const parts = [Buffer.from([0, fields.length])];
      for (const f of fields) {
        const len = Buffer.alloc(4);
        len.writeInt32BE(f === null ? -1 : Buffer.byteLength(f));
        parts.push(len);
        if (f !== null) parts.push(Buffer.from(f));
      }
      return Buffer.concat(parts);
    };
    const all = Buffer.concat([
      header,
      row(['1', 'a']),
      row(['2', null]),
      row(['3', 'ccc']),
      Buffer.from([0xff, 0xff]),
    ]);
    for (const step of [1, 3, 7, all.length]) {
      const rows: (string | null)[][] = [];
      const parser = new CopyBinaryParser((row) =>
        rows.push(Array.from({ length: row.count }, (_, i) => row.field(i)?.toString() ?? null)),
      );
      for (let i = 0; i < all.length; i += step) parser.push(all.subarray(i, i + step));
      expect(rows).toEqual([
        ['1', 'a'],
        ['2', null],
        ['3', 'ccc'],
      ]);
      expect(parser.done).toBe(true);
    }
  });
});
