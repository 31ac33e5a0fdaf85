// The blend rule, gate indexing and MAC accounting, checked on hand-set weights:
// skipping block j must equal executing it with a zeroed residual branch (F = 0), whose
// output is then exactly its shortcut S(x); any off-by-one in which gate decides which
// block, or a skipped strided block that forgets its projection, breaks the equality.
import { afterAll, describe, expect, it } from 'vitest';
import { batch, editWeights, get, logitFor, setGateProbability, spec, disposeModels, trackedModel } from './helpers.js';

// ResNet-20 on 32x32: blocks 0-2 (16 ch, 32x32), 3-5 (32 ch, 16x16; block 3 strided with
// a projection), 6-8 (64 ch, 8x8; block 6 strided). Hand-computed conv MACs:
const STEM = 3 * 16 * 9 * 32 * 32; // 442,368
const NORMAL = 2 * 9 * 16 * 16 * 32 * 32; // 4,718,592 (same at every stage)
const PROJ = 16 * 32 * 16 * 16; // 131,072 (= 32*64*8*8)
const STRIDED = 9 * 16 * 32 * 16 * 16 + 9 * 32 * 32 * 16 * 16 + PROJ; // 3,670,016
const FULL = STEM + 7 * NORMAL + 2 * STRIDED; // 40,812,544
// FFGate-II: 3x3 stride-2 conv C->C on the block output, then a 1x1 conv C->2.
const FF2 = [16, 16, 16, 32, 32, 32, 64, 64].map((c, k) => {
  const h = k < 3 ? 16 : k < 6 ? 8 : 4;
  return 9 * c * c * h * h + 2 * c;
});
// Recurrent gate: 1x1 embedding C->10, one LSTM(10,10) step, projection 10->1.
const RNN = [16, 16, 16, 32, 32, 32, 64, 64].map((c) => c * 10 + 8 * 10 * 10 + 10);

afterAll(disposeModels);
const model = trackedModel;

