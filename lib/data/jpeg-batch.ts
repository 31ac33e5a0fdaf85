// The fast path of the ImageNet transforms: a batch of JPEG files decoded and resized in one
// native call (native/jpeg_resize.cc: libjpeg-turbo + Pillow's bilinear filter, on a few
// threads of its own, off the main thread). The geometry (the random crop box and flip, or
// the eval resize + centre crop) is planned here, from the same random draws and in the same
// order as preprocessImage, so both paths give the same boxes; the native path's pixels are
// bit-identical to torchvision + Pillow (test/data/jpeg-batch.test.ts).
//
// Images the native path does not take (not a JPEG, a CMYK JPEG, a file whose data ends
// early or that libjpeg rejects) come back as 'fallback' with the reason; the caller sends
// them through preprocessImage (sharp), which decodes what it can and otherwise names the
// problem, so errors read the same on both paths.
import { loadNative } from '../native.js';
import { evalResizeCrop, IMAGENET_RATIO, IMAGENET_SCALE, randomResizedCropBox } from './crop-geometry.js';
import { probeImage } from './folder.js';
import { DEFAULT_CROP, DEFAULT_RESIZE, type ImagenetPreprocessOptions, type PreprocessMode } from './imagenet-preprocess.js';
import type { Rng } from './rng.js';

/** One image of a batch: its file's bytes, the mode, and (train) its own random stream. */
export interface JpegBatchItem {
  /** null: nothing to decode here (the caller handles the slot). */
  input: Uint8Array | null;
  mode: PreprocessMode;
  rng: Rng | null;
}

export type JpegBatchOutcome = { ok: true; flipped: boolean } | { ok: false; reason: string };

// Per image in the geometry array handed to the addon (see native/image_addon.cc).
const FIELDS = 14;
// Native outcome codes (native/jpeg_resize.h).
const OUTCOME_REASONS: Record<number, string> = { 1: 'not a JPEG file', 2: 'a JPEG the native path does not convert', 3: 'libjpeg rejected it' };

/**
 * Preprocess the items into out (item k at k * crop * crop * 3, HWC RGB) with `threads`
 * decode threads. Items that are not JPEG (by their header) consume no random draws here:
 * the caller's fallback draws them.
 */
export async function preprocessJpegBatch(
  items: readonly JpegBatchItem[],
  out: Uint8Array,
  threads: number,
  opts: ImagenetPreprocessOptions = {},
): Promise<JpegBatchOutcome[]> {
  const crop = opts.cropSize ?? DEFAULT_CROP;
  const imageBytes = crop * crop * 3;
  if (out.length < items.length * imageBytes) {
    throw new RangeError(`preprocessJpegBatch: out holds ${out.length} bytes, ${items.length} images need ${items.length * imageBytes}`);
  }
  const outcomes: JpegBatchOutcome[] = new Array(items.length);
  const planned: number[] = [];
  const inputs: Uint8Array[] = [];
  const geometry = new Int32Array(items.length * FIELDS);
  items.forEach((item, k) => {
    const input = item.input;
    const probe = input && input[0] === 0xff && input[1] === 0xd8 ? probeImage(input) : null;
    if (!input || !probe || probe.width < 1 || probe.height < 1) {
      outcomes[k] = { ok: false, reason: input ? 'not a JPEG file with a readable frame header' : 'no input' };
      return;
    }
    const g = geometry.subarray(inputs.length * FIELDS, (inputs.length + 1) * FIELDS);
    g[0] = probe.width;
    g[1] = probe.height;
    let flipped = false;
    if (item.mode === 'train') {
      if (!item.rng) throw new Error("preprocessJpegBatch: mode 'train' needs an Rng");
      // The same draws, in the same order, as preprocessImage: the box, then the flip.
      const box = randomResizedCropBox(item.rng, probe.width, probe.height, { scale: opts.scale ?? IMAGENET_SCALE, ratio: opts.ratio ?? IMAGENET_RATIO });
      flipped = item.rng.nextFloat() < 0.5;
      g.set([box.left, box.top, box.width, box.height, crop, crop, 0, 0, crop, crop], 2);
    } else {
      const e = evalResizeCrop(probe.width, probe.height, opts.resizeSize ?? DEFAULT_RESIZE, crop);
      g.set([0, 0, probe.width, probe.height, e.resized.width, e.resized.height, e.crop.left, e.crop.top, crop, crop], 2);
    }
    g[12] = flipped ? 1 : 0;
    g[13] = k * imageBytes;
    outcomes[k] = { ok: true, flipped };
    planned.push(k);
    inputs.push(input);
  });
  if (inputs.length === 0) return outcomes;
  const r = await loadNative().preprocessJpegBatch(inputs, geometry.subarray(0, inputs.length * FIELDS), out, threads);
  planned.forEach((k, j) => {
    const code = r.outcomes[j];
    if (code !== 0) {
      const detail = r.messages[j];
      outcomes[k] = { ok: false, reason: (OUTCOME_REASONS[code] ?? `outcome ${code}`) + (detail ? `: ${detail}` : '') };
    }
  });
  return outcomes;
}
