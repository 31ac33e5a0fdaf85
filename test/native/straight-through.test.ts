// The straight-through estimator: the hard-gated forward uses 1[p > 0.5], the backward
// treats the mask as p. So the gradient it gives for the mask must equal the derivative
// of the loss along a continuous mask m at m = hard value, which we measure by finite
// differences of the soft path (mask = p, gateMode 'soft') around p = 1.
import { afterAll, describe, expect, it } from 'vitest';
import { createModel } from '../../lib/model.js';
import { batch, editWeights, f64, logitFor, setGateProbability, spec, tensorsOf } from './helpers.js';

const models: Array<{ dispose(): void }> = [];
afterAll(() => models.forEach((m) => m.dispose()));

const GATES = 6; // ResNet-14: 6 blocks, gates 0..4 used
const P_HARD = 0.7; // hard mask 1, and dp/dlogit = p (1 - p) = 0.21

async function lossAndGrads(gateMode: 'hard' | 'soft', logits: number[]) {
  // float64, so the finite differences measure the function rather than float32 rounding.
  const m = createModel(spec({ depth: 14, gate: 'ffgate2', gateMode, seed: 3, dtype: 'float64' }));
  models.push(m);
  await editWeights(m, (w) => logits.forEach((l, g) => setGateProbability(w, g, l)));
  const out = tensorsOf(await m.inspectStep(batch(21, 16)));
  return { loss: f64(out.get('loss')!)[0], out };
}

describe('straight-through gradient', () => {
  it('equals finite differences of the soft path at the hard mask, for every gate', async () => {
    const hard = await lossAndGrads('hard', new Array(GATES).fill(logitFor(P_HARD)));
    const saturated = 40; // softmax([0, 40])[1] rounds to exactly 1 in float32
    const soft1 = await lossAndGrads('soft', new Array(GATES).fill(saturated));
    // At p = 1 the soft path computes exactly what the hard path computes.
    expect(Math.abs(soft1.loss - hard.loss)).toBeLessThan(1e-12);
    // Small h: ReLU units that cross zero within [1-2h, 1] bend the loss, so a large h misleads.
    const h = 1e-7;
    let checked = 0;
    for (let g = 0; g < GATES - 1; g++) {
      const at = async (p: number) => {
        const logits = new Array(GATES).fill(saturated);
        logits[g] = logitFor(p);
        return (await lossAndGrads('soft', logits)).loss;
      };
      const [l1, l2] = [await at(1 - h), await at(1 - 2 * h)];
      // Second-order one-sided difference: dL/dm at m = 1.
      const fd = (3 * soft1.loss - 4 * l1 + l2) / (2 * h);
      // STE: dL/dlogit_g = sum over samples of dL/dm * dp/dlogit, with dp/dlogit = p(1-p).
      const ste = f64(hard.out.get(`grad.gates.${g}.linear.bias`)!)[1] / (P_HARD * (1 - P_HARD));
      expect(Math.abs(fd - ste)).toBeLessThanOrEqual(1e-3 * Math.abs(ste) + 1e-7);
      if (Math.abs(ste) > 1e-3) checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3); // the comparison was not between near-zeros
    // The last block's gate decides nothing: it gets no gradient.
    expect(Array.from(f64(hard.out.get(`grad.gates.${GATES - 1}.linear.bias`)!))).toEqual([0, 0]);
  });
});
