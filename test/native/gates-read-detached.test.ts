// Option gatesReadDetached: the gates read the block outputs through a detach, so their own
// training signal (SP's straight-through gradient, HRL's policy-gradient term) trains the gates
// alone and never reaches the backbone below them.
import { afterAll, describe, expect, it } from 'vitest';
import type { HrlArgs } from '../../lib/binding-types.js';
import { RunConfigSchema } from '../../lib/config.js';
import { batch, disposeModels, editWeights, FF14_GATES, ff14WithGates, get, savedWeights, type WeightMap } from './helpers.js';

afterAll(disposeModels);

const sgd = { lr: 0.05, momentum: 0, weightDecay: 0, nesterov: false };

// Gives every gate's last layer weights of its own (seeded), so that the gate's gradient reaches
// the features it reads, while the bias keeps p far above 0.5: every block still executes.
async function gatesThatRead(seed: number) {
  const m = await ff14WithGates(0.95, 3);
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.02;
  await editWeights(m, (w) => {
    for (let g = 0; g < FF14_GATES; g++) {
      const weight = get(w, `gates.${g}.linear.weight`);
      for (let i = 0; i < weight.length; i++) weight[i] = next();
    }
  });
  return m;
}

// Largest change of one tensor between two weight maps.
function largestChange(a: WeightMap, b: WeightMap, name: string): number {
  const [x, y] = [get(a, name), get(b, name)];
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

// Largest change between two weight maps over the backbone (everything but the gates).
function backboneDifference(a: WeightMap, b: WeightMap): number {
  let worst = 0;
  for (const [name] of a) if (!name.startsWith('gates.')) worst = Math.max(worst, largestChange(a, b, name));
  return worst;
}

// Trains one SP step on the same batch from gates that read nothing (zero weights) and from
// gates that read the features, and returns how far apart the two backbones end up.
async function backboneSpread(detached: boolean): Promise<number> {
  const x = batch(11, 12);
  const blind = await ff14WithGates(0.95, 3);
  const reading = await gatesThatRead(7);
  const a = await blind.trainStep(x, { ...sgd, gatesReadDetached: detached });
  const b = await reading.trainStep(x, { ...sgd, gatesReadDetached: detached });
  // Same decisions (every block runs), so the classification path is the same function.
  expect(a.gateExec).toEqual(b.gateExec);
  expect(a.gateExec!.every((v) => v === 12)).toBe(true);
  expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-12);
  return backboneDifference(await savedWeights(blind), await savedWeights(reading));
}

describe('SP with gates that read detached features', () => {
  it('keeps the gates gradient out of the backbone: its update no longer depends on what the gates compute', async () => {
    expect(await backboneSpread(true)).toBeLessThan(1e-12);
    // Without the detach (the reference) the gates' straight-through gradient moves the backbone.
    expect(await backboneSpread(false)).toBeGreaterThan(1e-7);
  });

  it('still trains the gates', async () => {
    const m = await gatesThatRead(7);
    const before = await savedWeights(m);
    await m.trainStep(batch(11, 12), { ...sgd, gatesReadDetached: true });
    const after = await savedWeights(m);
    for (let g = 0; g < FF14_GATES - 1; g++) {
      const name = `gates.${g}.linear.weight`;
      expect(largestChange(after, before, name)).toBeGreaterThan(1e-9);
    }
  });

  it('is refused for a model without gates, accepted for gated SP and HRL', () => {
    const base = { data: { source: { kind: 'synthetic' } } };
    const r = RunConfigSchema.safeParse({ ...base, gatesReadDetached: true, model: { gate: 'none' } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/detached gate inputs need a gated model/);
    expect(RunConfigSchema.safeParse({ ...base, gatesReadDetached: true, model: { gate: 'rnn' } }).success).toBe(true);
    expect(RunConfigSchema.safeParse({ ...base, gatesReadDetached: true, stage: 'hrl', model: { gate: 'rnn' } }).success).toBe(true);
  });
});

// One HRL step, on the same batch with the same sampled actions, from two copies of one model:
// one copy with the policy-gradient term off (rlWeight 0), the other with a large one. Returns
// how far apart the two backbones and the two sets of gate weights end up.
async function hrlSpread(detached: boolean): Promise<{ backbone: number; gates: number }> {
  const x = batch(11, 12);
  const [quiet, loud] = [await gatesThatRead(7), await gatesThatRead(7)];
  const hrl: HrlArgs = { alpha: 0.5, beta: 1, gamma: 1, rlWeight: 0, reduction: 'sum', baseline: 'none', sampleSeed: 5 };
  const a = await quiet.hrlStep(x, sgd, { ...hrl, gatesReadDetached: detached });
  const b = await loud.hrlStep(x, sgd, { ...hrl, rlWeight: 5, gatesReadDetached: detached });
  // Same model, same generator seed: the same actions, so the classification path is the same.
  expect(a.gateExec).toEqual(b.gateExec);
  expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-12);
  const [wa, wb] = [await savedWeights(quiet), await savedWeights(loud)];
  let gates = 0;
  for (let g = 0; g < FF14_GATES; g++) gates = Math.max(gates, largestChange(wa, wb, `gates.${g}.linear.weight`));
  return { backbone: backboneDifference(wa, wb), gates };
}

describe('HRL with gates that read detached features', () => {
  it('keeps the policy-gradient term out of the backbone while it still trains the gates', async () => {
    const detached = await hrlSpread(true);
    expect(detached.backbone).toBeLessThan(1e-12);
    expect(detached.gates).toBeGreaterThan(1e-9);
    // Without the detach (the reference) the policy gradient also moves the backbone.
    expect((await hrlSpread(false)).backbone).toBeGreaterThan(1e-7);
  });
});
