// The training math that needs no addon: the learning-rate schedule, and the
// metrics reductions (CP, FLOPs reduction, MACs) checked against hand computation.

import { describe, expect, it } from 'vitest';
import type { EvalStepResult, TrainStepResult } from '../lib/binding-types.js';
import { parseConfig } from '../lib/config.js';
import { SkipNetError } from '../lib/errors.js';
import { getPreset } from '../lib/presets.js';
import { computationPercentage, EvalAccumulator, TrainMeter } from '../lib/train/metrics.js';
import { learningRate } from '../lib/train/schedule.js';

function schedule(s: Record<string, unknown>) {
  return parseConfig({ data: { source: { kind: 'synthetic' } }, schedule: s }).schedule;
}

describe('learningRate', () => {
  it('steps x0.1 at 32k and 48k exactly (the reference switches at _iter >= milestone)', () => {
    const s = parseConfig(getPreset('cifar10-skipnet110-sp').config).schedule;
    const cases: [number, number][] = [
      [0, 0.1],
      [31_999, 0.1],
      [32_000, 0.01],
      [47_999, 0.01],
      [48_000, 0.001],
      [63_999, 0.001],
    ];
    for (const [step, lr] of cases) expect(learningRate(step, s, 0.1), `step ${step}`).toBeCloseTo(lr, 12);
  });

  it('uses gamma and ignores milestones past the end', () => {
    const s = schedule({ kind: 'step', steps: 100, milestones: [10, 500], gamma: 0.5 });
    expect(learningRate(9, s, 0.2)).toBe(0.2);
    expect(learningRate(10, s, 0.2)).toBe(0.1);
    expect(learningRate(99, s, 0.2)).toBe(0.1);
  });

  it('holds a constant warm-up lr, then the schedule (reference --warm-up)', () => {
    const s = schedule({ kind: 'step', warmup: 'constant', warmupSteps: 400 });
    expect(learningRate(0, s, 0.1)).toBe(0.01);
    expect(learningRate(399, s, 0.1)).toBe(0.01);
    expect(learningRate(400, s, 0.1)).toBe(0.1);
  });

  it('ramps linearly so the last warm-up step reaches the base lr', () => {
    const s = schedule({ kind: 'step', warmupSteps: 10 });
    expect(learningRate(0, s, 0.1)).toBeCloseTo(0.01, 12);
    expect(learningRate(4, s, 0.1)).toBeCloseTo(0.05, 12);
    expect(learningRate(9, s, 0.1)).toBeCloseTo(0.1, 12);
    expect(learningRate(10, s, 0.1)).toBe(0.1);

    const from = schedule({ kind: 'step', warmupSteps: 4, warmupLr: 0.02 });
    expect(learningRate(0, from, 0.1)).toBeCloseTo(0.04, 12);
    expect(learningRate(3, from, 0.1)).toBeCloseTo(0.1, 12);
  });

  it('decays cosine from the base lr to 0 over the steps after warm-up', () => {
    const s = schedule({ kind: 'cosine', steps: 100 });
    expect(learningRate(0, s, 0.1)).toBe(0.1);
    expect(learningRate(25, s, 0.1)).toBeCloseTo((0.1 * (1 + Math.SQRT1_2)) / 2, 12);
    expect(learningRate(50, s, 0.1)).toBeCloseTo(0.05, 12);
    expect(learningRate(100, s, 0.1)).toBeCloseTo(0, 12);
    expect(learningRate(150, s, 0.1)).toBeCloseTo(0, 12);

    const w = schedule({ kind: 'cosine', steps: 110, warmupSteps: 10 });
    expect(learningRate(9, w, 0.1)).toBeCloseTo(0.1, 12);
    expect(learningRate(10, w, 0.1)).toBe(0.1);
    expect(learningRate(60, w, 0.1)).toBeCloseTo(0.05, 12);
    expect(learningRate(110, w, 0.1)).toBeCloseTo(0, 12);
  });

  it('is monotone non-increasing after warm-up', () => {
    for (const s of [schedule({ kind: 'cosine', steps: 1000 }), schedule({ kind: 'step', steps: 1000, milestones: [300, 600] })]) {
      let prev = Infinity;
      for (let step = 0; step < 1000; step++) {
        const lr = learningRate(step, s, 0.1);
        expect(lr).toBeLessThanOrEqual(prev);
        prev = lr;
      }
    }
  });

  it('rejects negative or fractional steps', () => {
    const s = schedule({});
    expect(() => learningRate(-1, s, 0.1)).toThrow(RangeError);
    expect(() => learningRate(1.5, s, 0.1)).toThrow(RangeError);
  });
});

