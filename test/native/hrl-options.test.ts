// The HRL options beyond the reference: the self-critical baseline (advantage = sampled
// returns - greedy returns on the same batch), execution 'skip' (each gated block runs
// only on the samples whose action executes it), exploration, and the bound on the gate logits.
import { afterAll, describe, expect, it } from 'vitest';
import type { HrlArgs } from '../../lib/binding-types.js';
import { batch, disposeModels, editWeights, f64, ff14WithGates, FF14_GATES, get, tensorsOf, trackedModel } from './helpers.js';

afterAll(disposeModels);

const base: HrlArgs = { alpha: 2, beta: 1, gamma: 1, rlWeight: 0.5, reduction: 'sum', baseline: 'none', sampleSeed: 1 };
const n = 6;

describe('self-critical baseline', () => {
  it('d/d(proj bias) = -w * sum (G - G_greedy)(a - p), with G_greedy the returns of the greedy path', async () => {
    const model = trackedModel({ depth: 8, gate: 'rnn', dtype: 'float64', seed: 4 });
    const x = batch(8, n);
    const m = 2;
    const inspect = async (args: Partial<HrlArgs>, actions: Float64Array) => {
      const out = tensorsOf(await model.inspectHrl(x, { ...base, ...args }, actions));
      return (k: string) => f64(out.get(k)!);
    };
    // The greedy path: gate i's decision depends only on decisions before it, so
    // thresholding the probabilities of the previous guess M + 1 times reaches it.
    let greedy = new Float64Array(m * n).fill(1);
    for (let it = 0; it <= m; it++) greedy = Float64Array.from((await inspect({}, greedy))('probs'), (p) => (p > 0.5 ? 1 : 0));
    const greedyReturns = (await inspect({}, greedy))('returns');

    const actions = Float64Array.from([1, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1]);
    const got = await inspect({ baseline: 'self-critical' }, actions);
    const p = got('probs'), g = got('returns');
    let expected = 0;
    for (let i = 0; i < m * n; i++) expected += (g[i]! - greedyReturns[i]!) * (actions[i]! - p[i]!);
    expected *= -base.rlWeight;
    expect(Math.abs(expected)).toBeGreaterThan(1e-4); // the baseline changes something measurable
    expect(got('grad.gate.proj.bias')[0]).toBeCloseTo(expected, 10);
    // Without the baseline the gradient is a different number.
    const plain = await inspect({}, actions);
    expect(Math.abs(plain('grad.gate.proj.bias')[0]! - expected)).toBeGreaterThan(1e-6);
  });
});

