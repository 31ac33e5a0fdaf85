// A data-parallel run must fail, not hang, when a rank is missing, dies or freezes, and the
// error must say what happened (ERR_DISTRIBUTED, naming the rank that reports it).
import { describe, expect, it } from 'vitest';
import { freePort, reportedError, runRanks, startRank } from './fixtures/ranks.js';

const stepping = (min: number) => (e: { event: string; step?: unknown }) => e.event === 'step' && (e.step as number) >= min;

describe('data-parallel failures (Gloo on 127.0.0.1)', () => {
  it('a killed rank makes the other fail at once with a clear error, well within the collective timeout', async () => {
    const port = await freePort();
    const job = { mode: 'forever' as const, steps: 0, globalBatch: 4, collectiveTimeoutMs: 60_000 };
    const [r0, r1] = [startRank(0, 2, port, job), startRank(1, 2, port, job)];
    await Promise.all([r0.waitFor(stepping(2)), r1.waitFor(stepping(2))]);
    const killedAt = performance.now();
    r1.child.kill('SIGKILL');
    const exit = await r0.exited;
    const afterKill = performance.now() - killedAt;
    expect(exit.code).toBe(1);
    const err = reportedError(r0)!;
    expect(err.code).toBe('ERR_DISTRIBUTED');
    expect(err.message).toMatch(/^rank 0 of 2: /);
    expect(err.message).toMatch(/Another rank has stopped/);
    expect(afterKill).toBeLessThan(10_000);
  });

  it('a frozen rank makes the other fail after the collective timeout', async () => {
    const port = await freePort();
    const job = { mode: 'forever' as const, steps: 0, globalBatch: 4, collectiveTimeoutMs: 2_000 };
    const [r0, r1] = [startRank(0, 2, port, job), startRank(1, 2, port, job)];
    try {
      await Promise.all([r0.waitFor(stepping(2)), r1.waitFor(stepping(2))]);
      r1.child.kill('SIGSTOP');
      const frozenAt = performance.now();
      const exit = await r0.exited;
      const waited = performance.now() - frozenAt;
      expect(exit.code).toBe(1);
      const err = reportedError(r0)!;
      expect(err.code).toBe('ERR_DISTRIBUTED');
      expect(err.message).toMatch(/did not take part within the timeout \(2 s/);
      expect(waited).toBeGreaterThan(1_500);
      expect(waited).toBeLessThan(15_000);
    } finally {
      r1.child.kill('SIGKILL');
    }
  });

  for (const mode of ['sp', 'hrl'] as const) {
    it(`${mode.toUpperCase()}: a NaN loss on one rank stops every rank with ERR_NAN_LOSS (none waits for it)`, async () => {
      const t = performance.now();
      const ranks = await runRanks({ mode, steps: 3, globalBatch: 8, nanRank: 1, collectiveTimeoutMs: 60_000 });
      for (const r of ranks) {
        expect(reportedError(r)?.code, r.stderr).toBe('ERR_NAN_LOSS');
        expect(r.events.filter((e) => e.event === 'step')).toHaveLength(0);
      }
      expect(performance.now() - t).toBeLessThan(30_000);
    });
  }

  it('rank 0 without its peer times out at the rendezvous, naming the missing rank', async () => {
    const r0 = startRank(0, 2, await freePort(), { mode: 'sp', steps: 1, globalBatch: 4, timeoutMs: 2_000 });
    const exit = await r0.exited;
    expect(exit.code).toBe(1);
    const err = reportedError(r0)!;
    expect(err.code).toBe('ERR_DISTRIBUTED');
    expect(err.message).toMatch(/rank 0 of 2: the rendezvous failed: timed out after 2 s .*1 of 2 ranks arrived; rank\(s\) 1 never joined/);
    expect(exit.ms).toBeLessThan(15_000);
  });

  it('a rank whose rank 0 never starts times out trying to reach it', async () => {
    const r1 = startRank(1, 2, await freePort(), { mode: 'sp', steps: 1, globalBatch: 4, timeoutMs: 2_000 });
    const exit = await r1.exited;
    expect(exit.code).toBe(1);
    const err = reportedError(r1)!;
    expect(err.code).toBe('ERR_DISTRIBUTED');
    expect(err.message).toMatch(/rank 1 of 2: the rendezvous failed: could not reach rank 0 at 127\.0\.0\.1:\d+ within 2 s/);
    expect(exit.ms).toBeLessThan(15_000);
  });
});