function evalResult(r: { loss: number; correct1: number; correct5: number; gateExec: number[]; macs: number[] }): EvalStepResult {
  const n = r.macs.length;
  return {
    loss: r.loss,
    correct1: r.correct1,
    correct5: r.correct5,
    n,
    gateExec: Float64Array.from(r.gateExec),
    macs: Float64Array.from(r.macs),
    executed: new Uint8Array(n * r.gateExec.length),
    predictions: new Int32Array(n),
    logits: new Float32Array(n * 10),
  };
}

describe('computationPercentage', () => {
  it('counts block 0 as always executed and weighs blocks equally', () => {
    expect(computationPercentage([])).toBe(100); // plain ResNet
    expect(computationPercentage([1, 1, 1])).toBe(100);
    expect(computationPercentage([0, 0, 0])).toBe(25); // only block 0 of 4
    expect(computationPercentage([1, 0.8, 0.2])).toBeCloseTo(75, 12);
    // SkipNet-110: 54 blocks, 53 gates; half of the gated blocks skipped -> (1 + 26.5) / 54
    expect(computationPercentage(Array(53).fill(0.5))).toBeCloseTo((100 * 27.5) / 54, 12);
  });
});

describe('EvalAccumulator', () => {
  // 3 gated blocks (N = 4), plain network 1000 MACs.
  const batches = [
    evalResult({ loss: 1.0, correct1: 1, correct5: 2, gateExec: [2, 1, 0], macs: [900, 500] }),
    evalResult({ loss: 2.0, correct1: 3, correct5: 3, gateExec: [3, 3, 1], macs: [1100, 700, 600] }),
  ];

  it('matches a hand computation', () => {
    const acc = new EvalAccumulator({ gatedBlocks: 3, fullMacs: 1000 });
    for (const b of batches) acc.add(b);
    const m = acc.result();
    expect(m.n).toBe(5);
    expect(m.loss).toBeCloseTo(3 / 5, 12); // summed losses / images
    expect(m.top1).toBeCloseTo(80, 12); // 4 / 5
    expect(m.top5).toBeCloseTo(100, 12);
    expect(m.gateExecRates).toEqual([1, 0.8, 0.2]); // [5, 4, 1] / 5, batch-size weighted
    expect(m.cp).toBeCloseTo(75, 12); // 100 * (1 + 2.0) / 4
    expect(m.flopsReduction).toBeCloseTo(25, 12);
    expect(m.macsPerImage).toEqual({ mean: 760, min: 500, p50: 700, max: 1100 });
    expect(m.fullMacs).toBe(1000);
    expect(m.macsPercentOfFull).toBeCloseTo(76, 12);
  });

  it('takes the mean of the two middle values for an even count, across buffer growth', () => {
    const acc = new EvalAccumulator({ gatedBlocks: 0, fullMacs: 10 });
    const macs = Array.from({ length: 3000 }, (_, i) => 3000 - i); // 3000..1, forces the buffer to grow
    acc.add(evalResult({ loss: 0, correct1: 0, correct5: 0, gateExec: [], macs }));
    const m = acc.result();
    expect(m.macsPerImage).toEqual({ mean: 1500.5, min: 1, p50: 1500.5, max: 3000 });
    expect(m.cp).toBe(100); // no gates: a plain ResNet
    expect(m.flopsReduction).toBe(0);
  });

  it('refuses mismatched results and empty evaluations', () => {
    const acc = new EvalAccumulator({ gatedBlocks: 2, fullMacs: 1 });
    expect(() => acc.add(batches[0]!)).toThrow(SkipNetError);
    expect(() => acc.result()).toThrow(/no images/);
  });
});

describe('TrainMeter', () => {
  it('averages loss by images and restarts after take()', () => {
    const step = (loss: number, correct: number, n: number, gateExec: number[]): TrainStepResult => ({
      loss,
      correct,
      n,
      gateExec: Float64Array.from(gateExec),
    });
    const meter = new TrainMeter();
    meter.add(step(2.0, 10, 100, [100, 50]));
    meter.add(step(1.0, 30, 50, [50, 0]));
    const w = meter.take();
    expect(w).toEqual({ steps: 2, images: 150, loss: (200 + 50) / 150, acc: (100 * 40) / 150, gateExecRates: [1, 50 / 150] });
    meter.add(step(0.5, 1, 2, [2, 2]));
    expect(meter.take()).toMatchObject({ steps: 1, images: 2, loss: 0.5, gateExecRates: [1, 1] });
  });
});
