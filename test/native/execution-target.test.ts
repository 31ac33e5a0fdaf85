// The SP execution target (config executionTarget, trainStep's executionTarget): the loss gains
// weight * (r - rate)^2, r the fraction of (image, gated block) pairs executed, and its gradient
// reaches each gate's probability through the straight-through estimator (d mask / d p = 1).
import { afterAll, describe, expect, it } from 'vitest';
import { RunConfigSchema } from '../../lib/config.js';
import { batch, disposeModels, editWeights, FF14_GATES, ff14WithGates, get, logitFor, savedWeights, setGateProbability } from './helpers.js';

afterAll(disposeModels);

const GATES = FF14_GATES; // M = 5 decisions: the last gate decides nothing
const M = GATES - 1;
const sgd = { lr: 0.05, momentum: 0, weightDecay: 0, nesterov: false };

/** FF SkipNet-14 whose gate g has probability probs[g] for every image. */
async function ff14WithEach(probs: number[]): Promise<Awaited<ReturnType<typeof ff14WithGates>>> {
  const m = await ff14WithGates(0.5, 6);
  await editWeights(m, (w) => probs.forEach((p, g) => setGateProbability(w, g, logitFor(p))));
  return m;
}

describe('SP execution target', () => {
  it('moves every deciding gate by the closed-form gradient of weight * (r - rate)^2', async () => {
    // p = 0.7 everywhere: every gate executes (r = 1), and p does not depend on the image (the
    // gates' weights are zero), so d/d bias_1 of the penalty is 2 w (r - rate) p (1 - p) / M.
    const p = 0.7;
    const target = { rate: 0.4, weight: 3 };
    const x = batch(8, 12);
    const plain = await ff14WithGates(p, 5);
    const targeted = await ff14WithGates(p, 5);
    const a = await plain.trainStep(x, sgd);
    const b = await targeted.trainStep(x, { ...sgd, executionTarget: target });
    expect(b.loss).toBe(a.loss); // the reported loss is the cross-entropy
    const wa = await savedWeights(plain);
    const wb = await savedWeights(targeted);
    const expected = -sgd.lr * 2 * target.weight * (1 - target.rate) * p * (1 - p) / M;
    for (let g = 0; g < M; g++) {
      const da = get(wb, `gates.${g}.linear.bias`)[1] - get(wa, `gates.${g}.linear.bias`)[1];
      expect(da).toBeCloseTo(expected, 12);
      const d0 = get(wb, `gates.${g}.linear.bias`)[0] - get(wa, `gates.${g}.linear.bias`)[0];
      expect(d0).toBeCloseTo(-expected, 12);
    }
    // The unused last gate and the backbone see no penalty gradient.
    expect(get(wb, `gates.${M}.linear.bias`)[1]).toBe(get(wa, `gates.${M}.linear.bias`)[1]);
    const conv = 'conv1.weight';
    expect(Array.from(get(wb, conv))).toEqual(Array.from(get(wa, conv)));
  });

  it('pushes closed gates open when execution is below the rate', async () => {
    const plain = await ff14WithGates(0.3, 5); // every gate skips: r = 0
    const targeted = await ff14WithGates(0.3, 5);
    const x = batch(9, 12);
    await plain.trainStep(x, sgd);
    await targeted.trainStep(x, { ...sgd, executionTarget: { rate: 0.8, weight: 2 } });
    const wa = await savedWeights(plain);
    const wb = await savedWeights(targeted);
    const expected = sgd.lr * 2 * 2 * 0.8 * 0.3 * 0.7 / M;
    for (let g = 0; g < M; g++) {
      expect(get(wb, `gates.${g}.linear.bias`)[1] - get(wa, `gates.${g}.linear.bias`)[1]).toBeCloseTo(expected, 12);
    }
  });

  it('per gate, moves each gate by its own executed fraction (ConvNet-AIG form)', async () => {
    // Gates 0, 2 execute every image (p = 0.7, r_k = 1), gates 1, 3, 4 skip every image
    // (p = 0.2, r_k = 0). Per gate, d/d bias_1 of w * mean_k (r_k - rate)^2 is
    // 2 w (r_k - rate) p_k (1 - p_k) / M; the global form would use r = 2/5 for every gate,
    // which equals the rate here, so it would not move the gates at all.
    const probs = [0.7, 0.2, 0.7, 0.2, 0.2, 0.5];
    const target = { rate: 0.4, weight: 3 };
    const x = batch(11, 12);
    const [plain, perGate, global] = [await ff14WithEach(probs), await ff14WithEach(probs), await ff14WithEach(probs)];
    await plain.trainStep(x, sgd);
    await perGate.trainStep(x, { ...sgd, executionTarget: { ...target, scope: 'gate' } });
    await global.trainStep(x, { ...sgd, executionTarget: target });
    const [wa, wp, wg] = [await savedWeights(plain), await savedWeights(perGate), await savedWeights(global)];
    for (let g = 0; g < M; g++) {
      const p = probs[g];
      const r = p > 0.5 ? 1 : 0;
      const expected = -sgd.lr * 2 * target.weight * (r - target.rate) * p * (1 - p) / M;
      const bias = `gates.${g}.linear.bias`;
      expect(get(wp, bias)[1] - get(wa, bias)[1]).toBeCloseTo(expected, 12);
      expect(Math.abs(expected)).toBeGreaterThan(1e-4);
      expect(get(wg, bias)[1] - get(wa, bias)[1]).toBeCloseTo(0, 14);
    }
  });

  it('per stage, moves each gate by its stage\'s executed fraction', async () => {
    // SkipNet-14: blocks 0-1 | 2-3 | 4-5 (blocks 2 and 4 project), so gate 0 decides stage 0's
    // block 1, gates 1-2 stage 1's blocks and gates 3-4 stage 2's. With p = 0.7 (executes) or
    // 0.2 (skips): r_0 = 1, r_1 = 1/2, r_2 = 0. The derivative of w * mean_s (r_s - rate)^2 by
    // gate k's bias is 2 w (r_s - rate) p_k (1 - p_k) / (S * M_s), M_s the stage's gate count.
    const probs = [0.7, 0.7, 0.2, 0.2, 0.2, 0.5];
    const stageOf = [0, 1, 1, 2, 2];
    const r = [1, 0.5, 0];
    const gatesIn = [1, 2, 2];
    const target = { rate: 0.4, weight: 3 };
    const x = batch(12, 12);
    const [plain, staged] = [await ff14WithEach(probs), await ff14WithEach(probs)];
    await plain.trainStep(x, sgd);
    await staged.trainStep(x, { ...sgd, executionTarget: { ...target, scope: 'stage' } });
    const [wa, ws] = [await savedWeights(plain), await savedWeights(staged)];
    for (let g = 0; g < M; g++) {
      const s = stageOf[g]!;
      const p = probs[g]!;
      const expected = -sgd.lr * 2 * target.weight * (r[s]! - target.rate) * p * (1 - p) / (3 * gatesIn[s]!);
      const bias = `gates.${g}.linear.bias`;
      expect(get(ws, bias)[1] - get(wa, bias)[1]).toBeCloseTo(expected, 12);
    }
  });

  it('is off while the gate warm-up holds the gates open', async () => {
    const plain = await ff14WithGates(0.7, 5);
    const targeted = await ff14WithGates(0.7, 5);
    const x = batch(10, 12);
    await plain.trainStep(x, { ...sgd, gatesOpen: true });
    await targeted.trainStep(x, { ...sgd, gatesOpen: true, executionTarget: { rate: 0.4, weight: 3 } });
    const wa = await savedWeights(plain);
    const wb = await savedWeights(targeted);
    expect(get(wb, 'gates.0.linear.bias')[1]).toBe(get(wa, 'gates.0.linear.bias')[1]);
  });

  it('is refused where it has no meaning, and its rate must lie strictly between 0 and 1', () => {
    const base = { data: { source: { kind: 'synthetic' } } };
    for (const c of [
      { ...base, executionTarget: { rate: 0.7 }, stage: 'hrl', model: { gate: 'rnn' } },
      { ...base, executionTarget: { rate: 0.7 }, model: { gate: 'none' } },
    ]) {
      const r = RunConfigSchema.safeParse(c);
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toMatch(/the execution target trains SP gates/);
    }
    expect(RunConfigSchema.safeParse({ ...base, executionTarget: { rate: 0.7, scope: 'block' }, model: { gate: 'rnn' } }).success).toBe(false);
    for (const rate of [0, 1, 1.5]) {
      expect(RunConfigSchema.safeParse({ ...base, executionTarget: { rate }, model: { gate: 'rnn' } }).success).toBe(false);
    }
    const ok = RunConfigSchema.parse({ ...base, executionTarget: { rate: 0.7 }, model: { gate: 'rnn' } });
    expect(ok.executionTarget).toEqual({ rate: 0.7, weight: 2, scope: 'network' });
  });
});
