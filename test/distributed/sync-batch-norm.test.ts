// Synchronised batch norm: with distributed.syncBatchNorm, 2 ranks on B/2 samples each take
// exactly the step that 1 process takes on all B samples, batch statistics and running
// statistics included (no inspection trick needed, unlike per-rank batch norm in
// equivalence.test.ts); without it they do not.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createModel } from '../../lib/model.js';
import { decodeSafetensors, type RawTensor } from '../../lib/safetensors.js';
import { reportedError, runRanks } from './fixtures/ranks.js';
import { globalBatch, SGD, spec } from './fixtures/shared.js';

const scratch = mkdtempSync(join(tmpdir(), 'skipnet-syncbn-'));
const STEPS = 3;
const BATCH = 8;

const f64 = (t: RawTensor) => new Float64Array(new Uint8Array(t.data).buffer);
const decode = (file: string) =>
  new Map(decodeSafetensors(readFileSync(file)).tensors.filter((t) => t.dtype === 'F64').map((t) => [t.name, f64(t)]));

/** One process, the whole global batch each step: the weights and the losses. */
async function singleProcess(): Promise<{ weights: Map<string, Float64Array>; losses: number[] }> {
  const model = createModel(spec());
  try {
    const losses: number[] = [];
    for (let step = 0; step < STEPS; step++) losses.push((await model.trainStep(globalBatch(step % 4, BATCH), SGD)).loss);
    const file = join(scratch, 'single.safetensors');
    await model.saveWeights(file);
    return { weights: decode(file), losses };
  } finally {
    model.dispose();
  }
}

function worstDiff(a: Map<string, Float64Array>, b: Map<string, Float64Array>, filter: (name: string) => boolean): number {
  let worst = 0;
  for (const [name, v] of b) {
    if (!filter(name)) continue;
    const w = a.get(name)!;
    expect(w, name).toBeDefined();
    for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(w[i]! - v[i]!));
  }
  return worst;
}

describe('synchronised batch norm (2 ranks, Gloo on 127.0.0.1)', () => {
  it('2 ranks on half batches take the step of 1 process on the whole batch, running statistics included', async () => {
    const ref = await singleProcess();
    const out = join(scratch, 'sync.safetensors');
    const ranks = await runRanks({ mode: 'sp', steps: STEPS, globalBatch: BATCH, out, syncBatchNorm: true }, 2);
    for (const r of ranks) expect(reportedError(r), r.stderr).toBeUndefined();
    const rank0 = decode(out);
    const rank1 = decode(`${out}.rank1`);
    expect(worstDiff(rank0, ref.weights, () => true)).toBeLessThan(1e-10);
    expect(worstDiff(rank0, ref.weights, (n) => n.includes('running_'))).toBeLessThan(1e-10);
    expect(worstDiff(rank1, rank0, () => true)).toBe(0);
    for (const r of ranks) {
      const steps = r.events.filter((e) => e.event === 'step');
      steps.forEach((e, i) => expect(Math.abs((e.loss as number) - ref.losses[i]!)).toBeLessThan(1e-10));
    }
    // Per-rank batch norm (the default) does not give the single-process step: the test can tell.
    const plainOut = join(scratch, 'plain.safetensors');
    const plain = await runRanks({ mode: 'sp', steps: STEPS, globalBatch: BATCH, out: plainOut }, 2);
    for (const r of plain) expect(reportedError(r), r.stderr).toBeUndefined();
    expect(worstDiff(decode(plainOut), ref.weights, () => true)).toBeGreaterThan(1e-6);
  });
});
