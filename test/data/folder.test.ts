import { mkdtempSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeImage, readImageFolder } from '../../lib/data/folder.js';
import { openDataset } from '../../lib/data/open.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-folder-'));
const cacheDir = path.join(tmp, 'cache');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const H = 4;
const W = 6;
/** RGB value written to image `id` at (y, x, ch). */
const val = (id: number, y: number, x: number, ch: number): number => (id * 40 + y * 23 + x * 9 + ch * 70) & 255;

function rgb(id: number, h = H, w = W): Buffer {
  const b = Buffer.alloc(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < 3; ch++) b[(y * w + x) * 3 + ch] = val(id, y, x, ch);
  return b;
}

/** A smooth colour image (JPEG-friendly). */
function smooth(): Buffer {
  const b = Buffer.alloc(H * W * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) b.set([200 - 4 * x, 100 + 3 * y, 50 + 2 * x], (y * W + x) * 3);
  return b;
}

async function png(file: string, id: number, h = H, w = W): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  await sharp(rgb(id, h, w), { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
}

/**
 * root/train: cat/{a.png,b.png}, dog/{c.png, gray.jpg, rgba.PNG}, emu/{d.JPEG, notes.txt}
 * (class order: cat=0, dog=1, emu=2)
 */
async function makeTree(root: string): Promise<void> {
  await png(path.join(root, 'train/cat/a.png'), 1);
  await png(path.join(root, 'train/cat/b.png'), 2);
  await png(path.join(root, 'train/dog/c.png'), 3);
  // A grayscale JPEG: a smooth ramp so that JPEG loss stays small.
  const g = Buffer.alloc(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) g[y * W + x] = 60 + 10 * x + 5 * y;
  await sharp(g, { raw: { width: W, height: H, channels: 1 } }).jpeg({ quality: 95 }).toFile(path.join(root, 'train/dog/gray.jpg'));
  // RGBA PNG: alpha must be dropped, colour kept.
  const rgba = Buffer.alloc(H * W * 4);
  for (let p = 0; p < H * W; p++) rgba.set([10, 20, 30, p * 10], p * 4);
  await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toFile(path.join(root, 'train/dog/rgba.PNG'));
  mkdirSync(path.join(root, 'train/emu'), { recursive: true });
  await sharp(smooth(), { raw: { width: W, height: H, channels: 3 } })
    .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
    .toFile(path.join(root, 'train/emu/d.JPEG'));
  writeFileSync(path.join(root, 'train/emu/notes.txt'), 'not an image');
}

function image(ds: { readImage(i: number, o: Uint8Array, off: number): void; height: number; width: number; channels: number }, i: number): Uint8Array {
  const out = new Uint8Array(ds.height * ds.width * ds.channels);
  ds.readImage(i, out, 0);
  return out;
}

describe('folder reader', () => {
  const root = path.join(tmp, 'tree');
  beforeAll(() => makeTree(root));

  it('decodes PNG/JPEG (incl. grayscale, RGBA) to RGB HWC with sorted class folders', async () => {
    const ds = await readImageFolder(root, 'train', { cacheDir });
    expect(ds.classNames).toEqual(['cat', 'dog', 'emu']);
    expect(ds.size).toBe(6);
    expect([ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([H, W, 3, 3]);
    expect(ds.files.map((f) => path.relative(path.join(root, 'train'), f))).toEqual([
      'cat/a.png',
      'cat/b.png',
      'dog/c.png',
      'dog/gray.jpg',
      'dog/rgba.PNG',
      'emu/d.JPEG',
    ]);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 1, 1, 2]);
    expect(ds.fromCache).toBe(false);
    expect(ds.skipped).toEqual([]);
    // PNG is lossless: exact pixels at HWC positions.
    for (const [i, id] of [
      [0, 1],
      [1, 2],
      [2, 3],
    ]) {
      const img = image(ds, i);
      expect(img[(2 * W + 5) * 3 + 1]).toBe(val(id, 2, 5, 1));
      expect(Array.from(img)).toEqual(Array.from(rgb(id)));
    }
    // Grayscale JPEG -> 3 equal channels close to the ramp.
    const gray = image(ds, 3);
    for (let p = 0; p < H * W; p++) {
      expect(gray[p * 3]).toBe(gray[p * 3 + 1]);
      expect(gray[p * 3]).toBe(gray[p * 3 + 2]);
    }
    expect(Math.abs(gray[(1 * W + 2) * 3] - (60 + 20 + 5))).toBeLessThanOrEqual(6);
    // RGBA PNG -> alpha dropped.
    const rgba = image(ds, 4);
    expect(Array.from(rgba.subarray(0, 6))).toEqual([10, 20, 30, 10, 20, 30]);
    // JPEG q100 colour image: close to the source.
    const jpg = image(ds, 5);
    const src = smooth();
    let maxDiff = 0;
    for (let k = 0; k < src.length; k++) maxDiff = Math.max(maxDiff, Math.abs(jpg[k] - src[k]));
    expect(maxDiff).toBeLessThanOrEqual(4);
  });

  it('serves the second open from the cache, and notices a changed file', async () => {
    const a = await readImageFolder(root, 'train', { cacheDir });
    const b = await readImageFolder(root, 'train', { cacheDir });
    expect(b.fromCache).toBe(true);
    expect(b.cacheFile).toBe(a.cacheFile);
    expect(path.dirname(b.cacheFile!)).toBe(path.join(cacheDir, 'decoded'));
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    expect(b.classNames).toEqual(a.classNames);
    expect(b.files).toEqual(a.files);
    for (let i = 0; i < a.size; i++) expect(Array.from(image(b, i))).toEqual(Array.from(image(a, i)));
    // Rewrite one file with other pixels (and a new mtime): the cache must not be used.
    await png(path.join(root, 'train/cat/b.png'), 9);
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(root, 'train/cat/b.png'), later, later);
    const c = await readImageFolder(root, 'train', { cacheDir });
    expect(c.fromCache).toBe(false);
    expect(Array.from(image(c, 1))).toEqual(Array.from(rgb(9)));
    await png(path.join(root, 'train/cat/b.png'), 2);
    // cache: false never reads or writes.
    const d = await readImageFolder(root, 'train', { cacheDir, cache: false });
    expect(d.fromCache).toBe(false);
    expect(d.cacheFile).toBeNull();
  });

  it('ignores a truncated cache file', async () => {
    const a = await readImageFolder(root, 'train', { cacheDir });
    writeFileSync(a.cacheFile!, Buffer.from('SKPNIMG1'));
    const b = await readImageFolder(root, 'train', { cacheDir });
    expect(b.fromCache).toBe(false);
    expect(Array.from(image(b, 0))).toEqual(Array.from(rgb(1)));
    expect((await readImageFolder(root, 'train', { cacheDir })).fromCache).toBe(true);
  });

  it('names a corrupt image; skipBad skips and lists it', async () => {
    const r = path.join(tmp, 'corrupt');
    await makeTree(r);
    const bad = path.join(r, 'train/dog/broken.jpg');
    writeFileSync(bad, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8]));
    await expect(readImageFolder(r, 'train', { cacheDir })).rejects.toThrow(new RegExp(`cannot decode ${bad.replace(/[.]/g, '\\.')}`));
    await expect(readImageFolder(r, 'train', { cacheDir })).rejects.toThrow(/set data\.badFiles to 'skip'/);
    const ds = await readImageFolder(r, 'train', { cacheDir, skipBad: true });
    expect(ds.skipped).toEqual([bad]);
    expect(ds.skippedFiles).toBe(1);
    expect(ds.size).toBe(6);
    expect(ds.files).not.toContain(bad);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 1, 1, 2]);
    expect(Array.from(image(ds, 5).subarray(0, 3))).toEqual(Array.from(image(await readImageFolder(root, 'train', { cacheDir }), 5).subarray(0, 3)));
    // From the cache: still skipped with skipBad, still an error without it.
    const again = await readImageFolder(r, 'train', { cacheDir, skipBad: true });
    expect(again.fromCache).toBe(true);
    expect(again.skipped).toEqual([bad]);
    expect(again.skippedFiles).toBe(1);
    await expect(readImageFolder(r, 'train', { cacheDir })).rejects.toThrow(/broken\.jpg[\s\S]*set data\.badFiles to 'skip'/);
  });

  it('rejects an empty class folder and a missing split, naming them', async () => {
    const r = path.join(tmp, 'empty');
    await png(path.join(r, 'train/a/x.png'), 1);
    mkdirSync(path.join(r, 'train/b'), { recursive: true });
    writeFileSync(path.join(r, 'train/b/readme.txt'), 'x');
    await expect(readImageFolder(r, 'train', { cacheDir })).rejects.toThrow(new RegExp(`class folder ${path.join(r, 'train/b')} has no images`));
    await expect(readImageFolder(r, 'test', { cacheDir })).rejects.toThrow(new RegExp(`${path.join(r, 'test')} does not exist`));
  });

  it('rejects mixed sizes unless a size is given, then resizes', async () => {
    const r = path.join(tmp, 'mixed');
    await png(path.join(r, 'test/a/x.png'), 1);
    await png(path.join(r, 'test/b/y.png'), 2, 8, 8);
    await expect(readImageFolder(r, 'test', { cacheDir })).rejects.toThrow(/y\.png is 8x8 .* 6x4.*size option/);
    const ds = await openDataset({ kind: 'folder', root: r }, 'test', { cacheDir, size: [5, 7] });
    expect([ds.size, ds.height, ds.width, ds.channels]).toEqual([2, 5, 7, 3]);
    const sq = await readImageFolder(r, 'test', { cacheDir, size: 3 });
    expect([sq.height, sq.width]).toEqual([3, 3]);
    // A uniform image stays uniform after resizing.
    const u = path.join(tmp, 'uniform');
    mkdirSync(path.join(u, 'train/k'), { recursive: true });
    await sharp({ create: { width: 9, height: 5, channels: 3, background: { r: 200, g: 100, b: 50 } } })
      .png()
      .toFile(path.join(u, 'train/k/z.png'));
    const ud = await readImageFolder(u, 'train', { cacheDir, size: 4 });
    expect(Array.from(image(ud, 0).subarray(0, 6))).toEqual([200, 100, 50, 200, 100, 50]);
  });

  it('converts a CMYK JPEG to RGB', async () => {
    const r = path.join(tmp, 'cmyk');
    mkdirSync(path.join(r, 'train/c'), { recursive: true });
    await sharp({ create: { width: W, height: H, channels: 3, background: { r: 200, g: 100, b: 50 } } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toFile(path.join(r, 'train/c/cmyk.jpg'));
    expect((await sharp(path.join(r, 'train/c/cmyk.jpg')).metadata()).space).toBe('cmyk');
    const ds = await readImageFolder(r, 'train', { cacheDir });
    expect(ds.channels).toBe(3);
    const [R, G, B] = image(ds, 0);
    // CMYK -> sRGB goes through ICC profiles, so allow some colour shift.
    expect(Math.abs(R - 200)).toBeLessThan(12);
    expect(Math.abs(G - 100)).toBeLessThan(12);
    expect(Math.abs(B - 50)).toBeLessThan(35);
  });

  it('grouped decoding gives the same pixels as one-by-one decoding, and still names a bad file', async () => {
    const r = path.join(tmp, 'group');
    const dir = path.join(r, 'train/k');
    mkdirSync(dir, { recursive: true });
    const W2 = 8;
    const H2 = 8;
    const noisy = (id: number): Buffer => {
      const b = Buffer.alloc(H2 * W2 * 3);
      for (let k = 0; k < b.length; k++) b[k] = (id * 31 + k * 17 + ((k * k) % 13)) & 255;
      return b;
    };
    const raw = (id: number) => sharp(noisy(id), { raw: { width: W2, height: H2, channels: 3 } });
    for (let id = 0; id < 6; id++) await raw(id).jpeg({ quality: 80 }).toFile(path.join(dir, `a${id}.jpg`));
    await raw(6).jpeg({ quality: 80, progressive: true }).toFile(path.join(dir, 'b-progressive.jpg'));
    await raw(7).png().toFile(path.join(dir, 'c.png'));
    await raw(8).png().toFile(path.join(dir, 'd.png'));
    await raw(9).jpeg({ quality: 80 }).withIccProfile('p3').toFile(path.join(dir, 'e-icc.jpg'));
    await sharp(noisy(10).subarray(0, H2 * W2), { raw: { width: W2, height: H2, channels: 1 } }).jpeg().toFile(path.join(dir, 'f-gray.jpg'));
    const jpg = await raw(11).jpeg({ quality: 80 }).toBuffer();
    const png = await raw(11).png().toBuffer();
    expect(probeImage(jpg)).toEqual({ width: W2, height: H2, plainRgb: true });
    expect(probeImage(png)).toEqual({ width: W2, height: H2, plainRgb: true });
    expect(probeImage(await raw(9).jpeg().withIccProfile('p3').toBuffer())?.plainRgb).toBe(false);
    expect(probeImage(Buffer.from('not an image'))).toBeNull();

    const grouped = await readImageFolder(r, 'train', { cache: false });
    const single = await readImageFolder(r, 'train', { cache: false, groupDecode: false });
    expect(grouped.size).toBe(11);
    expect(Buffer.compare(Buffer.from(grouped.pixels), Buffer.from(single.pixels))).toBe(0);
    expect(Array.from(image(grouped, 7))).toEqual(Array.from(noisy(7))); // PNG exact
    // With a size option equal to the native size, grouped (no resize) equals resize-to-same-size.
    const sized = await readImageFolder(r, 'train', { cache: false, size: [H2, W2] });
    const sizedSingle = await readImageFolder(r, 'train', { cache: false, size: [H2, W2], groupDecode: false });
    expect(Buffer.compare(Buffer.from(sized.pixels), Buffer.from(sizedSingle.pixels))).toBe(0);
    expect(Buffer.compare(Buffer.from(sized.pixels), Buffer.from(single.pixels))).toBe(0);

    // A JPEG whose header is intact but whose data is cut short sits in a decode group.
    writeFileSync(path.join(dir, 'a3.jpg'), jpg.subarray(0, Math.floor(jpg.length / 2)));
    expect(probeImage(jpg.subarray(0, Math.floor(jpg.length / 2)))?.plainRgb).toBe(true);
    await expect(readImageFolder(r, 'train', { cache: false })).rejects.toThrow(/cannot decode .*a3\.jpg/);
    const skipping = await readImageFolder(r, 'train', { cache: false, skipBad: true });
    expect(skipping.skipped).toEqual([path.join(dir, 'a3.jpg')]);
    expect(skipping.size).toBe(10);
    expect(Array.from(image(skipping, 3))).toEqual(Array.from(image(single, 4))); // a4 moved up one place
  });

  it('collects images in nested folders under a class (Tiny ImageNet layout)', async () => {
    const r = path.join(tmp, 'nested');
    await png(path.join(r, 'train/n01/images/n01_0.JPEG.png'), 1);
    await png(path.join(r, 'train/n01/images/n01_1.png'), 2);
    await png(path.join(r, 'train/n02/images/n02_0.png'), 3);
    const ds = await readImageFolder(r, 'train', { cacheDir });
    expect(ds.classNames).toEqual(['n01', 'n02']);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1]);
    expect(readdirSync(path.join(cacheDir, 'decoded')).some((f) => f.includes('.tmp-'))).toBe(false);
  });
});