describe("execution 'skip'", () => {
  const x = batch(9, n);
  async function inspect(
    execution: 'mask' | 'skip',
    actions: Float64Array,
    edit?: (w: Map<string, { dtype: string; data: Uint8Array }>) => void,
    args: Partial<HrlArgs> = {},
  ) {
    const model = trackedModel({ depth: 14, gate: 'rnn', dtype: 'float64', seed: 6 });
    if (edit) await editWeights(model, edit as never);
    const out = tensorsOf(await model.inspectHrl(x, { ...base, ...args, execution }, actions));
    return (k: string) => f64(out.get(k)!);
  }
  const m = 5; // ResNet-14: six blocks, five gated decisions

  it.each([
    ['every sample runs every block', 1],
    ['every sample skips every block', 0],
  ])('equals the masked computation bit for bit when %s', async (_, a) => {
    const actions = new Float64Array(m * n).fill(a);
    const [mask, skip] = [await inspect('mask', actions), await inspect('skip', actions)];
    for (const k of ['logits', 'ce', 'returns', 'grad.blocks.2.conv1.weight', 'grad.gate.proj.weight', 'grad.fc.weight']) {
      expect(Array.from(skip(k)), k).toEqual(Array.from(mask(k)));
    }
  });

  it('with mixed actions, its cross-entropy gradient equals finite differences of its loss', async () => {
    // rlWeight 0: the REINFORCE surrogate holds the returns constant, which finite
    // differences of the loss cannot; the gather/scatter path is what is checked here.
    const ceOnly = { rlWeight: 0 };
    // Block 2 (gate index 1) runs on samples 0, 2, 5 only.
    const actions = new Float64Array(m * n).fill(1);
    [1, 3, 4].forEach((s) => (actions[1 * n + s] = 0));
    [0, 5].forEach((s) => (actions[3 * n + s] = 0));
    const loss = (out: (k: string) => Float64Array) => {
      const ce = out('ce');
      return ce.reduce((a, b) => a + b, 0) / ce.length + out('rl')[0]!;
    };
    const at = await inspect('skip', actions, undefined, ceOnly);
    const masked = await inspect('mask', actions, undefined, ceOnly);
    // Batch norm over the executing samples only: not the masked computation's numbers.
    expect(Math.abs(loss(at) - loss(masked))).toBeGreaterThan(1e-9);
    const name = 'blocks.2.conv1.weight';
    const h = 1e-6;
    let checked = 0;
    for (const j of [0, 7, 40, 101]) {
      const shifted = async (d: number) => loss(await inspect('skip', actions, (w) => (get(w as never, name)[j]! += d), ceOnly));
      const fd = ((await shifted(h)) - (await shifted(-h))) / (2 * h);
      const analytic = at(`grad.${name}`)[j]!;
      expect(Math.abs(fd - analytic)).toBeLessThanOrEqual(1e-5 * Math.abs(analytic) + 1e-8);
      if (Math.abs(analytic) > 1e-4) checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });
});

describe('exploration', () => {
  it('d/d(proj bias) = -w * sum G (1 - e) p (1 - p) (a - q) / (q (1 - q)), q = (1 - e) p + e / 2', async () => {
    const model = trackedModel({ depth: 8, gate: 'rnn', dtype: 'float64', seed: 4 });
    const x = batch(8, n);
    const actions = Float64Array.from([1, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1]);
    const inspect = async (explore: number) => {
      const out = tensorsOf(await model.inspectHrl(x, { ...base, explore }, actions));
      return (k: string) => f64(out.get(k)!);
    };
    const e = 0.3;
    const got = await inspect(e);
    const p = got('probs'), g = got('returns');
    let expected = 0;
    for (let i = 0; i < actions.length; i++) {
      const q = (1 - e) * p[i]! + e / 2;
      expected += g[i]! * (1 - e) * p[i]! * (1 - p[i]!) * (actions[i]! - q) / (q * (1 - q));
    }
    expected *= -base.rlWeight;
    expect(got('grad.gate.proj.bias')[0]).toBeCloseTo(expected, 10);
    // explore 0 is the reference's gradient, a different number here.
    const plain = (await inspect(0))('grad.gate.proj.bias')[0]!;
    expect(Math.abs(plain - expected)).toBeGreaterThan(1e-4);
  });

  it.each([
    ['shut', 0, 0.25, -30],
    ['open', 1, 0.75, 30],
  ])('a %s gate acts as Bernoulli(q): without exploration always %i, with explore 0.5 it runs about %f of the time', async (_, never, rate, bias) => {
    const model = trackedModel({ depth: 8, gate: 'rnn', dtype: 'float64', seed: 4 });
    await editWeights(model, (w) => {
      get(w, 'gate.proj.weight').fill(0);
      get(w, 'gate.proj.bias').fill(bias);
    });
    const x = batch(3, 500, 8, 8);
    const executed = async (explore: number) => {
      const out = tensorsOf(await model.inspectHrl(x, { ...base, explore, sampleSeed: 7 }));
      const a = f64(out.get('actions')!);
      return a.reduce((s, v) => s + v, 0) / a.length;
    };
    expect(await executed(0)).toBe(never);
    // 1000 actions: the binomial's standard deviation is 0.014, the tolerance 4 of them.
    expect(Math.abs((await executed(0.5)) - rate)).toBeLessThan(0.055);
  });
});

describe('logit bound', () => {
  const actions = Float64Array.from([1, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1]);

  it('the gate logits are those of the probabilities: p = sigmoid(z)', async () => {
    const model = trackedModel({ depth: 8, gate: 'rnn', dtype: 'float64', seed: 4 });
    const out = tensorsOf(await model.inspectHrl(batch(8, n), base, actions));
    const [p, z] = [f64(out.get('probs')!), f64(out.get('gateLogits')!)];
    expect(z.length).toBe(p.length);
    z.forEach((v, i) => expect(1 / (1 + Math.exp(-v))).toBeCloseTo(p[i]!, 12));
  });

  it.each([
    ['sum', 1, false],
    ['mean', 1 / n, false],
    ['sum', 1, true],
    ['mean', 1 / n, true],
  ] as const)(
    "adds w * sum (|z| - L)^2 over the logits beyond L ('%s', upper side only: %s), with gradient 2 w (|z| - L) sign(z) on each",
    async (reduction, scale, upperOnly) => {
      const model = trackedModel({ depth: 8, gate: 'rnn', dtype: 'float64', seed: 4 });
      const x = batch(8, n);
      const inspect = async (args: Partial<HrlArgs>) => {
        const out = tensorsOf(await model.inspectHrl(x, { ...base, reduction, ...args }, actions));
        return (k: string) => f64(out.get(k)!);
      };
      // Centre the logits on 0, so that some lie beyond the limit on each side.
      const z0 = [...(await inspect({}))('gateLogits')].sort((a, b) => a - b);
      const middle = z0[Math.floor(z0.length / 2)]!;
      await editWeights(model, (w) => {
        get(w, 'gate.proj.bias')[0]! -= middle;
      });
      const plain = await inspect({});
      const z = plain('gateLogits');
      // A limit that the largest logit on each side passes and the logit nearest 0 does not.
      const limit = 0.5 * Math.min(Math.max(...z), -Math.min(...z));
      const w = 0.7;
      const bound = await inspect({ logitLimit: limit, logitPenalty: w, logitUpperOnly: upperOnly });
      let value = 0, slope = 0, beyond = 0;
      for (const v of z) {
        // Upper side only: a logit far below -L is left alone.
        const excess = Math.max(0, (upperOnly ? v : Math.abs(v)) - limit);
        value += w * excess * excess;
        slope += 2 * w * excess * (upperOnly ? 1 : Math.sign(v)); // d/d(proj bias): every logit moves with it
        if (excess > 0) beyond++;
      }
      // Logits beyond the limit on both sides, so that the two variants differ.
      expect(z.some((v) => v > limit) && z.some((v) => v < -limit)).toBe(true);
      expect(beyond).toBeGreaterThan(0);
      expect(beyond).toBeLessThan(z.length);
      expect(bound('logitBound')[0]).toBeCloseTo(value * scale, 12);
      expect(plain('logitBound')[0]).toBe(0);
      // The forward pass and the RL term are the same; the gradients differ by the penalty's alone.
      expect(Array.from(bound('rl'))).toEqual(Array.from(plain('rl')));
      expect(Math.abs(slope)).toBeGreaterThan(1e-3);
      expect(bound('grad.gate.proj.bias')[0]! - plain('grad.gate.proj.bias')[0]!).toBeCloseTo(slope * scale, 10);
    },
  );

  it('acts on feed-forward gates through their logit s1 - s0', async () => {
    // Every gate at z = 4 for every image; limit 3: each logit is 1 beyond it.
    const model = await ff14WithGates(1 / (1 + Math.exp(-4)), 5);
    const x = batch(8, n);
    const m = FF14_GATES - 1; // the last block's gate decides nothing and is never computed
    const forced = new Float64Array(m * n).fill(1);
    const inspect = async (args: Partial<HrlArgs>) => {
      const out = tensorsOf(await model.inspectHrl(x, { ...base, ...args }, forced));
      return (k: string) => f64(out.get(k)!);
    };
    const w = 0.25;
    const [plain, bound] = [await inspect({}), await inspect({ logitLimit: 3, logitPenalty: w })];
    bound('gateLogits').forEach((v) => expect(v).toBeCloseTo(4, 12));
    expect(bound('logitBound')[0]).toBeCloseTo(w * m * n, 12);
    for (let k = 0; k < m; k++) {
      const [b, a] = [bound(`grad.gates.${k}.linear.bias`), plain(`grad.gates.${k}.linear.bias`)];
      expect(b[1]! - a[1]!, `gate ${k}`).toBeCloseTo(2 * w * n, 10);
      expect(b[0]! - a[0]!, `gate ${k}`).toBeCloseTo(-2 * w * n, 10);
    }
  });
});
