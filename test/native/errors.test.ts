// Bad input gets a coded, readable error; the process survives; nothing is half-applied.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createModel } from '../../lib/model.js';
import { loadNative } from '../../lib/native.js';
import { batch, editWeights, get, scratch, spec, disposeModels, trackedModel } from './helpers.js';

afterAll(disposeModels);
const model = trackedModel;
const sgd = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: false };

describe('model construction', () => {
  it.skipIf(loadNative().versions().cuda)('refuses CUDA on a CPU-only LibTorch instead of falling back', () => {
    expect(() => createModel(spec({ device: 'cuda' }))).toThrow(expect.objectContaining({ code: 'ERR_CUDA_UNAVAILABLE' }));
    expect(() => createModel(spec({ device: 'cuda:1' }))).toThrow(/no usable CUDA/);
  });

  it('names the bad field of a spec', () => {
    expect(() => createModel(spec({ depth: 40 }))).toThrow(/6n\+2.*got 40/);
    expect(() => createModel(spec({ arch: 'imagenet', depth: 42 }))).toThrow(/18, 34, 50, 101 or 152, got 42/);
    expect(() => createModel(spec({ gate: 'lstm' as never }))).toThrow(/gate must be/);
    expect(() => createModel(spec({ device: 'gpu' }))).toThrow(expect.objectContaining({ code: 'ERR_BAD_ARG' }));
    expect(() => createModel(spec({ mean: [0.5] }))).toThrow(/one value per input channel/);
  });
});

describe('steps with bad batches', () => {
  it('rejects wrong sizes, channels and labels with ERR_BAD_ARG', async () => {
    const m = model();
    const good = batch(1, 4);
    await expect(m.trainStep({ ...good, n: 5 }, sgd)).rejects.toMatchObject({ code: 'ERR_BAD_ARG', message: /images has 12288 bytes/ });
    await expect(m.trainStep({ ...good, labels: new Int32Array([0, 1, 2, 10]) }, sgd)).rejects.toThrow(/label 10 is outside \[0, 10\)/);
    const gray = batch(1, 4, 32, 32, 1);
    await expect(m.evalStep(gray, 0.5)).rejects.toThrow(/1 channel\(s\), but the model takes 3/);
    await expect(m.trainStep(good, { ...sgd, lr: Number.NaN })).rejects.toThrow(/lr must be a finite number/);
    // The model still works after all of that.
    const r = await m.trainStep(good, sgd);
    expect(Number.isFinite(r.loss)).toBe(true);
  });

  it('stops on a NaN loss without touching the weights', async () => {
    const m = model({ depth: 8 });
    await editWeights(m, (w) => get(w, 'fc.bias').fill(Number.NaN));
    const before = join(scratch, 'nan-before.safetensors');
    const after = join(scratch, 'nan-after.safetensors');
    await m.saveWeights(before);
    await expect(m.trainStep(batch(2, 8), sgd)).rejects.toMatchObject({ code: 'ERR_NAN_LOSS', message: /lower the learning rate/i });
    await m.saveWeights(after);
    expect(Buffer.compare(readFileSync(before), readFileSync(after))).toBe(0);
  });

  it('keeps the event loop running during a step and rejects calls after dispose', async () => {
    const m = createModel(spec({ depth: 20 }));
    let turns = 0;
    const timer = setInterval(() => turns++, 1);
    const step = m.trainStep(batch(3, 64), sgd);
    const ranBefore = await Promise.race([step.then(() => turns), new Promise<number>((r) => setImmediate(() => r(-1)))]);
    expect(ranBefore).toBe(-1); // setImmediate ran while the step was in flight
    await step;
    clearInterval(timer);
    expect(turns).toBeGreaterThan(0);
    m.dispose();
    await expect(m.evalStep(batch(3, 2), 0.5)).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    expect(() => m.dispose()).not.toThrow();
  });
});

describe('weights files', () => {
  it('reports names and shapes that do not fit, and leaves the model unchanged', async () => {
    const small = model({ depth: 14 });
    const big = model({ depth: 20 });
    const path = join(scratch, 'r20.safetensors');
    await big.saveWeights(path);
    await expect(small.loadWeights(path)).rejects.toMatchObject({ code: 'ERR_WEIGHTS', message: /unexpected 'blocks\.6/ });
    const other = model({ depth: 20, numClasses: 100 });
    await expect(other.loadWeights(path)).rejects.toThrow(/'fc\.weight' has shape \[10, 64\], the model expects \[100, 64\]/);
    await expect(small.loadWeights(join(scratch, 'missing.safetensors'))).rejects.toThrow(/cannot read .*missing\.safetensors: ENOENT/);
  });

  it('survives hundreds of randomly corrupted files with clear errors', async () => {
    const m = model({ depth: 8 });
    const path = join(scratch, 'fuzz-src.safetensors');
    await m.saveWeights(path);
    const original = readFileSync(path);
    const headerLen = Number(original.readBigUInt64LE(0));
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(original);
      const kind = i % 4;
      if (kind === 0) bytes.writeBigUInt64LE(BigInt(rand(2 ** 31)) * BigInt(1 + rand(1000)), 0); // header length
      else if (kind === 1) for (let k = 0; k < 4; k++) bytes[8 + rand(headerLen)] = rand(256); // header JSON
      else if (kind === 2) bytes.fill(0, 8 + headerLen + rand(original.length - 8 - headerLen)); // truncated data
      const file = kind === 3 ? bytes.subarray(0, rand(original.length)) : bytes; // truncated file
      const p = join(scratch, `fuzz-${i}.safetensors`);
      writeFileSync(p, file);
      try {
        await m.loadWeights(p);
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ERR_WEIGHTS');
        expect((err as Error).message).toMatch(/safetensors|do not fit|tensor|weights/);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(150);
    // Still alive and still usable.
    await m.loadWeights(path);
    expect((await m.evalStep(batch(4, 2), 0.5)).n).toBe(2);
  });
});
