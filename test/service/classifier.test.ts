// Classifier: predictions against the plain native model, thresholds, budgets, image
// decoding, loading from checkpoints, and dispose.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config.js';
import { Classifier } from '../../lib/service/classifier.js';
import { THRESHOLD_GRID } from '../../lib/service/budget.js';
import type { RawImage } from '../../lib/service/types.js';
import { CHECKPOINT_VERSION, saveCheckpoint } from '../../lib/train/checkpoint.js';
import { dir, expectCode, savedModel, toBatch, variedImages } from './helpers.js';

const disposers: Array<{ dispose(): void }> = [];
afterAll(() => disposers.forEach((d) => d.dispose()));

function keep<T extends { dispose(): void }>(x: T): T {
  disposers.push(x);
  return x;
}

describe('Classifier on a depth-20 RNN-gated model', () => {
  let saved: Awaited<ReturnType<typeof savedModel>>;
  let clf: Classifier;
  const images = variedImages(1, 12);

  beforeAll(async () => {
    saved = await savedModel(dir('clf20'), { depth: 20, gate: 'rnn', seed: 20 });
    keep(saved.model);
    clf = keep(await Classifier.load(saved.file, { threads: 2 }));
  });

  it('loads from a weights file with the spec in its metadata', () => {
    expect(clf.spec).toMatchObject({ arch: 'cifar', depth: 20, gate: 'rnn', numClasses: 10, inChannels: 3 });
    expect([clf.inputHeight, clf.inputWidth, clf.inputChannels]).toEqual([32, 32, 3]);
    expect(clf.info.blocks).toBe(9);
    expect(clf.classNames).toBeUndefined();
    expect(clf.source.checkpoint).toBeNull();
  });

  it('predicts what model.evalStep(..., "mask") computes on the same raw pixels', async () => {
    const ref = await saved.model.evalStep(toBatch(images), 0.5, 'mask');
    const results = await clf.predict(images, { topK: 3 });
    expect(results).toHaveLength(images.length);
    const M = clf.info.gatedBlocks;
    results.forEach((r, s) => {
      const logits = ref.logits.subarray(s * 10, (s + 1) * 10);
      let argmax = 0;
      for (let k = 1; k < 10; k++) if (logits[k]! > logits[argmax]!) argmax = k;
      expect(r.label).toBe(argmax);
      for (let k = 0; k < 10; k++) expect(Math.abs(r.logits[k]! - logits[k]!)).toBeLessThan(1e-4);
      const executed = [0];
      for (let i = 0; i < M; i++) if (ref.executed[s * M + i]) executed.push(i + 1);
      expect(r.executedBlocks).toEqual(executed);
      expect(r.blocksExecuted).toBe(executed.length);
      expect(r.macs).toBe(ref.macs[s]);
      expect(r.threshold).toBe(0.5);
      // softmax, top-k
      const sum = r.probabilities.reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 5);
      expect(r.topK).toHaveLength(3);
      expect(r.topK[0]!.label).toBe(r.label);
      expect(r.topK[0]!.probability).toBe(r.probabilities[r.label]);
      expect(r.topK[1]!.probability).toBeLessThanOrEqual(r.topK[0]!.probability);
    });
    // A single image resolves to a single result.
    const one = await clf.predict(images[3]!);
    expect(Array.isArray(one)).toBe(false);
    expect(one.label).toBe(results[3]!.label);
  });

  it('decodes PNG and JPEG buffers (resized and centre-cropped to the input size)', async () => {
    const raw = images[0]!;
    const png = await sharp(raw.pixels, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
    const [fromRaw, fromPng] = await Promise.all([clf.predict(raw), clf.predict(png)]);
    expect(fromPng.label).toBe(fromRaw.label);
    expect([...fromPng.logits]).toEqual([...fromRaw.logits]); // lossless: the very same pixels

    // A 64x48 JPEG: resized so the short side is 32, then the centre 32x32.
    const big = variedImages(5, 1, 48, 64)[0]!;
    const jpg = await sharp(big.pixels, { raw: { width: 64, height: 48, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    const expectedPixels = await sharp(jpg).removeAlpha().resize(32, 32, { fit: 'cover', position: 'centre' }).raw().toBuffer();
    const [fromJpg, fromExpected] = await Promise.all([
      clf.predict(jpg),
      clf.predict({ pixels: new Uint8Array(expectedPixels), height: 32, width: 32, channels: 3 }),
    ]);
    expect([...fromJpg.logits]).toEqual([...fromExpected.logits]);

    // Greyscale PNG on an RGB model: replicated to three channels.
    const grey = variedImages(6, 1, 32, 32, 1)[0]!;
    const greyPng = await sharp(grey.pixels, { raw: { width: 32, height: 32, channels: 1 } }).png().toBuffer();
    const [a, b] = await Promise.all([clf.predict(greyPng), clf.predict(grey)]);
    for (let k = 0; k < 10; k++) expect(Math.abs(a.logits[k]! - b.logits[k]!)).toBeLessThan(1e-4);
  });

  it('rejects only the bad request: corrupt, truncated and wrong-size inputs', async () => {
    const good = images.slice(0, 6);
    const png = await sharp(images[1]!.pixels, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
    const truncated = png.subarray(0, Math.floor(png.length / 2));
    const corrupt = Buffer.from('this is not an image at all');
    const tiny: RawImage = { pixels: new Uint8Array(16 * 16 * 3), height: 16, width: 16, channels: 3 };
    const short: RawImage = { pixels: new Uint8Array(100), height: 32, width: 32, channels: 3 };
    const all = await Promise.allSettled([
      ...good.map((g) => clf.predict(g)),
      clf.predict(corrupt),
      clf.predict(truncated),
      clf.predict(tiny),
      clf.predict([images[2]!, short]),
      clf.predict(new Uint8Array(0)),
      clf.predict('cat.jpg' as never),
      clf.predict(images[0]!, { threshold: 1.5 }),
      clf.predict(images[0]!, { threshold: 0.6, budget: 0.5 }),
      ...good.map((g) => clf.predict(g)),
    ]);
    const ok = all.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(12);
    const errs = all.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error & { code: string });
    expect(errs.map((e) => e.code)).toEqual(['ERR_DATA', 'ERR_DATA', 'ERR_BAD_ARG', 'ERR_BAD_ARG', 'ERR_DATA', 'ERR_BAD_ARG', 'ERR_BAD_ARG', 'ERR_BAD_ARG']);
    expect(errs[0]!.message).toMatch(/cannot decode the image/);
    expect(errs[1]!.message).toMatch(/cannot decode the image/);
    expect(errs[2]!.message).toMatch(/16x16 but the model takes 32x32/);
    expect(errs[3]!.message).toMatch(/image 1 of 2: pixels has 100 bytes/);
    expect(errs[4]!.message).toMatch(/empty/);
    expect(errs[5]!.message).toMatch(/expected the bytes of a JPEG\/PNG file/);
    expect(errs[6]!.message).toMatch(/threshold must be a number in \[0, 1\]/);
    expect(errs[7]!.message).toMatch(/threshold or budget, not both/);
  });

  it('calibrates budgets: a smaller budget picks a higher threshold and spends less', async () => {
    const calib = variedImages(11, 24);
    const table = await clf.calibrate(calib);
    expect(table.images).toBe(24);
    expect(table.points.map((p) => p.threshold)).toEqual([...THRESHOLD_GRID]);
    const cheapest = Math.min(...table.points.map((p) => p.macsFraction));
    expect(table.points.at(-1)!.macsFraction).toBe(cheapest); // threshold 1: every gated block skipped
    let last = 0;
    for (const budget of [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3]) {
      const t = await clf.thresholdFor(budget);
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
      const rs = await clf.predict(calib, { budget });
      expect(rs.every((r) => r.threshold === t)).toBe(true);
      const spent = rs.reduce((a, r) => a + r.macs, 0) / rs.length / clf.info.fullMacs;
      if (budget >= cheapest) expect(spent).toBeLessThanOrEqual(budget + 1e-9);
      else expect(t).toBe(1);
    }
  });
});

describe('threshold trades blocks for accuracy without retraining', () => {
  it('depth 38 (RNN gates): total executed blocks never rise and do fall as the threshold goes 0.3 -> 0.9', async () => {
    const saved = await savedModel(dir('clf38'), { depth: 38, gate: 'rnn', seed: 38 }, 0);
    keep(saved.model);
    const clf = keep(await Classifier.load(saved.file, { threads: 2 }));
    const images = variedImages(3, 16);
    const totals: number[] = [];
    const macs: number[] = [];
    for (const threshold of [0.3, 0.5, 0.7, 0.9]) {
      const rs = await clf.predict(images, { threshold });
      totals.push(rs.reduce((a, r) => a + r.blocksExecuted, 0));
      macs.push(rs.reduce((a, r) => a + r.macs, 0));
    }
    console.log(`depth-38 blocks executed at thresholds 0.3/0.5/0.7/0.9: ${totals.join(' / ')} (of ${16 * clf.info.blocks})`);
    for (let i = 1; i < totals.length; i++) expect(totals[i]).toBeLessThanOrEqual(totals[i - 1]!);
    expect(totals.some((t, i) => i > 0 && t < totals[i - 1]!)).toBe(true);
    expect(macs.at(-1)!).toBeLessThan(macs[0]!);
  });
});

describe('loading', () => {
  it('from a checkpoint folder and from its run folder: input size and class names from state.json', async () => {
    const where = dir('ckpt');
    const saved = await savedModel(where, { depth: 20, gate: 'ffgate2', numClasses: 4, seed: 4 }, 1);
    keep(saved.model);
    const config = parseConfig({
      data: { source: { kind: 'synthetic', height: 24, width: 24, numClasses: 4 } },
      model: { depth: 20, gate: 'ffgate2' },
      threads: 2,
    });
    const ckpt = await saveCheckpoint(where, 'last', saved.model, {
      version: CHECKPOINT_VERSION,
      step: 1,
      bestTop1: null,
      config,
      modelSpec: saved.spec,
      metrics: null,
      createdAt: new Date().toISOString(),
      packageVersion: 'test',
      libtorch: 'test',
    });
    for (const source of [ckpt, where, join(ckpt, 'weights.safetensors')]) {
      const clf = keep(await Classifier.load(source, { maxWaitMs: 0 }));
      expect(clf.source.checkpoint).toBe(ckpt);
      expect([clf.inputHeight, clf.inputWidth]).toEqual([24, 24]);
      expect(clf.classNames).toEqual(['class0', 'class1', 'class2', 'class3']);
      const r = await clf.predict(variedImages(2, 1, 24, 24)[0]!, { topK: 10 });
      expect(r.className).toBe(`class${r.label}`);
      expect(r.topK).toHaveLength(4); // capped at numClasses
      expect(r.topK.map((e) => e.className)).toEqual(r.topK.map((e) => `class${e.label}`));
      clf.dispose();
    }
    // Explicit names must fit the classes.
    await expectCode(Classifier.load(ckpt, { classNames: ['a', 'b'] }), 'ERR_BAD_ARG', /2 names but the model has 4 classes/);
    const named = keep(await Classifier.load(ckpt, { classNames: ['a', 'b', 'c', 'd'], inputSize: 32 }));
    expect(named.inputHeight).toBe(32);
    const r = await named.predict(variedImages(2, 1)[0]!);
    expect(r.className).toBe('abcd'[r.label]);

    // A folder dataset: the class folders name the classes; the MACs of the recorded
    // evaluation pin down the image size (40x40 here).
    const root = join(where, 'data');
    for (const c of ['cat', 'dog', 'ant', 'bee']) mkdirSync(join(root, 'train', c), { recursive: true });
    const fullMacs = saved.model.info(40, 40).fullMacs;
    const metrics = {
      n: 10, loss: 1, top1: 50, top5: 100, gateExecRates: [], cp: 100, flopsReduction: 0,
      macsPerImage: { mean: fullMacs, min: fullMacs, p50: fullMacs, max: fullMacs }, fullMacs, macsPercentOfFull: 100,
    };
    const folderCkpt = await saveCheckpoint(where, 'folder', saved.model, {
      version: CHECKPOINT_VERSION,
      step: 1,
      bestTop1: 50,
      config: parseConfig({ data: { source: { kind: 'folder', root } }, model: { depth: 20, gate: 'ffgate2' }, threads: 2 }),
      modelSpec: saved.spec,
      metrics,
      createdAt: new Date().toISOString(),
      packageVersion: 'test',
      libtorch: 'test',
    });
    const fromFolder = keep(await Classifier.load(folderCkpt));
    expect([fromFolder.inputHeight, fromFolder.inputWidth]).toEqual([40, 40]);
    expect(fromFolder.source.inputSizeFrom).toMatch(/recorded/);
    expect(fromFolder.classNames).toEqual(['ant', 'bee', 'cat', 'dog']);
  });

  it('says what is wrong with a bad source', async () => {
    const where = dir('bad');
    await expectCode(Classifier.load(join(where, 'nope')), 'ERR_CHECKPOINT', /does not exist/);
    await expectCode(Classifier.load(where), 'ERR_CHECKPOINT', /missing state.json/);
    writeFileSync(join(where, 'junk.safetensors'), 'garbage!garbage!');
    await expectCode(Classifier.load(join(where, 'junk.safetensors')), 'ERR_WEIGHTS', /not a valid safetensors file/);
    const { encodeSafetensors } = await import('../../lib/safetensors.js');
    writeFileSync(join(where, 'nospec.safetensors'), encodeSafetensors([]));
    await expectCode(Classifier.load(join(where, 'nospec.safetensors')), 'ERR_WEIGHTS', /no model spec/);
    await expectCode(Classifier.load(where, { maxBatch: 0 }), 'ERR_BAD_ARG', /maxBatch must be a positive integer/);
  });
});

describe('dispose', () => {
  it('rejects queued and later calls with ERR_DISPOSED', async () => {
    const saved = await savedModel(dir('disp'), { depth: 20, seed: 3 }, 0);
    keep(saved.model);
    const clf = await Classifier.load(saved.file, { maxWaitMs: 50 });
    const images = variedImages(9, 4);
    const pending = images.map((im) => clf.predict(im));
    await new Promise((r) => setTimeout(r, 5)); // queued, waiting for company
    clf.dispose();
    const settled = await Promise.allSettled(pending);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      expect((s as PromiseRejectedResult).reason.code).toBe('ERR_DISPOSED');
    }
    await expectCode(clf.predict(images[0]!), 'ERR_DISPOSED', /disposed/);
    await expectCode(clf.calibrate(images), 'ERR_DISPOSED');
    expect(clf.isDisposed).toBe(true);
    clf.dispose(); // twice is fine
  });
});
