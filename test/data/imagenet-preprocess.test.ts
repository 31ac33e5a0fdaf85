// The ImageNet pipeline (spec 7): RandomResizedCrop geometry as torchvision computes it, the
// eval resize + centre crop, pixel-exact crops through sharp, colour conversion to RGB, and the
// per-batch decoding loader path.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CropBox,
  centerCropBox,
  evalResizeCrop,
  randomResizedCropBox,
  resizeShorterSide,
  roundHalfEven,
} from '../../lib/data/crop-geometry.js';
import { EncodedImageDataset } from '../../lib/data/encoded.js';
import { listEncodedFolder } from '../../lib/data/encoded-folder.js';
import { preprocessImage } from '../../lib/data/imagenet-preprocess.js';
import { preprocessJpegBatch } from '../../lib/data/jpeg-batch.js';
import { BatchLoader, fullPass } from '../../lib/data/loader.js';
import { MemoryDataset } from '../../lib/data/memory.js';
import { Limiter } from '../../lib/data/limiter.js';
import { resizeBilinearRgb } from '../../lib/data/resample.js';
import { Rng } from '../../lib/data/rng.js';
import { sharedArchive, sharedDataset } from '../../lib/data/shared-datasets.js';
import type { Batch } from '../../lib/data/types.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-imagenet-pre-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A width x height RGB image whose every pixel is distinct enough to locate: (x, y, x ^ y) mod 256. */
function pattern(width: number, height: number): Buffer {
  const b = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) b.set([x & 255, y & 255, (x * 7 + y * 3) & 255], (y * width + x) * 3);
  }
  return b;
}

const png = (raw: Buffer, width: number, height: number): Promise<Buffer> =>
  sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();

/** The (box) crop of a width-wide RGB image, optionally mirrored left-right. */
function cropOf(raw: Buffer, width: number, box: CropBox, mirror = false): Buffer {
  const out = Buffer.alloc(box.width * box.height * 3);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const sx = box.left + (mirror ? box.width - 1 - x : x);
      const s = ((box.top + y) * width + sx) * 3;
      out.set(raw.subarray(s, s + 3), (y * box.width + x) * 3);
    }
  }
  return out;
}

describe('crop geometry (torchvision 0.14 RandomResizedCrop / Resize / CenterCrop)', () => {
  it("rounds halves to even, as Python's round()", () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.4999, 2.5001, 7].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 3, 7]);
  });

  it('keeps every box inside the image, with area and aspect ratio in range when not falling back', () => {
    const sizes: [number, number][] = [[500, 375], [375, 500], [224, 224], [2400, 1600], [64, 64], [300, 290]];
    for (const [w, h] of sizes) {
      const rng = new Rng(w * 31 + h);
      for (let t = 0; t < 2000; t++) {
        const b = randomResizedCropBox(rng, w, h);
        expect(b.left >= 0 && b.top >= 0 && b.width >= 1 && b.height >= 1).toBe(true);
        expect(b.left + b.width <= w && b.top + b.height <= h).toBe(true);
        // Rounding the sides to integers moves area and ratio by at most about 1/side.
        const slack = 1 + 2.5 / Math.min(b.width, b.height);
        const frac = (b.width * b.height) / (w * h);
        expect(frac).toBeGreaterThanOrEqual(0.08 / slack);
        expect(frac).toBeLessThanOrEqual(1);
        const ratio = b.width / b.height;
        expect(ratio).toBeGreaterThanOrEqual(3 / 4 / slack);
        expect(ratio).toBeLessThanOrEqual((4 / 3) * slack);
      }
    }
  });

  it('spreads boxes over the whole scale and ratio ranges', () => {
    const rng = new Rng(5);
    let minF = 1;
    let maxF = 0;
    let minR = 10;
    let maxR = 0;
    for (let t = 0; t < 4000; t++) {
      const b = randomResizedCropBox(rng, 1000, 1000);
      const f = (b.width * b.height) / 1e6;
      const r = b.width / b.height;
      [minF, maxF, minR, maxR] = [Math.min(minF, f), Math.max(maxF, f), Math.min(minR, r), Math.max(maxR, r)];
    }
    expect(minF).toBeLessThan(0.09);
    expect(maxF).toBeGreaterThan(0.95);
    expect(minR).toBeLessThan(0.77);
    expect(maxR).toBeGreaterThan(1.3);
  });

  it('falls back to the centred box clamped to the ratio range when no try fits', () => {
    // 1000x50: every try needs a height above 50 (sqrt(0.08 * 50000 / (4/3)) = 54.8).
    expect(randomResizedCropBox(new Rng(1), 1000, 50)).toEqual({ left: 466, top: 0, width: 67, height: 50 });
    // 50x1000: h = round(50 / (3/4)) = 67, centred vertically.
    expect(randomResizedCropBox(new Rng(1), 50, 1000)).toEqual({ left: 0, top: 466, width: 50, height: 67 });
    // A 1x1 image: the only box.
    expect(randomResizedCropBox(new Rng(1), 1, 1)).toEqual({ left: 0, top: 0, width: 1, height: 1 });
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const run = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 50 }, () => randomResizedCropBox(rng, 640, 480));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it('sizes the eval resize and centre crop like torchvision', () => {
    expect(resizeShorterSide(500, 375, 256)).toEqual({ width: 341, height: 256 }); // int(256 * 500 / 375) = 341
    expect(resizeShorterSide(375, 500, 256)).toEqual({ width: 256, height: 341 });
    expect(resizeShorterSide(100, 100, 256)).toEqual({ width: 256, height: 256 });
    // (341 - 224) / 2 = 58.5 -> 58 (half to even); (256 - 224) / 2 = 16.
    expect(centerCropBox(341, 256, 224)).toEqual({ left: 58, top: 16, width: 224, height: 224 });
    expect(evalResizeCrop(2400, 1600, 256, 224)).toEqual({ resized: { width: 384, height: 256 }, crop: { left: 80, top: 16, width: 224, height: 224 } });
    expect(() => centerCropBox(200, 300, 224)).toThrow(/does not fit/);
  });
});

