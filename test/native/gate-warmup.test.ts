// SP gate warm-up (config gateWarmupSteps, trainStep's gatesOpen): while it lasts the forward
// pass executes every block whatever the gates say, and the straight-through gradient still
// trains the gates.
import { afterAll, describe, expect, it } from 'vitest';
import { RunConfigSchema } from '../../lib/config.js';
import { batch, disposeModels, FF14_GATES, ff14WithGates, get, savedWeights } from './helpers.js';

afterAll(disposeModels);

const GATES = FF14_GATES;
const sgd = { lr: 0.05, momentum: 0, weightDecay: 0, nesterov: false };

describe('SP gate warm-up', () => {
  it('runs every block in the forward pass: closed gates held open give the loss of open gates', async () => {
    const x = batch(5, 16);
    const open = await (await ff14WithGates(0.7, 3)).trainStep(x, sgd);
    const heldOpen = await (await ff14WithGates(0.3, 3)).trainStep(x, { ...sgd, gatesOpen: true });
    const closed = await (await ff14WithGates(0.3, 3)).trainStep(x, sgd);
    expect(Math.abs(heldOpen.loss - open.loss)).toBeLessThan(1e-12);
    expect(Math.abs(closed.loss - open.loss)).toBeGreaterThan(1e-3); // the gates do matter here
    // The reported execution rates are what the gates would decide, not what was forced.
    expect(heldOpen.gateExec!.every((v) => v === 0)).toBe(true);
  });

  it('still trains the gates through the straight-through gradient', async () => {
    const m = await ff14WithGates(0.3, 3);
    const before = await savedWeights(m);
    await m.trainStep(batch(6, 16), { ...sgd, gatesOpen: true });
    const after = await savedWeights(m);
    let moved = 0;
    for (let g = 0; g < GATES - 1; g++) {
      const name = `gates.${g}.linear.bias`;
      const d = Math.abs(get(after, name)[1] - get(before, name)[1]);
      if (d > 1e-9) moved++;
    }
    expect(moved).toBe(GATES - 1); // every gate that decides a block (not the last one)
  });

  it('is refused where it has no meaning', () => {
    const base = { data: { source: { kind: 'synthetic' } } };
    const bad = [
      { ...base, gateWarmupSteps: 10, stage: 'hrl', model: { gate: 'rnn' } },
      { ...base, gateWarmupSteps: 10, model: { gate: 'none' } },
      { ...base, gateWarmupSteps: 10, model: { gate: 'rnn', gateMode: 'soft' } },
    ];
    for (const c of bad) {
      const r = RunConfigSchema.safeParse(c);
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toMatch(/gate warm-up holds hard SP gates open/);
    }
    expect(RunConfigSchema.safeParse({ ...base, gateWarmupSteps: 10, model: { gate: 'rnn' } }).success).toBe(true);
  });
});
