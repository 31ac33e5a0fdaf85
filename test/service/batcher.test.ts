// MicroBatcher on its own, with a fake "native" call: packing, waiting, ordering,
// one call in flight, error isolation, close.
import { describe, expect, it } from 'vitest';
import { MicroBatcher } from '../../lib/service/batcher.js';

const input = (v: number) => Uint8Array.of(v);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fake(opts: { delayMs?: number; failOn?: number } = {}) {
  const calls: Array<{ key: number; values: number[] }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const run = async (key: number, inputs: Uint8Array[]) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    calls.push({ key, values: inputs.map((i) => i[0]!) });
    await sleep(opts.delayMs ?? 1);
    inFlight--;
    if (opts.failOn !== undefined && inputs.some((i) => i[0] === opts.failOn)) throw Object.assign(new Error('bad input'), { code: 'ERR_TORCH' });
    return inputs.map((i) => `${key}:${i[0]}`);
  };
  return { run, calls, max: () => maxInFlight };
}

describe('MicroBatcher', () => {
  it('packs same-key requests into one call, splits by key, keeps result order', async () => {
    const f = fake();
    const b = new MicroBatcher(f.run, { maxBatch: 8, maxWaitMs: 5 });
    const ps = [b.submit(0.5, [input(1)]), b.submit(0.7, [input(2)]), b.submit(0.5, [input(3), input(4)]), b.submit(0.7, [input(5)])];
    expect(await Promise.all(ps)).toEqual([['0.5:1'], ['0.7:2'], ['0.5:3', '0.5:4'], ['0.7:5']]);
    expect(f.calls).toEqual([
      { key: 0.5, values: [1, 3, 4] },
      { key: 0.7, values: [2, 5] },
    ]);
    expect(f.max()).toBe(1);
  });

  it('sends a full batch at once and spreads a large request over several calls', async () => {
    const f = fake();
    const b = new MicroBatcher(f.run, { maxBatch: 4, maxWaitMs: 10_000 });
    const big = b.submit(0.5, [1, 2, 3, 4, 5, 6, 7, 8, 9].map(input));
    // 9 inputs: two full calls go at once; the ninth waits for company (or maxWaitMs).
    await sleep(30);
    expect(f.calls.map((c) => c.values)).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    const more = b.submit(0.5, [10, 11, 12].map(input));
    expect(await more).toEqual(['0.5:10', '0.5:11', '0.5:12']);
    expect(await big).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((v) => `0.5:${v}`));
    expect(f.calls.at(-1)!.values).toEqual([9, 10, 11, 12]);
  });

  it('waits at most maxWaitMs for company', async () => {
    const f = fake();
    const b = new MicroBatcher(f.run, { maxBatch: 100, maxWaitMs: 20 });
    const t0 = performance.now();
    await b.submit(0.5, [input(1)]);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(15);
    expect(waited).toBeLessThan(1000);
  });

  it('a failed shared call is retried per request: only the culprit rejects', async () => {
    const f = fake({ failOn: 13 });
    const b = new MicroBatcher(f.run, { maxBatch: 8, maxWaitMs: 2 });
    const all = await Promise.allSettled([b.submit(0.5, [input(1)]), b.submit(0.5, [input(13), input(2)]), b.submit(0.5, [input(3)])]);
    expect(all.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((all[1] as PromiseRejectedResult).reason.message).toBe('bad input');
    expect(f.calls.map((c) => c.values)).toEqual([[1, 13, 2, 3], [1], [13, 2], [3]]);
  });

  it('runs exclusive tasks between batches, and close() rejects what is queued', async () => {
    const f = fake({ delayMs: 10 });
    const b = new MicroBatcher(f.run, { maxBatch: 2, maxWaitMs: 0 });
    const first = b.submit(0.5, [input(1), input(2)]);
    await sleep(1); // the first call is in flight
    const order: string[] = [];
    const queued = b.submit(0.5, [input(3)]);
    const task = b.runExclusive(async () => {
      order.push(`exclusive after ${f.calls.length} call(s)`);
      return 42;
    });
    expect(await task).toBe(42);
    expect(order).toEqual(['exclusive after 1 call(s)']);
    await first;
    await queued;
    // close(): the call in flight finishes; everything queued behind it is rejected.
    const c = new MicroBatcher(fake({ delayMs: 10 }).run, { maxBatch: 2, maxWaitMs: 1000 });
    const inFlight = c.submit(0.5, [input(1), input(2)]);
    const late = c.submit(0.5, [input(4)]);
    const lateTask = c.runExclusive(async () => 1);
    c.close(Object.assign(new Error('closed'), { code: 'ERR_DISPOSED' }));
    const [a, l, t] = await Promise.allSettled([inFlight, late, lateTask]);
    expect(a).toEqual({ status: 'fulfilled', value: ['0.5:1', '0.5:2'] });
    expect(l).toMatchObject({ status: 'rejected', reason: { code: 'ERR_DISPOSED' } });
    expect(t).toMatchObject({ status: 'rejected', reason: { code: 'ERR_DISPOSED' } });
    await expect(c.submit(0.5, [input(5)])).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    await expect(c.runExclusive(async () => 1)).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
  });
});
