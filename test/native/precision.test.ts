// Mixed precision: bf16 autocast on the CPU (the weights stay float32 and a step lands close to
// the float32 step), and dynamic loss scaling with GradScaler's rule: exact updates with a
// power-of-two scale, overflowing steps skipped and the scale halved, growth after
// growthInterval finite steps, and the scaler's state carried by the optimizer checkpoint.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunConfigSchema } from '../../lib/config.js';
import { createModel } from '../../lib/model.js';
import { decodeSafetensors } from '../../lib/safetensors.js';
import { batch, disposeModels, editWeights, f32, get, scratch, spec, tensorsOf, trackedModel } from './helpers.js';

afterAll(disposeModels);

const sgd = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: false };

async function weightsOf(m: ReturnType<typeof trackedModel>): Promise<Map<string, Float32Array>> {
  const file = join(scratch, `precision-${Math.random().toString(36).slice(2)}.safetensors`);
  await m.saveWeights(file);
  const t = decodeSafetensors(readFileSync(file)).tensors;
  expect(new Set(t.map((x) => x.dtype))).toEqual(new Set(['F32', 'I64'].filter((d) => t.some((x) => x.dtype === d))));
  return new Map(t.filter((x) => x.dtype === 'F32').map((x) => [x.name, Float32Array.from(f32(x))]));
}

/** Largest |a - b| over all weights, relative to the largest |b - before| (the update's size). */
function relativeUpdateError(a: Map<string, Float32Array>, b: Map<string, Float32Array>, before: Map<string, Float32Array>): number {
  let err = 0;
  let size = 0;
  for (const [k, v] of b) {
    const x = a.get(k)!;
    const w0 = before.get(k)!;
    for (let i = 0; i < v.length; i++) {
      err = Math.max(err, Math.abs(x[i] - v[i]));
      size = Math.max(size, Math.abs(v[i] - w0[i]));
    }
  }
  return err / size;
}

