// Shared pieces of the service tests: small models saved to disk, varied raw images.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NativeModelSpec } from '../../lib/binding-types.js';
import { createModel } from '../../lib/model.js';
import type { RawImage } from '../../lib/service/types.js';
import { batch, scratch, spec } from '../native/helpers.js';

export { scratch, spec };

export function dir(name: string): string {
  const d = join(scratch, `${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/**
 * Images that differ in brightness, contrast and structure (not only in noise), so that
 * the gates of a random model see different statistics per image and decide differently.
 */
export function variedImages(seed: number, n: number, height = 32, width = 32, channels = 3): RawImage[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out: RawImage[] = [];
  for (let i = 0; i < n; i++) {
    const base = 20 + rnd() * 215;
    const amp = rnd() * 120;
    const fx = 0.05 + rnd() * 0.8;
    const fy = 0.05 + rnd() * 0.8;
    const noise = rnd() * 60;
    const tint = [rnd() * 60 - 30, rnd() * 60 - 30, rnd() * 60 - 30];
    const pixels = new Uint8Array(height * width * channels);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = base + amp * Math.sin(fx * x + 2 * fy * y) * Math.cos(fy * y - fx * 0.5 * x);
        for (let c = 0; c < channels; c++) {
          const t = v + tint[c % 3]! + (rnd() - 0.5) * noise;
          pixels[(y * width + x) * channels + c] = Math.max(0, Math.min(255, Math.round(t)));
        }
      }
    }
    out.push({ pixels, height, width, channels });
  }
  return out;
}

/** The raw images as one NativeBatch (NHWC), as model.evalStep takes it. */
export function toBatch(images: RawImage[]) {
  const { height, width, channels } = images[0]!;
  const per = height * width * channels;
  const pixels = new Uint8Array(images.length * per);
  images.forEach((im, i) => pixels.set(im.pixels, i * per));
  return { images: pixels, labels: new Int32Array(images.length), n: images.length, height, width, channels };
}

/**
 * A model with non-trivial weights and BN statistics (a few SGD steps on random data),
 * saved as <dir>/weights.safetensors (with the spec in its metadata). Returns the live model too.
 */
export async function savedModel(
  where: string,
  overrides: Partial<NativeModelSpec> = {},
  steps = 2,
): Promise<{ file: string; model: ReturnType<typeof createModel>; spec: NativeModelSpec }> {
  const s = spec(overrides);
  const model = createModel(s);
  for (let i = 0; i < steps; i++) {
    await model.trainStep(batch(100 + i, 16, 32, 32, s.inChannels, s.numClasses), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: false });
  }
  const file = join(where, 'model.safetensors');
  await model.saveWeights(file);
  return { file, model, spec: s };
}

export async function expectCode(p: Promise<unknown>, code: string | RegExp, message?: RegExp): Promise<Error & { code: string }> {
  let err: (Error & { code: string }) | null = null;
  try {
    await p;
  } catch (e) {
    err = e as Error & { code: string };
  }
  if (!err) throw new Error(`expected a rejection with ${code}, but it resolved`);
  const ok = typeof code === 'string' ? err.code === code : code.test(err.code);
  if (!ok) throw new Error(`expected ${code}, got ${err.code}: ${err.message}`);
  if (message && !message.test(err.message)) throw new Error(`message ${JSON.stringify(err.message)} does not match ${message}`);
  return err;
}
