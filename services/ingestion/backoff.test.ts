import { describe, expect, it } from 'vitest';
import { backoffDelay, sleep } from './backoff.js';

describe('backoffDelay', () => {
  const policy = { baseMs: 100, maxMs: 5000 };

  it('grows exponentially from the base and never passes the cap', () => {
    const max = (n: number) => backoffDelay(n, policy, () => 1);
    expect([0, 1, 2, 3].map(max)).toEqual([100, 200, 400, 800]);
    expect(max(6)).toBe(5000);
    expect(max(1000)).toBe(5000);
  });

  it('keeps at least half of each step and spreads the rest at random', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(400);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(600);
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(10, policy)));
    expect(seen.size).toBeGreaterThan(10);
    for (const d of seen) expect(d).toBeGreaterThanOrEqual(2500);
  });
});

describe('sleep', () => {
  it('returns early when its signal aborts', async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 20);
    await sleep(10_000, ac.signal);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
