import { describe, expect, it } from 'vitest';
import { Rng, mixSeed } from '../../lib/data/rng.js';

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 20 }, () => a.nextU32());
    const sb = Array.from({ length: 20 }, () => b.nextU32());
    const sc = Array.from({ length: 20 }, () => c.nextU32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('gives the same stream across runs (pinned values)', () => {
    const r = new Rng(12345);
    const got = Array.from({ length: 4 }, () => r.nextU32());
    // Pinned: if this changes, every seeded shuffle/augmentation in saved runs changes too.
    expect(got).toEqual(PINNED);
    expect(mixSeed(1, 2, 3)).toBe(PINNED_MIX);
  });

  it('nextFloat is in [0,1) and nextInt in [0,n) and roughly uniform', () => {
    const r = new Rng(7);
    const counts = new Array(10).fill(0);
    let bad = 0;
    for (let i = 0; i < 20000; i++) {
      const f = r.nextFloat();
      if (!(f >= 0 && f < 1)) bad++;
      const k = r.nextInt(10);
      if (!(Number.isInteger(k) && k >= 0 && k < 10)) bad++;
      else counts[k]++;
    }
    expect(bad).toBe(0);
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
    expect(r.nextInt(1)).toBe(0);
    expect(() => r.nextInt(0)).toThrow(/nextInt/);
    expect(() => r.nextInt(2.5)).toThrow(/nextInt/);
  });

  it('shuffle is a permutation and every position is reachable', () => {
    const r = new Rng(99);
    const firstPos = new Array(5).fill(0);
    for (let t = 0; t < 2000; t++) {
      const p = r.permutation(5);
      expect([...p].sort()).toEqual([0, 1, 2, 3, 4]);
      firstPos[p[0]]++;
    }
    for (const c of firstPos) expect(c).toBeGreaterThan(300);
    const arr = ['a', 'b', 'c', 'd'];
    new Rng(1).shuffle(arr);
    expect([...arr].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('mixSeed separates nearby tuples and large seeds', () => {
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(mixSeed(0, 1)).not.toBe(mixSeed(1, 0));
    expect(mixSeed(2 ** 40)).not.toBe(mixSeed(0));
    expect(new Rng(2 ** 40).nextU32()).not.toBe(new Rng(0).nextU32());
  });
});

const PINNED = [3044110649, 3135660604, 3612133036, 2702918206];
const PINNED_MIX = 2140991560;
