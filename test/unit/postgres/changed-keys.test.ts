import { describe, expect, it } from 'vitest';
import { ChangedKeys, Verdict } from '../../../src/postgres/changed-keys.js';
import { precedes, XidSnapshot } from '../../../src/postgres/xid-snapshot.js';

describe('XidSnapshot', () => {
  it('sees transactions that finished before it, not running or later ones', () => {
    const s = XidSnapshot.parse('100:105:100,102');
    expect([99, 100, 101, 102, 103, 104, 105, 200].map((x) => s.sees(x))).toEqual([
      true,
      false,
      true,
      false,
      true,
      true,
      false,
      false,
    ]);
    expect([99, 100, 101].map((x) => s.settled(x))).toEqual([true, false, false]);
  });

  it('compares 64-bit snapshot ids with 32-bit pgoutput xids across wraparound', () => {
    // Epoch 1, xid 2^32 - 3 .. 2^32 + 5 (the 32-bit counter wrapped to 5).
    const base = 2n ** 32n;
    const s = XidSnapshot.parse(`${base + base - 3n}:${base + base + 5n}:${base + base + 1n}`);
    expect(s.sees(0xffff_fffe)).toBe(true); // 2^32 - 2, before the wrap
    expect(s.sees(1)).toBe(false); // running
    expect(s.sees(3)).toBe(true); // after the wrap, before xmax
    expect(s.sees(5)).toBe(false); // xmax
    expect(precedes(0xffff_fff0, 2)).toBe(true);
    expect(precedes(2, 0xffff_fff0)).toBe(false);
  });

  it('rejects text that is not a snapshot', () => {
    expect(() => XidSnapshot.parse('nope')).toThrow(/snapshot text/);
  });
});

describe('ChangedKeys', () => {
  const snapshot = XidSnapshot.parse('10:20:12,15');

  it('keeps copies whose last change the snapshot saw, drops or re-reads the others', () => {
    const keys = new ChangedKeys();
    keys.note('a', 11, true); // seen
    keys.note('b', 12, true); // running at the snapshot, complete: drop
    keys.note('c', 21, false); // after the snapshot, unchanged TOAST: read again
    keys.note('d', 12, true); // an insert (complete) ...
    keys.note('d', 25, false); // ... then an update with unchanged TOAST: still complete downstream
    keys.note('e', 15, true); // invisible ...
    keys.note('e', 19, true); // ... then a later visible change: the last changer decides
    const { verdicts, stale } = keys.reconcile(['a', 'b', 'c', 'd', 'e', 'untouched'], snapshot);
    expect(stale).toBe(false);
    expect(verdicts).toEqual([
      Verdict.Keep,
      Verdict.Drop,
      Verdict.Retry,
      Verdict.Drop,
      Verdict.Keep,
      Verdict.Keep,
    ]);
  });

  it('marks a chunk stale when a truncate or schema change it did not see came first', () => {
    const keys = new ChangedKeys();
    keys.reset(11);
    expect(keys.reconcile(['a'], snapshot).stale).toBe(false);
    keys.reset(15);
    expect(keys.reconcile(['a'], snapshot).stale).toBe(true);
  });

  it('forgets changes every later snapshot sees', () => {
    const keys = new ChangedKeys();
    keys.note('a', 5, true);
    keys.note('b', 12, true);
    keys.reset(3);
    keys.forget(snapshot);
    expect(keys.size).toBe(1);
    expect(keys.reconcile(['b'], snapshot).verdicts).toEqual([Verdict.Drop]);
  });

  it('reads rows moved by a key change again, unless a complete change or a kept copy made them whole', () => {
    const keys = new ChangedKeys();
    keys.noteMoved('m1', ['-1']);
    keys.noteMoved('m2', ['-2']);
    keys.noteMoved('m3', ['-3']);
    keys.note('m2', 13, true); // an UPDATE sending every column afterwards
    keys.reconcile(['m3'], snapshot); // a copy of m3 (no change remembered): kept, whole
    expect(keys.takeMoved()).toEqual([['-1']]);
    expect(keys.takeMoved()).toEqual([]);
  });
});
