import { describe, expect, it } from 'vitest';
import { AlertLedger } from '../../../src/monitor/alert-ledger.js';
import { withDeadline } from '../../../src/monitor/deadline.js';
import { slotConditions } from '../../../src/monitor/slot-conditions.js';
import { serverLabel } from '../../../src/monitor/slot-probe.js';
import type { SlotReading } from '../../../src/monitor/slot-reading.js';
import { toSlotReading } from '../../../src/monitor/slot-reading.js';
import { WalClock } from '../../../src/monitor/wal-clock.js';
import { resolveWalMonitorOptions } from '../../../src/monitor/wal-monitor-options.js';

const MB = 1024 * 1024;
const reading = (over: Partial<SlotReading> = {}): SlotReading => ({
  server: 'db1:5432',
  slot: 'orders',
  type: 'logical',
  database: 'app',
  active: true,
  currentLsn: 100n * BigInt(MB),
  restartLsn: 10n * BigInt(MB),
  confirmedFlushLsn: 20n * BigInt(MB),
  retainedBytes: 90n * BigInt(MB),
  lagBytes: 80n * BigInt(MB),
  walStatus: 'reserved',
  safeWalSizeBytes: undefined,
  inactiveMs: undefined,
  invalidationReason: undefined,
  lost: false,
  checkedAt: 0,
  ...over,
});
const limits = { lagBytes: 64 * MB, lagMs: 60_000, inactiveMs: 300_000 };

describe('slotConditions', () => {
  it('raises lag, lag time, wal status and inactivity past their thresholds, with clear messages', () => {
    const alerts = slotConditions(
      {
        reading: reading({ active: false, walStatus: 'unreserved', safeWalSizeBytes: -2n * BigInt(MB) }),
        lagMs: 90_000,
        inactiveForMs: 400_000,
      },
      limits,
      'fail',
    );
    expect(alerts.map((a) => [a.key, a.severity])).toEqual([
      ['wal:db1:5432:orders:lag', 'warning'],
      ['wal:db1:5432:orders:lag-time', 'warning'],
      ['wal:db1:5432:orders:wal-status', 'critical'],
      ['wal:db1:5432:orders:inactive', 'warning'],
    ]);
    expect(alerts[0]?.message).toBe(
      'Replication slot "orders" on db1:5432 is 80.0 MB behind the WAL head (threshold 64.0 MB); the server keeps 90.0 MB of WAL for it until the pipeline confirms.',
    );
    expect(alerts[1]?.message).toMatch(/written 1m 30s ago \(threshold 1m 0s\)/);
    expect(alerts[2]?.message).toMatch(/already 2\.0 MB past max_slot_wal_keep_size/);
    expect(alerts[3]?.message).toMatch(/no consumer for 6m 40s/);
    expect(alerts[0]?.details).toMatchObject({ lagBytes: String(80 * MB), walStatus: 'unreserved' });
  });

  it('raises nothing for a healthy slot, and only "lost" for a lost one', () => {
    expect(
      slotConditions(
        { reading: reading({ lagBytes: 1000n }), lagMs: 10, inactiveForMs: undefined },
        limits,
        'fail',
      ),
    ).toEqual([]);
    const lost = slotConditions(
      {
        reading: reading({ lost: true, walStatus: 'lost', invalidationReason: 'wal_removed' }),
        lagMs: 1e9,
        inactiveForMs: 1e9,
      },
      limits,
      'report',
    );
    expect(lost.map((a) => a.key)).toEqual(['wal:db1:5432:orders:lost']);
    expect(lost[0]?.message).toMatch(/invalidated \(wal_removed\).*Policy "report"/);
    // A source that rebuilds by itself: the alert says so instead of giving the manual steps.
    const rebuilt = slotConditions(
      { reading: reading({ lost: true, walStatus: 'lost' }), lagMs: 1e9, inactiveForMs: 1e9 },
      limits,
      'resnapshot',
    );
    expect(rebuilt[0]?.message).toMatch(/onSlotLost "resnapshot".*copies every table again/);
    expect(rebuilt[0]?.message).not.toMatch(/drop the slot/);
  });

  it('reads rows exactly: bigint bytes, PG17 columns, lost detection', () => {
    const r = toSlotReading(
      {
        slot_name: 's',
        slot_type: 'logical',
        database: 'app',
        active: false,
        active_pid: null,
        restart_lsn: null,
        confirmed_flush_lsn: '0/3000000',
        current_lsn: '1/0',
        retained_bytes: null,
        lag_bytes: '9007199254740993', // beyond 2^53: must stay exact
        wal_status: 'lost',
        safe_wal_size: null,
        inactive_ms: 1234.5,
        invalidation_reason: 'wal_removed',
        conflicting: null,
      },
      'h:1',
      5,
    );
    expect(r).toMatchObject({
      lagBytes: 9007199254740993n,
      confirmedFlushLsn: 0x3000000n,
      currentLsn: 1n << 32n,
      lost: true,
      inactiveMs: 1234.5,
    });
    expect(r.restartLsn).toBeUndefined();
  });
});