// Projection outputs made positive (non-negative inputs, non-negative 1x1 weights, BN
// beta 1), so relu(P(x)) = P(x) and a zero residual branch equals a skip exactly.
function positiveProjections(w: Parameters<Parameters<typeof editWeights>[1]>[0]): void {
  for (const j of [3, 6]) {
    const conv = get(w, `blocks.${j}.downsample.0.weight`);
    for (let i = 0; i < conv.length; i++) conv[i] = Math.abs(conv[i]);
    get(w, `blocks.${j}.downsample.1.bias`).fill(1);
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('MAC accounting', () => {
  it('matches hand computation for ResNet-20 and the spec table for ResNet-38', () => {
    const info = model({ gate: 'ffgate2' }).info();
    expect(info.stemMacs).toBe(STEM);
    expect(info.blockMacs).toEqual([NORMAL, NORMAL, NORMAL, STRIDED, NORMAL, NORMAL, STRIDED, NORMAL, NORMAL]);
    expect(info.skipMacs).toEqual([0, 0, 0, PROJ, 0, 0, PROJ, 0, 0]);
    expect(info.gateMacs.slice(0, 8)).toEqual(FF2);
    expect(info.fullMacs).toBe(FULL);
    const r38 = model({ depth: 38, gate: 'rnn' }).info();
    expect(r38.fullMacs).toBe(83_279_872); // spec 1.1: 83.3M
    expect(r38.parameters - r38.gateParameters).toBe(564_122); // spec 1.1: base params (C10)
    expect(r38.gateParameters).toBe(7_791);
    expect(model({ depth: 38, gate: 'ffgate1' }).info().gateParameters).toBe(584_676);
    expect(model({ depth: 38, gate: 'ffgate2' }).info().gateParameters).toBe(293_028);
    const r101 = model({ arch: 'imagenet', depth: 101, gate: 'rnn', numClasses: 1000 }).info();
    expect(r101.parameters - r101.gateParameters).toBe(44_549_160);
    expect(r101.gateParameters).toBe(326_341);
    expect(r101.fullMacs).toBe(7_799_357_440);
  });
});

describe.each([3, 0, 5, 7])('feed-forward gate %i decides block %i + 1', (k) => {
  it('skipping equals a zero residual branch, with the right executed record and MACs', async () => {
    const skip = model({ gate: 'ffgate2' });
    const zeroed = model({ gate: 'ffgate2' }); // same seed: same initial weights
    const full = model({ gate: 'ffgate2' });
    const setUp = (ws: Parameters<Parameters<typeof editWeights>[1]>[0], skipGate: number) => {
      for (let g = 0; g < 9; g++) setGateProbability(ws, g, logitFor(g === skipGate ? 0.1 : 0.9));
      positiveProjections(ws);
    };
    await editWeights(skip, (w) => setUp(w, k));
    await editWeights(zeroed, (w) => {
      setUp(w, -1);
      get(w, `blocks.${k + 1}.bn2.weight`).fill(0);
      get(w, `blocks.${k + 1}.bn2.bias`).fill(0);
    });
    await editWeights(full, (w) => setUp(w, -1));
    const b = batch(11, 6);
    const [a, z, f] = await Promise.all([skip.evalStep(b, 0.5), zeroed.evalStep(b, 0.5), full.evalStep(b, 0.5)]);
    expect(maxAbsDiff(a.logits, z.logits)).toBeLessThan(1e-4);
    expect(maxAbsDiff(a.logits, f.logits)).toBeGreaterThan(1e-3); // the skip really changed something
    const m = 8;
    for (let s = 0; s < b.n; s++) {
      expect(Array.from(a.executed.subarray(s * m, s * m + m))).toEqual(Array.from({ length: m }, (_, g) => (g === k ? 0 : 1)));
    }
    expect(Array.from(a.gateExec)).toEqual(Array.from({ length: m }, (_, g) => (g === k ? 0 : b.n)));
    const blockMacs = [NORMAL, NORMAL, NORMAL, STRIDED, NORMAL, NORMAL, STRIDED, NORMAL, NORMAL];
    const skipMacs = [0, 0, 0, PROJ, 0, 0, PROJ, 0, 0];
    const expected = FULL - blockMacs[k + 1] + skipMacs[k + 1] + FF2.reduce((x, y) => x + y, 0);
    expect(Array.from(a.macs)).toEqual(new Array(b.n).fill(expected));
  });
});

describe('recurrent gate', () => {
  it('skipping every gated block leaves stem, block 0 and the projections', async () => {
    const skipAll = model({ gate: 'rnn' });
    const zeroed = model({ gate: 'rnn' });
    await editWeights(skipAll, (w) => {
      get(w, 'gate.proj.weight').fill(0);
      get(w, 'gate.proj.bias').fill(logitFor(0.2));
      positiveProjections(w);
    });
    await editWeights(zeroed, (w) => {
      get(w, 'gate.proj.weight').fill(0);
      get(w, 'gate.proj.bias').fill(logitFor(0.8));
      positiveProjections(w);
      for (let j = 1; j < 9; j++) {
        get(w, `blocks.${j}.bn2.weight`).fill(0);
        get(w, `blocks.${j}.bn2.bias`).fill(0);
      }
    });
    const b = batch(5, 4);
    const [a, z] = await Promise.all([skipAll.evalStep(b, 0.5), zeroed.evalStep(b, 0.5)]);
    expect(maxAbsDiff(a.logits, z.logits)).toBeLessThan(1e-4);
    expect(Array.from(a.gateExec)).toEqual(new Array(8).fill(0));
    expect(Array.from(z.gateExec)).toEqual(new Array(8).fill(4));
    const gates = RNN.reduce((x, y) => x + y, 0);
    expect(a.macs[0]).toBe(STEM + NORMAL + 2 * PROJ + gates);
    expect(z.macs[0]).toBe(FULL + gates);
  });

  it('the threshold is strict (p > t) and moves decisions monotonically', async () => {
    const m = model({ gate: 'rnn' });
    await editWeights(m, (w) => {
      get(w, 'gate.proj.weight').fill(0);
      get(w, 'gate.proj.bias').fill(0); // p = sigmoid(0) = 0.5 exactly
    });
    const b = batch(9, 3);
    expect(Array.from((await m.evalStep(b, 0.5)).gateExec)).toEqual(new Array(8).fill(0));
    expect(Array.from((await m.evalStep(b, 0.4999)).gateExec)).toEqual(new Array(8).fill(3));
  });
});