describe('resizeBilinearRgb (Pillow BILINEAR)', () => {
  /** A width x 1 gray row as RGB. */
  const row = (v: number[]) => Uint8Array.from(v.flatMap((x) => [x, x, x]));
  const gray = (px: Uint8Array) => Array.from(px.filter((_, i) => i % 3 === 0));
  const full = (w: number, h: number) => ({ left: 0, top: 0, width: w, height: h });

  it('enlarges with centre-aligned 2-tap weights and shrinks with a widened (antialiasing) triangle', () => {
    // Pillow: [0, 100] -> 4 samples at centres 0.25, 0.75, 1.25, 1.75 = [0, 25, 75, 100].
    const up = new Uint8Array(4 * 3);
    resizeBilinearRgb(row([0, 100]), 2, 1, 4, 1, full(4, 1), up, 0);
    expect(gray(up)).toEqual([0, 25, 75, 100]);
    // Pillow: [0, 100, 200, 40] -> 2 samples, support 2: weights (3, 3, 1)/7 and (1, 3, 3)/7 = [71, 117].
    const down = new Uint8Array(2 * 3);
    resizeBilinearRgb(row([0, 100, 200, 40]), 4, 1, 2, 1, full(2, 1), down, 0);
    expect(gray(down)).toEqual([71, 117]);
  });

  it('writes only the window, mirrored when asked, and copies when the size is unchanged', () => {
    const src = row([10, 20, 30, 40, 50]);
    const win = new Uint8Array(3 * 3);
    resizeBilinearRgb(src, 5, 1, 5, 1, { left: 1, top: 0, width: 3, height: 1 }, win, 0, true);
    expect(gray(win)).toEqual([40, 30, 20]);
    const all = new Uint8Array(10 * 3);
    resizeBilinearRgb(src, 5, 1, 10, 1, full(10, 1), all, 0);
    const part = new Uint8Array(4 * 3);
    resizeBilinearRgb(src, 5, 1, 10, 1, { left: 3, top: 0, width: 4, height: 1 }, part, 0);
    expect(gray(part)).toEqual(gray(all).slice(3, 7));
  });
});