describe('WalClock', () => {
  it('gives a lower bound of the age of a WAL position, from head samples', () => {
    const clock = new WalClock();
    clock.sample(100n, 1_000);
    clock.sample(200n, 2_000);
    clock.sample(200n, 3_000); // same head: the first time it was seen counts
    clock.sample(300n, 4_000);
    expect(clock.ageMs(300n, 5_000)).toBe(0); // fully confirmed
    expect(clock.ageMs(250n, 5_000)).toBe(1_000); // head passed 250 by t=4000
    expect(clock.ageMs(150n, 5_000)).toBe(3_000);
    expect(clock.ageMs(50n, 5_000)).toBe(4_000); // older than every sample: at least since the first
    clock.sample(10n, 6_000); // the head went backwards (restored server): start over
    expect(clock.ageMs(5n, 7_000)).toBe(1_000);
  });
});

describe('AlertLedger', () => {
  it('passes new alerts, severity changes, repeats after repeatMs, and resolutions of active keys only', () => {
    const ledger = new AlertLedger(10_000);
    const a = { key: 'k', severity: 'warning' as const, message: 'm', resolved: false };
    expect(ledger.raise(a, 0)).toBe(a);
    expect(ledger.raise(a, 1_000)).toBeUndefined();
    expect(ledger.raise({ ...a, severity: 'critical' }, 2_000)).toMatchObject({ severity: 'critical' });
    expect(ledger.raise({ ...a, severity: 'critical' }, 11_000)).toBeUndefined();
    expect(ledger.raise({ ...a, severity: 'critical' }, 12_001)).toBeDefined();
    expect(ledger.resolve('other', 'x')).toBeUndefined();
    expect(ledger.resolve('k', 'ok')).toEqual({ key: 'k', severity: 'info', message: 'ok', resolved: true });
    expect(ledger.resolve('k', 'ok')).toBeUndefined();
    expect(ledger.accept({ key: 'k', severity: 'info', message: 'ok', resolved: true })).toBeUndefined();
  });
});

describe('options and helpers', () => {
  it('validates walMonitor options, naming the field', () => {
    expect(() => resolveWalMonitorOptions({ intervalMs: 0 })).toThrowError(/`intervalMs`/);
    expect(() => resolveWalMonitorOptions({ targets: [{ connectionString: '' }] })).toThrowError(
      /`targets\[0\]\.connectionString`/,
    );
    expect(() =>
      resolveWalMonitorOptions({ targets: [{ connectionString: 'x', slots: [''] }] }),
    ).toThrowError(/`targets\[0\]\.slots`/);
    expect(() => resolveWalMonitorOptions({ thresholds: { lagBytes: -1 } })).toThrowError(
      /`thresholds\.lagBytes`/,
    );
    expect(() => resolveWalMonitorOptions({ onLost: 'retry' as 'fail' })).toThrowError(/`onLost`/);
    expect(resolveWalMonitorOptions()).toMatchObject({
      intervalMs: 10_000,
      timeoutMs: 5_000,
      onLost: 'fail',
    });
  });

  it('labels servers without credentials', () => {
    expect(serverLabel('postgres://u:pw@db1.internal:6543/app')).toBe('db1.internal:6543');
    expect(serverLabel('postgresql://u@db2/app')).toBe('db2:5432');
    expect(serverLabel('host=db3 port=7000 user=u password=pw')).toBe('db3:7000');
  });

  it('withDeadline settles on time even when the work never does, and aborts it', async () => {
    let seen: AbortSignal | undefined;
    const started = Date.now();
    await expect(
      withDeadline(
        (signal) => {
          seen = signal;
          return new Promise(() => {});
        },
        { timeoutMs: 50, what: 'Nothing' },
      ),
    ).rejects.toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
      message: 'Nothing did not answer within 50 ms',
    });
    expect(Date.now() - started).toBeLessThan(500);
    expect(seen?.aborted).toBe(true);
    const outer = new AbortController();
    const p = withDeadline(() => new Promise(() => {}), {
      timeoutMs: 10_000,
      what: 'x',
      signal: outer.signal,
    });
    outer.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
