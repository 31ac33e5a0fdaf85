// SP option gatesReadDetached: the gates read the block outputs through a detach, so their
// straight-through gradient trains the gates alone and never reaches the backbone below them.
import { afterAll, describe, expect, it } from 'vitest';
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

// Largest change between two weight maps over the backbone (everything but the gates).
function backboneDifference(a: WeightMap, b: WeightMap): number {
  let worst = 0;
  for (const [name] of a) {
    if (name.startsWith('gates.')) continue;
    const x = get(a, name);
    const y = get(b, name);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
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
      const moved = Math.max(...Array.from(get(after, name), (v, i) => Math.abs(v - get(before, name)[i])));
      expect(moved).toBeGreaterThan(1e-9);
    }
  });

  it('is refused outside gated SP', () => {
    const base = { data: { source: { kind: 'synthetic' } } };
    for (const c of [
      { ...base, gatesReadDetached: true, stage: 'hrl', model: { gate: 'rnn' } },
      { ...base, gatesReadDetached: true, model: { gate: 'none' } },
    ]) {
      const r = RunConfigSchema.safeParse(c);
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toMatch(/detached gate inputs are an SP option for gated models/);
    }
    expect(RunConfigSchema.safeParse({ ...base, gatesReadDetached: true, model: { gate: 'rnn' } }).success).toBe(true);
  });
});
