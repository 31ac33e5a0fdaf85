// Evaluation that really skips blocks (gather the executing samples, run, scatter back)
// must give what the reference's masked execution gives: eval-mode batch norm treats every
// sample on its own, so only float rounding may differ.
import { afterAll, describe, expect, it } from 'vitest';
import type { NativeModelSpec } from '../../lib/binding-types.js';
import { createModel } from '../../lib/model.js';
import { batch, spec } from './helpers.js';

const models: Array<{ dispose(): void }> = [];
afterAll(() => models.forEach((m) => m.dispose()));

const cases: Array<[string, Partial<NativeModelSpec>, number, number[]]> = [
  ['SkipNet-38, recurrent gate', { depth: 38, gate: 'rnn', seed: 5 }, 32, [1, 7, 128]],
  ['SkipNet-38, FFGate-I', { depth: 38, gate: 'ffgate1', seed: 6 }, 32, [1, 7, 64]],
  ['ImageNet SkipNet-50, recurrent gate', { arch: 'imagenet', depth: 50, gate: 'rnn', seed: 5, numClasses: 20 }, 64, [1, 7, 128]],
];

describe.each(cases)('%s', (_name, overrides, size, sizes) => {
  it('skipping execution equals masked execution, with the same routing record', async () => {
    const m = createModel(spec(overrides));
    models.push(m);
    let mixedGates = 0;
    for (const n of sizes) {
      const b = batch(1000 + n, n, size, size, 3, overrides.numClasses ?? 10);
      const masked = await m.evalStep(b, 0.5, 'mask');
      const skipped = await m.evalStep(b, 0.5, 'skip');
      expect(Array.from(skipped.executed)).toEqual(Array.from(masked.executed));
      expect(Array.from(skipped.macs)).toEqual(Array.from(masked.macs));
      let worst = 0;
      for (let i = 0; i < masked.logits.length; i++) worst = Math.max(worst, Math.abs(masked.logits[i] - skipped.logits[i]));
      expect(worst).toBeLessThan(1e-4);
      expect(Array.from(skipped.predictions)).toEqual(Array.from(masked.predictions));
      if (n > 1) mixedGates += Array.from(masked.gateExec).filter((e) => e > 0 && e < n).length;
    }
    // The batches really mixed skipping and executing samples in some gated blocks.
    expect(mixedGates).toBeGreaterThan(0);
  });
});
