import { describe, expect, it } from 'vitest';
import {
  type DestinationPositions,
  idleAdvanced,
  reconcilePositions,
} from '../../../src/pipeline/reconcile.js';
import type { PipelineState } from '../../../src/state/state-store.js';

const saved = (lsn: bigint, destinations: Record<string, bigint> = {}): PipelineState => ({
  checkpoint: { lsn, commitLsn: lsn - 8n },
  destinations,
  updatedAt: '2024-01-01T00:00:00.000Z',
});
const dest = (over: Partial<DestinationPositions> = {}): DestinationPositions => ({
  name: 'd',
  keepsWatermark: true,
  watermark: 0x192n,
  saved: 0x192n,
  ...over,
});
const run = (
  s: PipelineState | undefined,
  position: bigint | undefined,
  d: DestinationPositions[] = [dest()],
) => reconcilePositions({ pipeline: 'p', saved: s, source: { position }, destinations: d });

describe('reconcilePositions', () => {
  it('first start, in step, source behind: info', () => {
    expect(run(undefined, undefined, [])).toMatchObject({ outcome: 'new', severity: 'info' });
    expect(run(saved(0x200n, { d: 0x192n }), 0x200n)).toMatchObject({
      outcome: 'in-step',
      severity: 'info',
      findings: [],
      saved: 0x200n,
      source: 0x200n,
    });
    const behind = run(saved(0x200n, { d: 0x192n }), 0x100n);
    expect(behind).toMatchObject({ outcome: 'source-behind', severity: 'info' });
    expect(behind.message).toContain('0/100, behind the saved position 0/200');
  });

  it('source ahead of the saved position: a warning that says changes in between cannot come again', () => {
    const report = run(saved(0x200n, { d: 0x192n }), 0x300n);
    expect(report).toMatchObject({ outcome: 'source-ahead', severity: 'warning' });
    expect(report.message).toMatch(/0\/300, ahead of the saved position 0\/200: changes committed between/);
    expect(report.message).toMatch(/idle/);
    expect(report.message).toMatch(/pg_replication_slot_advance/);
  });

  it('a slot but no saved state: a warning', () => {
    expect(run(undefined, 0x300n)).toMatchObject({ outcome: 'state-missing', severity: 'warning' });
  });

  it('saved state but no slot: POSITION_GAP', () => {
    expect(() => run(saved(0x200n), undefined)).toThrowError(
      expect.objectContaining({ code: 'POSITION_GAP', message: expect.stringContaining('slot is gone') }),
    );
  });

  it('a source that rebuilds: a warning instead of POSITION_GAP, whatever the positions', () => {
    const why = 'Replication slot "s" was invalidated';
    for (const position of [undefined, 0x100n]) {
      const report = reconcilePositions({
        pipeline: 'p',
        saved: saved(0x200n, { d: 0x192n }),
        source: { position, rebuilding: why },
        destinations: [dest({ watermark: 0x10n })], // behind: would be a POSITION_GAP when resuming
      });
      expect(report).toMatchObject({ outcome: 'rebuild', severity: 'warning', findings: [] });
      expect(report.message).toMatch(/^Replication slot "s" was invalidated: pipeline "p" rebuilds/);
    }
  });

  it('a destination behind what the saved state says it made durable: POSITION_GAP naming it', () => {
    expect(() => run(saved(0x200n, { d: 0x192n }), 0x200n, [dest({ watermark: 0x100n })])).toThrowError(
      expect.objectContaining({
        code: 'POSITION_GAP',
        message: expect.stringContaining('Destination "d"'),
        details: expect.objectContaining({ watermark: '0/100', saved: '0/192' }),
      }),
    );
    // Also when the slot is behind: the stream resumes at the saved position either way.
    expect(() => run(saved(0x200n, { d: 0x192n }), 0x100n, [dest({ watermark: 0x100n })])).toThrowError(
      expect.objectContaining({ code: 'POSITION_GAP' }),
    );
  });

  it('destinations without a watermark, emptied, new, or ahead', () => {
    const s = saved(0x200n, { d: 0x192n, plain: 0x192n });
    const plain = dest({ name: 'plain', keepsWatermark: false, watermark: undefined });
    expect(run(s, 0x200n, [plain]).findings).toEqual([]);
    const emptied = run(s, 0x200n, [dest({ watermark: undefined })]);
    expect(emptied.severity).toBe('warning');
    expect(emptied.findings).toEqual([
      expect.objectContaining({
        destination: 'd',
        severity: 'warning',
        message: expect.stringMatching(/emptied/),
      }),
    ]);
    const added = run(s, 0x200n, [dest({ name: 'new', watermark: undefined, saved: undefined })]);
    expect(added.findings).toEqual([
      expect.objectContaining({
        destination: 'new',
        severity: 'warning',
        message: expect.stringMatching(/is new/),
      }),
    ]);
    const ahead = run(s, 0x200n, [dest({ watermark: 0x1f0n })]);
    expect(ahead).toMatchObject({ outcome: 'in-step', severity: 'info' });
    expect(ahead.findings).toEqual([expect.objectContaining({ severity: 'info' })]);
  });

  it('a source that reports no position: unchecked', () => {
    expect(
      reconcilePositions({ pipeline: 'p', saved: saved(0x200n), source: undefined, destinations: [] }),
    ).toMatchObject({ outcome: 'unchecked', severity: 'info' });
  });
});

describe('idleAdvanced', () => {
  it('moves the saved position to an idle advance, and only forward, never during a snapshot', () => {
    const s = saved(0x200n, { d: 0x192n });
    const moved = idleAdvanced(s, 0x280n);
    expect(moved).toMatchObject({
      checkpoint: { lsn: 0x280n, commitLsn: 0x1f8n },
      destinations: { d: 0x192n },
    });
    expect(idleAdvanced(s, 0x200n)).toBeUndefined();
    expect(idleAdvanced(s, 0x100n)).toBeUndefined();
    expect(idleAdvanced(undefined, 0x280n)).toBeUndefined();
    const snapshotting = {
      ...s,
      checkpoint: { ...s.checkpoint, snapshot: { consistentPoint: 0x200n, tables: {} } },
    };
    expect(idleAdvanced(snapshotting, 0x280n)).toBeUndefined();
  });
});
