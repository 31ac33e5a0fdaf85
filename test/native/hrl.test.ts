// Hybrid reinforcement learning (spec section 4): the returns, the policy-gradient term's
// gradient against the analytic REINFORCE gradient, and that a large alpha buys skipping.
import { afterAll, describe, expect, it } from 'vitest';
import type { HrlArgs } from '../../lib/binding-types.js';
import { loadNative } from '../../lib/native.js';
import { batch, disposeModels, f64, tensorsOf, trackedModel } from './helpers.js';

afterAll(disposeModels);

const base: HrlArgs = { alpha: 0.1, beta: 1, gamma: 1, rlWeight: 0.01, reduction: 'sum', baseline: 'none', sampleSeed: 1 };

describe('returns', () => {
  // Three gates (M = 3), two samples. Sample 0 skips gates 0 and 2; sample 1 runs all.
  const actions = Float64Array.from([0, 1, /* gate 0 */ 1, 1, /* gate 1 */ 0, 1 /* gate 2 */]);
  const ce = Float64Array.from([2.0, 0.5]);
  const returns = (args: Partial<HrlArgs>) => Array.from(loadNative().hrlReturns(actions, ce, 3, 2, { ...base, ...args }));

  it('gamma = 1: G_i = (alpha/M) * (skips at gates >= i) - beta * CE', () => {
    const a = 0.3, per = a / 3;
    const g = returns({ alpha: a });
    const expected = [2 * per - 2.0, -0.5, per - 2.0, -0.5, per - 2.0, -0.5];
    g.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
  });

  it('beta = alpha/M (ImageNet) and a discount gamma', () => {
    const a = 0.3, per = a / 3, beta = a / 3, gm = 0.9;
    const g = returns({ alpha: a, beta, gamma: gm });
    // Backwards from T = -beta * CE: G_2 = r_2 + gm T, G_1 = r_1 + gm G_2, G_0 = r_0 + gm G_1.
    const t0 = -beta * 2.0, t1 = -beta * 0.5;
    const g2 = [per + gm * t0, gm * t1];
    const g1 = [0 + gm * g2[0]!, gm * g2[1]!];
    const g0 = [per + gm * g1[0]!, gm * g1[1]!];
    [...g0, ...g1, ...g2].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 12));
  });
});

describe('policy gradient', () => {
  const n = 6;
  const m = 2; // ResNet-8: three blocks, two gated decisions
  const actions = Float64Array.from([1, 0, 1, 0, 0, 1, /* gate 0 */ 0, 0, 1, 1, 0, 1 /* gate 1 */]);

  async function inspect(args: Partial<HrlArgs>) {
    const model = trackedModel({ depth: 8, gate: 'rnn', dtype: 'float64', seed: 4 });
    const out = tensorsOf(await model.inspectHrl(batch(8, n), { ...base, ...args }, actions));
    const get = (k: string) => f64(out.get(k)!);
    return { get };
  }

  it.each([
    ['sum', 'none'],
    ['mean', 'none'],
    ['sum', 'moving-average'],
  ] as const)('reduction %s, baseline %s: d/d(proj bias) = -w * sum (G - b)(a - p)', async (reduction, baseline) => {
    const w = 0.5;
    const { get } = await inspect({ alpha: 2, rlWeight: w, reduction, baseline });
    expect(Array.from(get('actions'))).toEqual(Array.from(actions));
    const p = get('probs'), g = get('returns');
    // The first step's moving average is the mean return of each gate.
    const b = [0, 1].map((i) => (baseline === 'none' ? 0 : g.slice(i * n, i * n + n).reduce((x, y) => x + y, 0) / n));
    let expected = 0;
    for (let i = 0; i < m; i++) for (let s = 0; s < n; s++) expected += (g[i * n + s]! - b[i]!) * (actions[i * n + s]! - p[i * n + s]!);
    expected *= -w / (reduction === 'mean' ? n : 1);
    expect(get('grad.gate.proj.bias')[0]).toBeCloseTo(expected, 10);
  });

  it('the gates learn from the policy gradient only (cross-entropy does not reach them)', async () => {
    const { get } = await inspect({ rlWeight: 0 });
    for (const k of ['grad.gate.proj.bias', 'grad.gate.proj.weight', 'grad.gate.lstm.weight_ih_l0', 'grad.gate.embed.0.weight']) {
      expect(Array.from(get(k)).every((v) => v === 0)).toBe(true);
    }
    expect(Array.from(get('grad.fc.weight')).some((v) => v !== 0)).toBe(true);
  });
});

describe('HRL training', () => {
  it('with a large alpha, skips more than the SP model it starts from and than alpha = 0', async () => {
    // Two identical models (same seed, same SP steps), then HRL with alpha 20 and with alpha 0.
    const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: false };
    const data = Array.from({ length: 4 }, (_, i) => batch(50 + i, 32));
    const [hot, control] = [trackedModel({ depth: 14, gate: 'rnn', seed: 2 }), trackedModel({ depth: 14, gate: 'rnn', seed: 2 })];
    for (let s = 0; s < 30; s++) {
      await hot.trainStep(data[s % 4]!, sgd); // a short SP stage
      await control.trainStep(data[s % 4]!, sgd);
    }
    const executed = async (m: typeof hot) => {
      let e = 0;
      for (const b of data) e += (await m.evalStep(b, 0.5)).gateExec.reduce((x, y) => x + y, 0);
      return e;
    };
    const before = await executed(hot);
    expect(await executed(control)).toBe(before);
    for (let s = 0; s < 40; s++) {
      await hot.hrlStep(data[s % 4]!, { ...sgd, lr: 0.01 }, { ...base, alpha: 20, sampleSeed: s });
      await control.hrlStep(data[s % 4]!, { ...sgd, lr: 0.01 }, { ...base, alpha: 0, sampleSeed: s });
    }
    const [hotAfter, controlAfter] = [await executed(hot), await executed(control)];
    expect(hotAfter).toBeLessThan(before);
    expect(hotAfter).toBeLessThan(controlAfter);
  });

  it('rejects a model without gates', async () => {
    const plain = trackedModel({ depth: 8, gate: 'none' });
    await expect(plain.hrlStep(batch(1, 4), { lr: 0.1, momentum: 0.9, weightDecay: 0, nesterov: false }, base)).rejects.toMatchObject({
      code: 'ERR_BAD_ARG',
    });
  });
});
