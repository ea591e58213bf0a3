import { describe, expect, it } from 'vitest';
import { planBalance } from '../../../src/manager/balancer.js';

const pipelines = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];

/** Runs every worker's plan until nobody moves anything: what a cluster converges to. */
function converge(workers: string[], runnable: string[], start: Map<string, string>, maxPipelines = 50) {
  const owners = new Map(start);
  for (let round = 0; round < 20; round++) {
    let moved = false;
    for (const me of workers) {
      const mine = [...owners].filter(([, o]) => o === me).map(([p]) => p);
      const plan = planBalance({ me, workers, runnable, owners, mine, maxPipelines });
      for (const p of plan.shed) {
        owners.delete(p);
        moved = true;
      }
      let count = mine.length - plan.shed.length;
      for (const p of plan.acquire) {
        if (count >= plan.quota) break;
        if (owners.has(p)) continue;
        owners.set(p, me);
        count++;
        moved = true;
      }
    }
    if (!moved) break;
  }
  const counts: Record<string, number> = {};
  for (const o of owners.values()) counts[o] = (counts[o] ?? 0) + 1;
  return { owners, counts };
}

describe('planBalance', () => {
  it('spreads pipelines evenly and gives every one an owner', () => {
    const { owners, counts } = converge(['a', 'b', 'c'], pipelines.slice(0, 6), new Map());
    expect(counts).toEqual({ a: 2, b: 2, c: 2 });
    expect(owners.size).toBe(6);
  });

  it('gives the remainder to the lowest-ranked workers', () => {
    expect(converge(['a', 'b', 'c'], pipelines, new Map()).counts).toEqual({ a: 3, b: 2, c: 2 });
  });

  it('moves only what it must when a worker joins', () => {
    const alone = converge(['a'], pipelines.slice(0, 6), new Map()).owners;
    const { owners, counts } = converge(['a', 'b'], pipelines.slice(0, 6), alone);
    expect(counts).toEqual({ a: 3, b: 3 });
    expect([...owners].filter(([p, o]) => alone.get(p) === o && o === 'a')).toHaveLength(3);
  });

  it('lets the survivors take a dead worker’s pipelines once its leases are gone', () => {
    const before = converge(['a', 'b', 'c'], pipelines.slice(0, 6), new Map()).owners;
    const afterExpiry = new Map([...before].filter(([, o]) => o !== 'a'));
    expect(converge(['b', 'c'], pipelines.slice(0, 6), afterExpiry).counts).toEqual({ b: 3, c: 3 });
  });

  it('never exceeds maxPipelines, leaving the rest unassigned', () => {
    const { owners, counts } = converge(['a', 'b'], pipelines, new Map(), 2);
    expect(counts).toEqual({ a: 2, b: 2 });
    expect(owners.size).toBe(4);
  });

  it('does not take a pipeline another worker holds', () => {
    const plan = planBalance({
      me: 'b',
      workers: ['a', 'b'],
      runnable: ['p1', 'p2'],
      owners: new Map([['p1', 'a']]),
      mine: [],
      maxPipelines: 50,
    });
    expect(plan).toEqual({ quota: 1, acquire: ['p2'], shed: [] });
  });
});
