// CIFAR training augmentation on uint8 HWC images (the ImageNet one, which needs the encoded
// file, is in imagenet-preprocess.ts), as torchvision's
// RandomCrop(size, padding=4) (zero padding) followed by RandomHorizontalFlip(p=0.5):
//   padded = pad(img, 4 px of 0 on every side); crop (dy, dx) with dy, dx uniform in [0, 2*pad];
//   then mirror left-right with probability 0.5.
// Padded pixels are 0 in uint8 space (before normalisation), as PIL pads with 0.
import type { Augmentation } from './types.js';
import type { Rng } from './rng.js';

export const CIFAR_PAD = 4;

export interface CropFlip {
  dy: number; // crop row offset in the padded image, 0..2*pad
  dx: number; // crop column offset in the padded image, 0..2*pad
  flip: boolean;
}

/** Draw one RandomCrop + RandomHorizontalFlip parameter set (order: dy, dx, flip). */
export function drawCropFlip(rng: Rng, pad = CIFAR_PAD): CropFlip {
  const dy = rng.nextInt(2 * pad + 1);
  const dx = rng.nextInt(2 * pad + 1);
  const flip = rng.nextFloat() < 0.5;
  return { dy, dx, flip };
}

/**
 * Write the (h x w x c) crop at (dy, dx) of src zero-padded by `pad`, optionally mirrored, into dst.
 * out(y, x) = src(y + dy - pad, x' + dx - pad) with x' = flip ? w-1-x : x, or 0 outside src.
 */
export function cropFlip(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  h: number,
  w: number,
  c: number,
  p: CropFlip,
  pad = CIFAR_PAD,
): void {
  const oy = p.dy - pad;
  const ox = p.dx - pad;
  const rowBytes = w * c;
  for (let y = 0; y < h; y++) {
    const sy = y + oy;
    const drow = dstOff + y * rowBytes;
    if (sy < 0 || sy >= h) {
      dst.fill(0, drow, drow + rowBytes);
      continue;
    }
    const srow = srcOff + sy * rowBytes;
    // Source columns x + ox for x in [x0, x1) are inside the image.
    // (Clamped to [0, w]: with pad > w the whole row can fall in the padding.)
    const x0 = Math.min(w, Math.max(0, -ox));
    const x1 = Math.max(x0, Math.min(w, w - ox));
    if (!p.flip) {
      if (x0 > 0) dst.fill(0, drow, drow + x0 * c);
      if (x1 > x0) dst.set(src.subarray(srow + (x0 + ox) * c, srow + (x1 + ox) * c), drow + x0 * c);
      if (x1 < w) dst.fill(0, drow + x1 * c, drow + rowBytes);
    } else {
      // Output column x reads pre-flip column w-1-x.
      for (let x = 0; x < w; x++) {
        const u = w - 1 - x; // column of the unflipped crop
        const d = drow + x * c;
        if (u < x0 || u >= x1) {
          for (let ch = 0; ch < c; ch++) dst[d + ch] = 0;
        } else {
          const s = srow + (u + ox) * c;
          for (let ch = 0; ch < c; ch++) dst[d + ch] = src[s + ch];
        }
      }
    }
  }
}

/** Apply `aug` to one image (src -> dst, which must not overlap). */
export function augmentImage(
  aug: Augmentation,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  h: number,
  w: number,
  c: number,
  rng: Rng,
): void {
  if (aug === 'none') {
    dst.set(src.subarray(srcOff, srcOff + h * w * c), dstOff);
  } else if (aug === 'cifar') {
    cropFlip(src, srcOff, dst, dstOff, h, w, c, drawCropFlip(rng), CIFAR_PAD);
  } else if (aug === 'imagenet') {
    // RandomResizedCrop changes the image size and needs the source file: it runs in the
    // decoder (lib/data/imagenet-preprocess.ts), never on in-memory pixels.
    throw new Error("augmentation 'imagenet' runs while decoding image files (lib/data/encoded.ts), not on in-memory images");
  } else {
    throw new Error(`unknown augmentation ${JSON.stringify(aug)} (expected 'none', 'cifar' or 'imagenet')`);
  }
}
