import { describe, expect, it } from 'vitest';
import { augmentImage, cropFlip, drawCropFlip, type CropFlip } from '../../lib/data/augment.js';
import { Rng } from '../../lib/data/rng.js';

/** Distinct non-zero bytes so that zero padding is recognisable. */
function makeImage(h: number, w: number, c: number): Uint8Array {
  const img = new Uint8Array(h * w * c);
  for (let k = 0; k < img.length; k++) img[k] = 1 + ((k * 7) % 251);
  return img;
}

/** Reference: build the zero-padded image explicitly, crop it, then mirror (torchvision order). */
function reference(src: Uint8Array, h: number, w: number, c: number, p: CropFlip, pad: number): Uint8Array {
  const ph = h + 2 * pad;
  const pw = w + 2 * pad;
  const padded = new Uint8Array(ph * pw * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) padded[((y + pad) * pw + x + pad) * c + ch] = src[(y * w + x) * c + ch];
  const crop = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) crop[(y * w + x) * c + ch] = padded[((y + p.dy) * pw + x + p.dx) * c + ch];
  if (!p.flip) return crop;
  const out = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) out[(y * w + x) * c + ch] = crop[(y * w + (w - 1 - x)) * c + ch];
  return out;
}

function apply(src: Uint8Array, h: number, w: number, c: number, p: CropFlip, pad = 4): Uint8Array {
  const dst = new Uint8Array(h * w * c + 10).fill(77); // guard bytes around the image
  cropFlip(src, 0, dst, 5, h, w, c, p, pad);
  expect(Array.from(dst.subarray(0, 5))).toEqual([77, 77, 77, 77, 77]);
  expect(Array.from(dst.subarray(5 + h * w * c))).toEqual([77, 77, 77, 77, 77]);
  return dst.subarray(5, 5 + h * w * c);
}

describe('CIFAR augmentation (RandomCrop 4 px zero padding + horizontal flip)', () => {
  const H = 32;
  const W = 32;
  const C = 3;
  const src = makeImage(H, W, C);
  const at = (img: Uint8Array, y: number, x: number, ch: number, w = W, c = C): number => img[(y * w + x) * c + ch];

  it('centre crop without flip is the identity', () => {
    expect(Array.from(apply(src, H, W, C, { dy: 4, dx: 4, flip: false }))).toEqual(Array.from(src));
  });

  it('flip is an exact left-right mirror', () => {
    const out = apply(src, H, W, C, { dy: 4, dx: 4, flip: true });
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let ch = 0; ch < C; ch++) {
      if (at(out, y, x, ch) !== at(src, y, W - 1 - x, ch)) throw new Error(`mirror mismatch at ${y},${x},${ch}`);
    }
    // Flipping twice gives the original back.
    expect(Array.from(apply(out, H, W, C, { dy: 4, dx: 4, flip: true }))).toEqual(Array.from(src));
  });

  it('crop offsets shift the image and leave a zero border', () => {
    // dy = dx = 0: the window starts 4 px above/left of the image: rows/cols 0..3 are padding.
    const tl = apply(src, H, W, C, { dy: 0, dx: 0, flip: false });
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let ch = 0; ch < C; ch++) {
      const want = y < 4 || x < 4 ? 0 : at(src, y - 4, x - 4, ch);
      if (at(tl, y, x, ch) !== want) throw new Error(`top-left crop mismatch at ${y},${x},${ch}`);
    }
    expect(at(tl, 3, 10, 0)).toBe(0);
    expect(at(tl, 4, 4, 2)).toBe(at(src, 0, 0, 2));
    // dy = dx = 8: bottom-right window: the last 4 rows/cols are padding.
    const br = apply(src, H, W, C, { dy: 8, dx: 8, flip: false });
    expect(at(br, 0, 0, 1)).toBe(at(src, 4, 4, 1));
    expect(at(br, 27, 27, 0)).toBe(at(src, 31, 31, 0));
    expect(at(br, 28, 5, 0)).toBe(0);
    expect(at(br, 5, 28, 2)).toBe(0);
    // Crop then flip: the padding lands on the left after mirroring a dx = 8 crop.
    const bf = apply(src, H, W, C, { dy: 4, dx: 8, flip: true });
    expect(at(bf, 10, 0, 0)).toBe(0);
    expect(at(bf, 10, 3, 0)).toBe(0);
    expect(at(bf, 10, 4, 0)).toBe(at(src, 10, 31, 0));
  });

  it('matches an explicit pad-crop-flip reference for every offset, also on non-square, 1-channel images', () => {
    for (const [h, w, c, pad] of [
      [32, 32, 3, 4],
      [7, 9, 3, 4],
      [5, 3, 1, 4],
      [6, 10, 2, 2],
    ]) {
      const img = makeImage(h, w, c);
      for (let dy = 0; dy <= 2 * pad; dy++)
        for (let dx = 0; dx <= 2 * pad; dx++)
          for (const flip of [false, true]) {
            const p = { dy, dx, flip };
            const got = apply(img, h, w, c, p, pad);
            const want = reference(img, h, w, c, p, pad);
            if (Buffer.compare(Buffer.from(got), Buffer.from(want)) !== 0) throw new Error(`mismatch ${h}x${w}x${c} ${JSON.stringify(p)}`);
          }
    }
  });

  it('draws offsets in 0..8 and flips about half the time, deterministically per seed', () => {
    const rng = new Rng(3);
    const seenDy = new Set<number>();
    const seenDx = new Set<number>();
    let flips = 0;
    for (let i = 0; i < 4000; i++) {
      const p = drawCropFlip(rng);
      seenDy.add(p.dy);
      seenDx.add(p.dx);
      if (p.flip) flips++;
    }
    expect([...seenDy].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...seenDx].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(flips / 4000).toBeGreaterThan(0.45);
    expect(flips / 4000).toBeLessThan(0.55);

    const run = (seed: number): Uint8Array => {
      const r = new Rng(seed);
      const out = new Uint8Array(10 * H * W * C);
      for (let k = 0; k < 10; k++) augmentImage('cifar', src, 0, out, k * H * W * C, H, W, C, r);
      return out;
    };
    expect(Buffer.compare(Buffer.from(run(5)), Buffer.from(run(5)))).toBe(0);
    expect(Buffer.compare(Buffer.from(run(5)), Buffer.from(run(6)))).not.toBe(0);
    // 'none' copies.
    const copy = new Uint8Array(H * W * C);
    augmentImage('none', src, 0, copy, 0, H, W, C, new Rng(0));
    expect(Array.from(copy)).toEqual(Array.from(src));
  });
});
