// A deterministic synthetic image dataset for smoke tests and benchmarks. Each class has its own
// mean colour and an oriented sinusoidal grating (class-specific angle and frequency); each image
// adds a random grating phase, a brightness shift and per-pixel noise. A small CNN learns it well
// above chance within an epoch, and the same (seed, split, options) always gives the same bytes.
import type { Split } from './types.js';
import { MemoryDataset } from './memory.js';
import { Rng, mixSeed } from './rng.js';

export interface SyntheticOptions {
  size: number;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  seed?: number;
  /** train and test share the class prototypes but draw different images. */
  split?: Split;
  /** Per-pixel noise amplitude (uniform, +-noise), default 24. */
  noise?: number;
}

export function makeSynthetic(opts: SyntheticOptions): MemoryDataset {
  const { size, height: h, width: w, channels: c, numClasses } = opts;
  const seed = opts.seed ?? 0;
  const split = opts.split ?? 'train';
  const noise = opts.noise ?? 24;
  if (!Number.isInteger(size) || size < 0) throw new Error(`synthetic: size must be a non-negative integer, got ${size}`);
  for (const [k, v] of Object.entries({ height: h, width: w, channels: c, numClasses })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`synthetic: ${k} must be a positive integer, got ${v}`);
  }

  // Class prototypes (shared by both splits).
  const proto = new Rng(mixSeed(seed, 0x5e7c1a55));
  const colour: number[][] = [];
  const theta: number[] = [];
  const freq: number[] = [];
  const sign: number[][] = [];
  // Mean levels evenly spaced over 48..208 in every channel, in a different class order per channel,
  // so that even single-channel classes differ in mean brightness.
  const levels = Array.from({ length: c }, () => proto.permutation(numClasses));
  for (let k = 0; k < numClasses; k++) {
    colour.push(Array.from({ length: c }, (_, ch) => 48 + Math.round((160 * levels[ch][k]) / Math.max(1, numClasses - 1))));
    theta.push((Math.PI * k) / numClasses + 0.2 * proto.nextFloat());
    freq.push(1 + (k % 4) + proto.nextFloat());
    sign.push(Array.from({ length: c }, () => (proto.nextFloat() < 0.5 ? -1 : 1)));
  }

  const rng = new Rng(mixSeed(seed, split === 'train' ? 1 : 2, size));
  const labels = new Int32Array(size);
  for (let i = 0; i < size; i++) labels[i] = i % numClasses;
  rng.shuffle(labels);

  const pixels = new Uint8Array(size * h * w * c);
  const amp = 48;
  const grating = new Float32Array(h * w);
  let o = 0;
  for (let i = 0; i < size; i++) {
    const k = labels[i];
    const ct = Math.cos(theta[k]);
    const st = Math.sin(theta[k]);
    const f = (2 * Math.PI * freq[k]) / Math.max(h, w);
    const phase = 2 * Math.PI * rng.nextFloat();
    const shift = rng.nextInt(17) - 8;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) grating[y * w + x] = amp * Math.sin(f * (x * ct + y * st) + phase);
    }
    const col = colour[k];
    const sg = sign[k];
    for (let p = 0; p < h * w; p++) {
      const g = grating[p];
      for (let ch = 0; ch < c; ch++) {
        const v = col[ch] + shift + sg[ch] * g + (rng.nextFloat() * 2 - 1) * noise;
        pixels[o++] = v < 0 ? 0 : v > 255 ? 255 : v; // Uint8Array truncates the fraction
      }
    }
  }
  return new MemoryDataset({
    name: `synthetic-${split}`,
    height: h,
    width: w,
    channels: c,
    classNames: Array.from({ length: numClasses }, (_, k) => `class${k}`),
    labels,
    pixels,
  });
}
