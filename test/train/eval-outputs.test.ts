// `skipnet eval --out --sweep`: the routing record, per-class figures, histograms and
// threshold sweep agree with each other and with the plain evaluation, and the
// accumulator's arithmetic matches a hand computation.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EvalStepResult } from '../../lib/binding-types.js';
import { parseConfig } from '../../lib/config.js';
import { EvalDetailAccumulator } from '../../lib/train/eval-details.js';
import { train } from '../../lib/train/trainer.js';
import { runSkipnet } from '../cli-capture.js';

const cli = (...args: string[]) => runSkipnet(...args);

function result(executed: number[][], predictions: number[], macs: number[]): EvalStepResult {
  const n = predictions.length;
  return {
    loss: 0,
    correct1: 0,
    correct5: 0,
    n,
    gateExec: new Float64Array(executed[0]!.length),
    macs: Float64Array.from(macs),
    executed: Uint8Array.from(executed.flat()),
    predictions: Int32Array.from(predictions),
    logits: new Float32Array(0),
  };
}

describe('EvalDetailAccumulator', () => {
  it('computes routing, per-class accuracy and CP, and histograms by hand', () => {
    const acc = new EvalDetailAccumulator(3, ['cat', 'dog']);
    acc.add(result([[1, 0, 0], [1, 1, 1]], [0, 0], [10, 40]), Int32Array.from([0, 1]), 0);
    acc.add(result([[0, 0, 0]], [1], [5]), Int32Array.from([1]), 2);
    expect(acc.routing.map((r) => [r.i, r.executed, r.blocks, r.correct])).toEqual([
      [0, '100', 2, true],
      [1, '111', 4, false],
      [2, '000', 1, true],
    ]);
    const d = acc.result();
    // cat: 1 image, 1 of 3 gated blocks -> CP = 100 * (1 + 1/3 * 3) / 4 = 50
    expect(d.perClass[0]).toMatchObject({ name: 'cat', n: 1, top1: 100, cp: 50, macsMean: 10 });
    // dog: 2 images, 3 + 0 gated executions -> mean rate 0.5 -> CP = 100 * (1 + 1.5) / 4 = 62.5
    expect(d.perClass[1]).toMatchObject({ name: 'dog', n: 2, top1: 50, cp: 62.5, macsMean: 22.5 });
    expect(d.blocksHistogram).toEqual([0, 1, 1, 0, 1]);
    expect(d.macsHistogram.counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(d.macsHistogram.edges[0]).toBe(5);
    expect(d.macsHistogram.edges.at(-1)).toBe(40);
    // 20 bins of width 1.75 from 5: 5 -> bin 0, 10 -> bin 2, 40 (the top edge) -> the last bin.
    expect([d.macsHistogram.counts[0], d.macsHistogram.counts[2], d.macsHistogram.counts[19]]).toEqual([1, 1, 1]);
  });
});

describe('skipnet eval --out --sweep', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'skipnet-eval-out-'));
  const run = join(scratch, 'run');
  const out = join(run, 'eval');

  beforeAll(async () => {
    await train(
      parseConfig({
        model: { arch: 'cifar', depth: 14, gate: 'rnn' },
        data: { source: { kind: 'synthetic', size: 256, testSize: 96, height: 16, width: 16, channels: 3, numClasses: 4 }, batchSize: 32, evalBatchSize: 40 },
        optimizer: { lr: 0.05 },
        schedule: { kind: 'cosine', steps: 8, warmupSteps: 0 },
        evalEvery: 8,
        logEvery: 4,
        threads: 2,
        seed: 5,
        outDir: run,
      }),
    );
  }, 120_000);

  it('writes files that agree with each other and with the plain evaluation', async () => {
    const plain = await cli('eval', run, '--json');
    expect(plain.code, plain.err).toBe(0);
    const base = JSON.parse(plain.out);

    const r = await cli('eval', run, '--out', out, '--sweep', '0.3,0.5,0.8', '--json');
    expect(r.code, r.err).toBe(0);
    const ev = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
    expect(ev.top1).toBe(base.top1);
    expect(ev.cp).toBeCloseTo(base.cp, 10);
    expect(ev.source).toMatchObject({ kind: 'synthetic' });

    const routing = readFileSync(join(out, 'routing.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(routing).toHaveLength(96);
    expect(routing.map((x) => x.i)).toEqual([...Array(96).keys()]);
    const m = ev.gateExecRates.length;
    // Per-gate rates and CP rebuilt from the routing record equal eval.json's.
    const perGate = new Array(m).fill(0);
    for (const x of routing) {
      expect(x.executed).toHaveLength(m);
      expect(x.blocks).toBe(1 + [...x.executed].filter((c: string) => c === '1').length);
      [...x.executed].forEach((c: string, g: number) => (perGate[g] += c === '1' ? 1 : 0));
    }
    perGate.forEach((c, g) => expect(c / 96).toBeCloseTo(ev.gateExecRates[g], 12));
    expect((100 * routing.filter((x) => x.correct).length) / 96).toBeCloseTo(ev.top1, 10);
    expect(routing.reduce((a, x) => a + x.macs, 0) / 96).toBeCloseTo(ev.macsPerImage.mean, 3);
    expect(ev.blocksHistogram.reduce((a: number, b: number) => a + b, 0)).toBe(96);
    expect(ev.perClass.reduce((a: number, c: { n: number }) => a + c.n, 0)).toBe(96);
    expect(readFileSync(join(out, 'per-class.csv'), 'utf8').trim().split('\n')).toHaveLength(5);

    // The sweep's point at the run's own threshold is the plain evaluation again.
    const sweep = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8'));
    expect(sweep.points.map((p: { threshold: number }) => p.threshold)).toEqual([0.3, 0.5, 0.8]);
    const at05 = sweep.points[1];
    expect(at05.top1).toBe(base.top1);
    expect(at05.cp).toBeCloseTo(base.cp, 10);
    // The first gate sees the same features and state at every threshold, so a higher
    // threshold can only lower its execution rate (later gates see changed features).
    expect(sweep.points[2].gateExecRates[0]).toBeLessThanOrEqual(sweep.points[0].gateExecRates[0]);
    expect(at05.gateExecRates).toEqual(ev.gateExecRates);
    expect(readFileSync(join(out, 'sweep.csv'), 'utf8').trim().split('\n')).toHaveLength(4);
  }, 120_000);

  it('rejects a bad --sweep list with a clear error', async () => {
    const r = await cli('eval', run, '--sweep', '0.2,1.5');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--sweep expects a number in \[0, 1\], got '1.5'/);
  });
});