describe('bf16 autocast on the CPU', () => {
  it('trains with float32 weights, and its step lands close to the float32 step', async () => {
    const x = batch(11, 16);
    const ref = trackedModel({ depth: 14, seed: 5 });
    const bf16 = trackedModel({ depth: 14, seed: 5, precision: 'bf16' });
    const before = await weightsOf(ref);
    const r32 = await ref.trainStep(x, sgd);
    const r16 = await bf16.trainStep(x, sgd);
    expect(Math.abs(r16.loss - r32.loss)).toBeLessThan(0.02 * r32.loss);
    expect(Math.abs(r16.loss - r32.loss)).toBeGreaterThan(0); // it did compute in bf16
    const after32 = await weightsOf(ref);
    const after16 = await weightsOf(bf16);
    expect(relativeUpdateError(after16, after32, before)).toBeLessThan(0.1);
    // Evaluation runs under autocast too: a bf16 loss, close to float32's.
    const e32 = await ref.evalStep(x, 0.5);
    const e16 = await bf16.evalStep(x, 0.5);
    expect(e16.loss).not.toBe(e32.loss);
    expect(Math.abs(e16.loss - e32.loss)).toBeLessThan(0.02 * e32.loss);
  });

  it('keeps the activations in bf16 through the gated blocks (the mask takes their dtype, as the reference\'s bf16 mask)', async () => {
    // A float32 mask in g * B(x) + (1 - g) * S(x) would promote every activation after the
    // first gated block to float32: the pooled features would then not be bf16 values.
    const x = batch(13, 8);
    const bf16Values = (v: Float32Array) => {
      const bits = new Uint32Array(v.buffer, v.byteOffset, v.length);
      return bits.every((b) => (b & 0xffff) === 0);
    };
    const featuresOf = async (m: ReturnType<typeof trackedModel>) => f32(tensorsOf(await m.inspectStep(x)).get('features')!);
    const bf = await featuresOf(trackedModel({ depth: 14, seed: 5, precision: 'bf16' }));
    const fp = await featuresOf(trackedModel({ depth: 14, seed: 5 }));
    expect(bf.length).toBe(8 * 64);
    expect(bf16Values(bf)).toBe(true);
    expect(bf16Values(fp)).toBe(false); // the check tells float32 features apart
  });

  it('HRL steps under bf16 too', async () => {
    const m = trackedModel({ depth: 14, seed: 5, precision: 'bf16' });
    const r = await m.hrlStep(batch(12, 16), sgd, { alpha: 0.5, beta: 1, gamma: 1, rlWeight: 0.01, reduction: 'sum', baseline: 'none', sampleSeed: 3 });
    expect(Number.isFinite(r.loss) && Number.isFinite(r.rlLoss)).toBe(true);
  });

  it('refuses fp16 on the CPU, in the addon and in the config', () => {
    expect(() => createModel(spec({ precision: 'fp16' }))).toThrow(/precision 'fp16' needs a CUDA device/);
    const r = RunConfigSchema.safeParse({ data: { source: { kind: 'synthetic' } }, precision: 'fp16' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/'fp16' needs a CUDA device/);
    expect(() => createModel(spec({ precision: 'bf16', dtype: 'float64' }))).toThrow(/needs dtype 'float32'/);
  });
});

describe('dynamic loss scaling', () => {
  it('with a power-of-two scale gives exactly the unscaled update', async () => {
    const x = batch(13, 16);
    const plain = trackedModel({ depth: 14, seed: 6 });
    const scaled = trackedModel({ depth: 14, seed: 6, lossScale: { initScale: 1024, growthInterval: 1000 } });
    for (let s = 0; s < 2; s++) {
      const a = await plain.trainStep(x, sgd);
      const b = await scaled.trainStep(x, sgd);
      expect(a.lossScale).toBeUndefined();
      expect([b.lossScale, b.stepSkipped, b.loss]).toEqual([1024, false, a.loss]);
    }
    const wa = await weightsOf(plain);
    const wb = await weightsOf(scaled);
    for (const [k, v] of wa) expect(Buffer.from(wb.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
  });

  it('skips a step whose scaled gradients overflow, halves the scale, and grows it after growthInterval finite steps', async () => {
    const x = batch(14, 16);
    // A classifier 1000x too large makes gradients in the hundreds: times 3e38 they overflow
    // float32, so the first step does.
    const m = trackedModel({ depth: 14, seed: 7, lossScale: { initScale: 3e38, growthInterval: 2 } });
    await editWeights(m, (w) => get(w, 'fc.weight').forEach((v, i, a) => (a[i] = v * 1000)));
    const before = await weightsOf(m);
    const first = await m.trainStep(x, sgd);
    expect([first.lossScale, first.stepSkipped]).toEqual([3e38, true]);
    const unchanged = await weightsOf(m);
    // The parameters are untouched (the forward pass did move the BN running statistics, as with GradScaler).
    for (const [k, v] of before) if (!k.includes('running_') && !k.includes('num_batches')) expect(Buffer.from(unchanged.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
    // Halve until finite, then two finite steps double the scale.
    const scales: number[] = [];
    const skipped: boolean[] = [];
    for (let s = 0; s < 40 && scales.filter((_, i) => !skipped[i]).length < 3; s++) {
      const r = await m.trainStep(x, { ...sgd, lr: 0.001 });
      scales.push(r.lossScale!);
      skipped.push(r.stepSkipped!);
    }
    const firstFinite = skipped.indexOf(false);
    expect(firstFinite).toBeGreaterThanOrEqual(0);
    for (let i = 1; i <= firstFinite; i++) expect(scales[i]).toBe(scales[i - 1] / 2);
    expect(scales.slice(firstFinite, firstFinite + 3)).toEqual([scales[firstFinite], scales[firstFinite], 2 * scales[firstFinite]]);
    // The scaler's state travels with the optimizer state.
    const file = join(scratch, `scaler-${process.pid}.safetensors`);
    await m.saveOptimizer(file);
    const names = decodeSafetensors(readFileSync(file)).tensors.map((t) => t.name);
    expect(names).toContain('amp.loss_scaler');
    const resumed = trackedModel({ depth: 14, seed: 7, lossScale: { initScale: 1, growthInterval: 2 } });
    await resumed.loadOptimizer(file);
    const next = await m.trainStep(x, { ...sgd, lr: 0.001 });
    const again = await resumed.trainStep(x, { ...sgd, lr: 0.001 });
    expect(again.lossScale).toBe(next.lossScale);
  });
});
