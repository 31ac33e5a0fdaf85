// Crop boxes of the ImageNet pipeline (spec section 7), as torchvision 0.14 computes them;
// pure arithmetic, no pixels, so that the geometry can be tested on its own.
//
//   training:   RandomResizedCrop(224, scale=(0.08, 1), ratio=(3/4, 4/3)): up to 10 tries of
//               (area fraction, log-uniform aspect ratio); the first box that fits is used,
//               else the fallback: the largest centred box whose ratio is clamped into range.
//   evaluation: Resize(256) (shorter side to 256, longer side truncated as torchvision does),
//               then CenterCrop(224).
//
// Python's round() rounds halves to even; roundHalfEven reproduces that, so box sizes match
// torchvision's for the same random draws.
import type { Rng } from './rng.js';

/** A crop in source pixel coordinates: columns left..left+width-1, rows top..top+height-1. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface RandomResizedCropParams {
  /** Range of the crop's area as a fraction of the image's area (default [0.08, 1]). */
  scale?: readonly [number, number];
  /** Range of the crop's width/height (default [3/4, 4/3]), sampled log-uniformly. */
  ratio?: readonly [number, number];
}

export const IMAGENET_SCALE: readonly [number, number] = [0.08, 1];
export const IMAGENET_RATIO: readonly [number, number] = [3 / 4, 4 / 3];
/** Tries before the centre-crop fallback, as torchvision. */
export const RRC_ATTEMPTS = 10;

/** Python 3's round(): to the nearest integer, halves to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function checkSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${what}: image size must be positive integers, got ${width}x${height}`);
  }
}

/**
 * torchvision's RandomResizedCrop.get_params on a width x height image. Draw order per try:
 * area fraction, then log aspect ratio; then, for the accepted box, top and left. The fallback
 * draws nothing more.
 */
export function randomResizedCropBox(rng: Rng, width: number, height: number, params: RandomResizedCropParams = {}): CropBox {
  checkSize(width, height, 'randomResizedCropBox');
  const [sLo, sHi] = params.scale ?? IMAGENET_SCALE;
  const [rLo, rHi] = params.ratio ?? IMAGENET_RATIO;
  if (!(sLo > 0 && sLo <= sHi && sHi <= 1)) throw new RangeError(`randomResizedCropBox: scale must satisfy 0 < lo <= hi <= 1, got [${sLo}, ${sHi}]`);
  if (!(rLo > 0 && rLo <= rHi)) throw new RangeError(`randomResizedCropBox: ratio must satisfy 0 < lo <= hi, got [${rLo}, ${rHi}]`);
  const area = width * height;
  const logLo = Math.log(rLo);
  const logHi = Math.log(rHi);
  for (let attempt = 0; attempt < RRC_ATTEMPTS; attempt++) {
    const targetArea = area * (sLo + (sHi - sLo) * rng.nextFloat());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.nextFloat());
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.nextInt(height - h + 1);
      const left = rng.nextInt(width - w + 1);
      return { left, top, width: w, height: h };
    }
  }
  // Fallback: the whole image, narrowed to the nearest allowed aspect ratio, centred.
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < rLo) {
    h = roundHalfEven(w / rLo);
  } else if (inRatio > rHi) {
    w = roundHalfEven(h * rHi);
  }
  // Rounding can overshoot by one on extreme shapes; the box must stay inside the image.
  w = Math.max(1, Math.min(width, w));
  h = Math.max(1, Math.min(height, h));
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/** torchvision Resize(size) with an int size: the shorter side becomes `size`, the longer one is scaled and truncated. */
export function resizeShorterSide(width: number, height: number, size: number): { width: number; height: number } {
  checkSize(width, height, 'resizeShorterSide');
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`resizeShorterSide: size must be a positive integer, got ${size}`);
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** torchvision CenterCrop(crop) of a width x height image (which must be at least crop x crop). */
export function centerCropBox(width: number, height: number, crop: number): CropBox {
  checkSize(width, height, 'centerCropBox');
  if (width < crop || height < crop) throw new RangeError(`centerCropBox: a ${crop}x${crop} crop does not fit a ${width}x${height} image`);
  return { left: roundHalfEven((width - crop) / 2), top: roundHalfEven((height - crop) / 2), width: crop, height: crop };
}

/** The evaluation transform's geometry: the resized size, then the centre crop inside it. */
export function evalResizeCrop(
  width: number,
  height: number,
  resize: number,
  crop: number,
): { resized: { width: number; height: number }; crop: CropBox } {
  if (resize < crop) throw new RangeError(`evalResizeCrop: resize size ${resize} is below the crop size ${crop}`);
  const resized = resizeShorterSide(width, height, resize);
  return { resized, crop: centerCropBox(resized.width, resized.height, crop) };
}
