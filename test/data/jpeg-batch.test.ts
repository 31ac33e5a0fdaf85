// The native JPEG path of the ImageNet transforms (lib/data/jpeg-batch.ts, native/jpeg_resize.cc):
// bit-identical to torchvision on PIL images (Pillow decode + crop + BILINEAR resize + flip) on
// the real ImageNet sample and Tiny ImageNet files, the same boxes as the sharp path, and the
// files it does not take (PNG, CMYK, truncated, garbage) handed back with a reason.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { EncodedImageDataset } from '../../lib/data/encoded.js';
import { listEncodedFolder } from '../../lib/data/encoded-folder.js';
import { preprocessImage } from '../../lib/data/imagenet-preprocess.js';
import { type JpegBatchItem, preprocessJpegBatch } from '../../lib/data/jpeg-batch.js';
import { Rng } from '../../lib/data/rng.js';
import { sharedDataset } from '../../lib/data/shared-datasets.js';
import { loadNative } from '../../lib/native.js';

const PYTHON = process.env.SKIPNET_PYTHON ?? '/usr/bin/python3';
const hasPil = spawnSync(PYTHON, ['-c', 'import PIL, numpy'], { stdio: 'ignore' }).status === 0;
if (!hasPil) console.warn(`[skip] Pillow parity of the native JPEG path: ${PYTHON} cannot import PIL and numpy`);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-jpeg-batch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const CROP = 224 * 224 * 3;

interface Job {
  file: string;
  mode: 'train' | 'eval';
  box: { left: number; top: number; width: number; height: number } | null;
  flipped: boolean;
}

/** torchvision's transforms on PIL images, for each job; returns [max, mean] |ours - Pillow| per job. */
function pillowDiff(jobs: Job[], ours: Uint8Array): [number, number][] {
  writeFileSync(path.join(tmp, 'ours.bin'), ours);
  writeFileSync(path.join(tmp, 'jobs.json'), JSON.stringify(jobs));
  const script = `
import json, sys, numpy as np
from PIL import Image
jobs = json.load(open(sys.argv[1] + '/jobs.json'))
ours = np.fromfile(sys.argv[1] + '/ours.bin', np.uint8).reshape(-1, 224, 224, 3).astype(int)
res = []
for k, j in enumerate(jobs):
    im = Image.open(j['file']).convert('RGB')
    if j['mode'] == 'train':
        b = j['box']
        im = im.crop((b['left'], b['top'], b['left'] + b['width'], b['top'] + b['height'])).resize((224, 224), Image.BILINEAR)
        if j['flipped']: im = im.transpose(Image.FLIP_LEFT_RIGHT)
    else:
        w, h = im.size
        nw, nh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
        im = im.resize((nw, nh), Image.BILINEAR)
        t, le = int(round((nh - 224) / 2.0)), int(round((nw - 224) / 2.0))
        im = im.crop((le, t, le + 224, t + 224))
    d = np.abs(np.asarray(im).astype(int) - ours[k])
    res.append([int(d.max()), float(d.mean())])
print(json.dumps(res))
`;
  return JSON.parse(execFileSync(PYTHON, ['-c', script, tmp], { encoding: 'utf8', maxBuffer: 1 << 26 })) as [number, number][];
}

/** Runs every file through the native path in train mode (seeded by position) and eval mode. */
async function nativeJobs(files: string[]): Promise<{ jobs: Job[]; out: Uint8Array }> {
  const inputs = files.map((f) => readFileSync(f));
  const items: JpegBatchItem[] = [
    ...inputs.map((input, k) => ({ input, mode: 'train' as const, rng: new Rng(1000 + k) })),
    ...inputs.map((input) => ({ input, mode: 'eval' as const, rng: null })),
  ];
  const out = new Uint8Array(items.length * CROP);
  const outcomes = await preprocessJpegBatch(items, out, 2);
  const jobs: Job[] = [];
  for (let k = 0; k < items.length; k++) {
    const o = outcomes[k];
    if (!o.ok) throw new Error(`${files[k % files.length]} fell back: ${o.reason}`);
    const file = files[k % files.length];
    if (items[k].mode === 'train') {
      // The sharp path draws the same box and flip from the same seed.
      const ref = await preprocessImage(inputs[k], 'train', new Rng(1000 + k));
      expect(o.flipped).toBe(ref.flipped);
      jobs.push({ file, mode: 'train', box: ref.box, flipped: o.flipped });
    } else {
      jobs.push({ file, mode: 'eval', box: null, flipped: false });
    }
  }
  return { jobs, out };
}

describe.skipIf(!hasPil)('native JPEG path against Pillow (torchvision on PIL images)', () => {
  it('is bit-identical on the shared ImageNet sample (RandomResizedCrop + flip, and Resize 256 + CenterCrop 224)', async (ctx) => {
    const root = await sharedDataset('imagenet-sample-100');
    if (!root) return ctx.skip();
    const src = await listEncodedFolder(root);
    const files = Array.from({ length: src.size }, (_, i) => src.filePath(i));
    expect(files.length).toBe(100);
    const { jobs, out } = await nativeJobs(files);
    const diff = pillowDiff(jobs, out);
    const worst = diff.map(([max], k) => ({ k, file: path.basename(jobs[k].file), mode: jobs[k].mode, max })).filter((d) => d.max > 0);
    expect(worst).toEqual([]);
  }, 120_000);

  it('is bit-identical on Tiny ImageNet (64x64 files: every crop enlarges)', async (ctx) => {
    const root = await sharedDataset('tiny-imagenet-200-train-100');
    if (!root) return ctx.skip();
    const train = path.join(root, 'train');
    const list = readdirSync(train)
      .sort()
      .slice(0, 20)
      .flatMap((wnid) => readdirSync(path.join(train, wnid, 'images')).sort().slice(0, 3).map((f) => path.join(train, wnid, 'images', f)));
    expect(list.length).toBe(60);
    const { jobs, out } = await nativeJobs(list);
    const diff = pillowDiff(jobs, out);
    expect(diff.filter(([max]) => max > 0)).toEqual([]);
  }, 120_000);

  it('turns a grayscale JPEG into RGB exactly as Pillow convert("RGB")', async () => {
    const [w, h] = [300, 260];
    const raw = Buffer.alloc(w * h);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + (i % w)) & 255;
    const file = path.join(tmp, 'gray.jpg');
    await sharp(raw, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 90 }).toFile(file);
    expect((await sharp(file).metadata()).channels).toBe(1);
    const { jobs, out } = await nativeJobs([file]);
    expect(pillowDiff(jobs, out).map(([max]) => max)).toEqual([0, 0]);
  });
});