describe('preprocessImage (sharp)', () => {
  it('eval: an image whose shorter side is already 256 is centre-cropped to the exact source pixels', async () => {
    const [w, h] = [256, 300];
    const raw = pattern(w, h);
    const r = await preprocessImage(await png(raw, w, h), 'eval', null);
    // left = round(32 / 2) = 16, top = round(76 / 2) = 38
    expect(r.box).toEqual({ left: 16, top: 38, width: 224, height: 224 });
    expect(r.source).toEqual({ width: w, height: h });
    expect(r.resampler).toBe('pillow'); // no enlargement needed: a plain copy
    expect(r.pixels.equals(cropOf(raw, w, r.box))).toBe(true);
  });

  it('train: a 224x224 crop (scale and ratio pinned) is the exact source window, mirrored when flipped', async () => {
    const [w, h] = [448, 448];
    const raw = pattern(w, h);
    const input = await png(raw, w, h);
    const flips = new Set<boolean>();
    for (let seed = 0; seed < 8; seed++) {
      // area fraction 0.25 of 448^2 at ratio 1 -> exactly 224x224: the resize is the identity.
      const r = await preprocessImage(input, 'train', new Rng(seed), { scale: [0.25, 0.25], ratio: [1, 1] });
      expect([r.box.width, r.box.height]).toEqual([224, 224]);
      expect(r.pixels.equals(cropOf(raw, w, r.box, r.flipped))).toBe(true);
      flips.add(r.flipped);
      // Same seed, same result.
      const again = await preprocessImage(input, 'train', new Rng(seed), { scale: [0.25, 0.25], ratio: [1, 1] });
      expect(again.box).toEqual(r.box);
      expect(again.pixels.equals(r.pixels)).toBe(true);
    }
    expect(flips.size).toBe(2);
  });

  it('train: default RandomResizedCrop resizes any box to 224x224x3 (bilinear), deterministically', async () => {
    const [w, h] = [333, 250];
    const input = await sharp(pattern(w, h), { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    const a = await preprocessImage(input, 'train', new Rng(7));
    const b = await preprocessImage(input, 'train', new Rng(7));
    expect(a.pixels.length).toBe(224 * 224 * 3);
    expect(a.box).toEqual(b.box);
    expect(a.pixels.equals(b.pixels)).toBe(true);
    // The box matches the geometry function's draws from the same seed.
    expect(a.box).toEqual(randomResizedCropBox(new Rng(7), w, h));
  });

  it('turns grayscale and CMYK JPEGs into 3-channel RGB', async () => {
    const [w, h] = [300, 260];
    const grayRaw = Buffer.alloc(w * h);
    for (let i = 0; i < grayRaw.length; i++) grayRaw[i] = 40 + ((i % w) >> 1);
    const gray = await sharp(grayRaw, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer();
    expect((await sharp(gray).metadata()).channels).toBe(1);
    const orange = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) orange.set([230, 120, 20], i * 3);
    const cmyk = await sharp(orange, { raw: { width: w, height: h, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    const meta = await sharp(cmyk).metadata();
    expect([meta.space, meta.channels]).toEqual(['cmyk', 4]);

    for (const mode of ['train', 'eval'] as const) {
      const g = await preprocessImage(gray, mode, new Rng(1));
      expect(g.pixels.length).toBe(224 * 224 * 3);
      for (let p = 0; p < 224 * 224; p++) {
        const [r, gg, b] = [g.pixels[3 * p], g.pixels[3 * p + 1], g.pixels[3 * p + 2]];
        if (r !== gg || gg !== b) throw new Error(`${mode}: gray pixel ${p} decoded to (${r}, ${gg}, ${b})`);
      }
      const c = await preprocessImage(cmyk, mode, new Rng(1));
      expect(c.pixels.length).toBe(224 * 224 * 3);
      // Orange survives the CMYK round trip roughly: red high, green middle, blue low.
      const mid = (112 * 224 + 112) * 3;
      const [r, gg, b] = [c.pixels[mid], c.pixels[mid + 1], c.pixels[mid + 2]];
      expect(r).toBeGreaterThan(180);
      expect(gg).toBeGreaterThan(60);
      expect(gg).toBeLessThan(170);
      expect(b).toBeLessThan(80);
    }
  });
});

// Pillow itself as the reference, when Debian's python3-pil and numpy are there.
const PYTHON = process.env.SKIPNET_PYTHON ?? '/usr/bin/python3';
const hasPil = spawnSync(PYTHON, ['-c', 'import PIL, numpy'], { stdio: 'ignore' }).status === 0;
if (!hasPil) console.warn(`[skip] Pillow parity of the ImageNet transforms: ${PYTHON} cannot import PIL and numpy`);

describe.skipIf(!hasPil)('against Pillow (torchvision resized_crop / Resize + CenterCrop on PIL images)', () => {
  it('is bit-identical where it enlarges (Pillow path) and within rounding where it shrinks (libvips)', async () => {
    const [w, h] = [333, 250];
    const raw = Buffer.alloc(w * h * 3);
    const rng = new Rng(11);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) raw.set([(x + y) & 255, (3 * x) & 255, rng.nextInt(256)], (y * w + x) * 3);
    }
    const file = path.join(tmp, 'parity.jpg');
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
    const input = readFileSync(file);
    const jobs: { mode: 'train' | 'eval'; box: CropBox; flipped: boolean; resampler: string }[] = [];
    const outs: Buffer[] = [];
    for (let seed = 0; seed < 24; seed++) {
      const r = await preprocessImage(input, 'train', new Rng(seed));
      jobs.push({ mode: 'train', box: r.box, flipped: r.flipped, resampler: r.resampler });
      outs.push(r.pixels);
    }
    const small = path.join(tmp, 'parity-small.png'); // shorter side < 256: the eval path enlarges
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).extract({ left: 0, top: 0, width: 200, height: 150 }).png().toFile(small);
    for (const f of [file, small]) {
      const r = await preprocessImage(readFileSync(f), 'eval', null);
      jobs.push({ mode: 'eval', box: r.box, flipped: false, resampler: r.resampler });
      outs.push(r.pixels);
    }
    expect(new Set(jobs.map((j) => j.resampler))).toEqual(new Set(['pillow', 'libvips']));
    writeFileSync(path.join(tmp, 'parity.bin'), Buffer.concat(outs));
    writeFileSync(path.join(tmp, 'parity.json'), JSON.stringify({ files: [file, small], jobs }));
    const script = `
import json, sys, numpy as np
from PIL import Image
d = json.load(open(sys.argv[1] + '/parity.json'))
ours = np.fromfile(sys.argv[1] + '/parity.bin', np.uint8).reshape(-1, 224, 224, 3).astype(int)
res = []
ev = 0
for k, j in enumerate(d['jobs']):
    if j['mode'] == 'train':
        b = j['box']
        im = Image.open(d['files'][0]).convert('RGB').crop((b['left'], b['top'], b['left'] + b['width'], b['top'] + b['height']))
        im = im.resize((224, 224), Image.BILINEAR)
        if j['flipped']: im = im.transpose(Image.FLIP_LEFT_RIGHT)
    else:
        im = Image.open(d['files'][ev]).convert('RGB'); ev += 1
        w, h = im.size
        s, l = (w, h) if w <= h else (h, w)
        nw, nh = (256, int(256 * l / s)) if w <= h else (int(256 * l / s), 256)
        im = im.resize((nw, nh), Image.BILINEAR)
        t, le = int(round((nh - 224) / 2.0)), int(round((nw - 224) / 2.0))
        im = im.crop((le, t, le + 224, t + 224))
    diff = np.abs(np.asarray(im).astype(int) - ours[k])
    res.append([int(diff.max()), float(diff.mean())])
print(json.dumps(res))
`;
    const res = JSON.parse(execFileSync(PYTHON, ['-c', script, tmp], { encoding: 'utf8' })) as [number, number][];
    jobs.forEach((j, k) => {
      const [max, mean] = res[k];
      if (j.resampler === 'pillow') expect({ k, ...j, max }).toEqual({ k, ...j, max: 0 });
      else expect(mean).toBeLessThan(1);
    });
  });
});

describe('BatchLoader over encoded files', () => {
  const root = path.join(tmp, 'tree');
  const sizes: [string, number, number][] = [
    ['ant/a.jpg', 320, 240],
    ['ant/b.JPEG', 240, 320],
    ['bee/c.png', 500, 90],
    ['bee/sub/d.jpg', 90, 90],
    ['cat/e.jpg', 640, 480],
  ];
  beforeAll(async () => {
    for (const [rel, w, h] of sizes) {
      const file = path.join(root, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      const img = sharp(pattern(w, h), { raw: { width: w, height: h, channels: 3 } });
      await (rel.endsWith('.png') ? img.png() : img.jpeg({ quality: 85 })).toFile(file);
    }
  });

  const bytes = (b: Batch[]) => Buffer.concat(b.map((x) => Buffer.from(x.images)));

  it('lists class folders, decodes variable-size files to 224x224x3 batches, reproducibly', async () => {
    const src = await listEncodedFolder(root);
    expect(src.classNames).toEqual(['ant', 'bee', 'cat']);
    expect(Array.from(src.labels)).toEqual([0, 0, 1, 1, 2]);
    const ds = new EncodedImageDataset(src);
    expect([ds.height, ds.width, ds.channels, ds.size]).toEqual([224, 224, 3, 5]);
    const epoch = async (seed: number, prefetch = 2) => {
      const L = new BatchLoader(ds, { batchSize: 2, seed, augment: 'imagenet', prefetch });
      const out: Batch[] = [];
      for await (const b of L.epoch(0)) out.push(b);
      return out;
    };
    const a = await epoch(3);
    expect(a.map((b) => b.n)).toEqual([2, 2, 1]);
    const seen = a.flatMap((b) => Array.from(b.indices)).sort();
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    for (const b of a) {
      expect(b.images.length).toBe(b.n * 224 * 224 * 3);
      for (let k = 0; k < b.n; k++) expect(b.labels[k]).toBe(src.labels[b.indices[k]]);
    }
    expect(bytes(await epoch(3)).equals(bytes(a))).toBe(true);
    expect(bytes(await epoch(3, 0)).equals(bytes(a))).toBe(true); // built one at a time: same bytes
    expect(bytes(await epoch(4)).equals(bytes(a))).toBe(false);
  });

  it("fullPass (augment 'none') gives the eval transform of every file, in order", async () => {
    const ds = new EncodedImageDataset(await listEncodedFolder(root));
    const out: Batch[] = [];
    for await (const b of fullPass(ds, 3)) out.push(b);
    expect(out.map((b) => b.n)).toEqual([3, 2]);
    const all = bytes(out);
    const { readFile } = await import('node:fs/promises');
    // JPEGs take the native path, the PNG sharp's (test/data/jpeg-batch.test.ts checks both against Pillow).
    for (let i = 0; i < ds.size; i++) {
      const file = ds.source.filePath(i);
      const input = await readFile(file);
      let want: Uint8Array;
      if (file.endsWith('.png')) want = (await preprocessImage(input, 'eval', null)).pixels;
      else {
        want = new Uint8Array(224 * 224 * 3);
        const [o] = await preprocessJpegBatch([{ input, mode: 'eval', rng: null }], want, 1);
        expect(o.ok).toBe(true);
      }
      expect(all.subarray(i * 224 * 224 * 3, (i + 1) * 224 * 224 * 3).equals(Buffer.from(want))).toBe(true);
    }
  });

  it('refuses augmentations that do not fit the dataset', async () => {
    const ds = new EncodedImageDataset(await listEncodedFolder(root));
    expect(() => new BatchLoader(ds, { batchSize: 2, augment: 'cifar' })).toThrow(/'cifar' needs fixed-size in-memory images/);
    const mem = new MemoryDataset({ name: 'mem', height: 2, width: 2, channels: 3, classNames: ['a'], labels: new Int32Array(1), pixels: new Uint8Array(12) });
    expect(() => new BatchLoader(mem, { batchSize: 1, augment: 'imagenet' })).toThrow(/'imagenet'.*image files decoded per batch/);
    expect(() => ds.readImage(0)).toThrow(/decoded per batch/);
  });
});

describe('Limiter (the decoder\'s shared in-flight limit)', () => {
  it('runs at most `limit` tasks at once, starting them in call order, and frees slots on failure', async () => {
    const lim = new Limiter(2);
    const started: number[] = [];
    let peak = 0;
    const task = (i: number) =>
      lim.run(async () => {
        started.push(i);
        peak = Math.max(peak, lim.active);
        await new Promise((r) => setTimeout(r, 2 + (i % 3)));
        if (i === 3) throw new Error('task 3 fails');
        return i;
      });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => task(i)));
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(peak).toBe(2);
    expect(results.filter((r) => r.status === 'rejected').length).toBe(1);
    expect(lim.active).toBe(0);
  });
});

const sample = sharedArchive('imagenet-sample-100');
if (!sample) console.warn('skipping the ImageNet sample test: ../shared/datasets/imagenet-sample-100.tar.gz not found');

describe('ImageNet sample (shared dataset)', () => {
  it.skipIf(!sample)('decodes all 100 full-size JPEGs in both modes', async () => {
    const root = await sharedDataset('imagenet-sample-100');
    const ds = new EncodedImageDataset(await listEncodedFolder(root!));
    expect([ds.size, ds.numClasses]).toEqual([100, 100]);
    for (const augment of ['imagenet', 'none'] as const) {
      const L = new BatchLoader(ds, { batchSize: 50, augment, seed: 0, shuffle: false });
      let n = 0;
      for await (const b of L.epoch(0)) {
        expect(b.images.length).toBe(b.n * 224 * 224 * 3);
        n += b.n;
      }
      expect(n).toBe(100);
    }
    expect(ds.skippedFiles).toBe(0);
  });
});
