// sharpenGate(factor, biasShift): the gate's projection to a logit is scaled by factor, then
// its bias moves by biasShift, so with the hidden states held fixed (forced actions) every
// logit becomes factor * logit + biasShift. HRL uses it to start from SP weights.
import { afterAll, describe, expect, it } from 'vitest';
import type { HrlArgs } from '../../lib/binding-types.js';
import { batch, disposeModels, f64, tensorsOf, trackedModel } from './helpers.js';

afterAll(disposeModels);

const args: HrlArgs = { alpha: 1, beta: 1, gamma: 1, rlWeight: 0.01, reduction: 'sum', baseline: 'none', sampleSeed: 1 };
const logit = (p: number) => Math.log(p / (1 - p));

describe('sharpenGate', () => {
  const n = 5;
  const m = 5; // ResNet-14: six blocks, five gated decisions
  const x = batch(21, n);
  const allRun = new Float64Array(m * n).fill(1);
  // The gate probabilities with every block run, so the LSTM's inputs do not depend on the gate.
  const probsOf = async (model: ReturnType<typeof trackedModel>) =>
    f64(tensorsOf(await model.inspectHrl(x, args, allRun)).get('probs')!);

  it.each([
    ['scales the logits', 0.5, 0],
    ['scales the logits and shifts them by biasShift', 0.01, Math.log(9)],
    ['shifts them down without scaling', 1, -3],
  ])('%s (factor %f, shift %f)', async (_, factor, shift) => {
    const model = trackedModel({ depth: 14, gate: 'rnn', dtype: 'float64', seed: 11 });
    const before = await probsOf(model);
    await model.sharpenGate(factor, shift);
    const after = await probsOf(model);
    expect(after).toHaveLength(m * n);
    for (let i = 0; i < m * n; i++) expect(logit(after[i]!)).toBeCloseTo(factor * logit(before[i]!) + shift, 9);
    // The case HRL uses: a tiny factor and shift log(9) put every gate near p = 0.9.
    if (factor === 0.01) for (const p of after) expect(Math.abs(p - 0.9)).toBeLessThan(0.02);
  });

  it('rejects a shift outside [-50, 50] with a named error, leaving the weights as they were', async () => {
    const model = trackedModel({ depth: 14, gate: 'rnn', dtype: 'float64', seed: 11 });
    const before = await probsOf(model);
    await expect(model.sharpenGate(1, 80)).rejects.toThrow(/biasShift/);
    const after = await probsOf(model);
    expect([...after]).toEqual([...before]);
  });
});