describe('native JPEG path: what it hands back', () => {
  it('hands back PNG, CMYK, truncated and garbage files with the reason, and decodes the rest', async () => {
    const [w, h] = [280, 250];
    const raw = Buffer.alloc(w * h * 3, 90);
    const good = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg().toBuffer();
    const png = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const cmyk = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer();
    const truncated = good.subarray(0, Math.floor(good.length * 0.6));
    const garbage = Buffer.concat([good.subarray(0, 200), Buffer.alloc(400, 0x41)]);
    const items: JpegBatchItem[] = [good, png, cmyk, truncated, garbage, null].map((input) => ({ input, mode: 'eval' as const, rng: null }));
    const out = new Uint8Array(items.length * CROP).fill(7);
    const r = await preprocessJpegBatch(items, out, 3);
    expect(r[0]).toEqual({ ok: true, flipped: false });
    expect(out.subarray(0, CROP).every((v) => Math.abs(v - 90) <= 2)).toBe(true);
    expect(r[1]).toEqual({ ok: false, reason: 'not a JPEG file with a readable frame header' });
    expect(r[2]).toEqual({ ok: false, reason: 'a JPEG the native path does not convert: CMYK JPEG' });
    expect(r[3]).toMatchObject({ ok: false, reason: expect.stringMatching(/^libjpeg rejected it: .*(Premature end|premature end)/) });
    expect(r[4]).toMatchObject({ ok: false, reason: expect.stringMatching(/^libjpeg rejected it: /) });
    expect(r[5]).toEqual({ ok: false, reason: 'no input' });
  });

  it('rejects inconsistent geometry with ERR_BAD_ARG before any work starts', () => {
    const native = loadNative();
    const input = Buffer.from([0xff, 0xd8, 0xff]);
    const out = new Uint8Array(CROP);
    const g = new Int32Array(14);
    g.set([100, 80, 0, 0, 100, 80, 224, 224, 0, 0, 224, 224, 0, 0]);
    expect(() => native.preprocessJpegBatch([input], g.subarray(0, 13), out, 1)).toThrow(/geometry holds 13 numbers, 1 images need 14/);
    const outside = g.slice();
    outside[4] = 101; // region wider than the image
    expect(() => native.preprocessJpegBatch([input], outside, out, 1)).toThrow(/region 101x80\+0\+0 is not inside the 100x80 image/);
    const overflow = g.slice();
    overflow[13] = 1; // the window would end past out
    expect(() => native.preprocessJpegBatch([input], overflow, out, 1)).toThrow(/does not fit in out/);
    expect(() => native.preprocessJpegBatch([input], g, out, 0)).toThrow(/threads must be an integer/);
    try {
      native.preprocessJpegBatch([input], outside, out, 1);
    } catch (e) {
      expect((e as { code?: string }).code).toBe('ERR_BAD_ARG');
    }
  });

  it('EncodedImageDataset: JPEGs through the native path, other files through sharp, same batch', async () => {
    const root = path.join(tmp, 'mixed');
    const [w, h] = [300, 240];
    const pattern = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) pattern.set([i & 255, (i >> 3) & 255, (i * 5) & 255], i * 3);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(root, 'a'), { recursive: true });
    const img = () => sharp(pattern, { raw: { width: w, height: h, channels: 3 } });
    await img().jpeg({ quality: 90 }).toFile(path.join(root, 'a', '1.jpg'));
    await img().png().toFile(path.join(root, 'a', '2.png'));
    await img().toColourspace('cmyk').jpeg().toFile(path.join(root, 'a', '3.jpg'));
    const ds = new EncodedImageDataset(await listEncodedFolder(root), { decodeThreads: 2 });
    const out = new Uint8Array(3 * CROP);
    const seeds = [5, 6, 7];
    const used = await ds.decodeImages({ indices: Int32Array.from([0, 1, 2]), out, augment: 'imagenet', seedOf: (k) => seeds[k] });
    expect(Array.from(used)).toEqual([0, 1, 2]);
    const files = [0, 1, 2].map((i) => readFileSync(ds.source.filePath(i)));
    const nativeOne = new Uint8Array(CROP);
    const [o] = await preprocessJpegBatch([{ input: files[0], mode: 'train', rng: new Rng(5) }], nativeOne, 1);
    expect(o.ok).toBe(true);
    expect(Buffer.from(out.subarray(0, CROP)).equals(Buffer.from(nativeOne))).toBe(true);
    for (const k of [1, 2]) {
      const viaSharp = await preprocessImage(files[k], 'train', new Rng(seeds[k]));
      expect(Buffer.from(out.subarray(k * CROP, (k + 1) * CROP)).equals(viaSharp.pixels)).toBe(true);
    }
  });
});
