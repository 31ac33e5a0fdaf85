// One encoded image (JPEG/PNG/WebP..., any size) -> 224x224x3 uint8 RGB (HWC), the ImageNet
// transforms of spec section 7, through sharp. The loader uses it for what the native JPEG path
// (jpeg-batch.ts) hands back: other formats, CMYK JPEGs, and files libjpeg rejects.
//
//   'train': RandomResizedCrop(224, scale 0.08-1, ratio 3/4-4/3) + RandomHorizontalFlip(0.5),
//            the box from crop-geometry.ts, cropped from the full-resolution decode;
//   'eval':  resize the shorter side to 256 -> centre crop 224.
//
// Decoding is sharp's (libvips, on libuv's thread pool). The resize is bilinear, as
// torchvision's default BILINEAR on PIL images, done by one of two resamplers:
//   - shrinking on both axes (train: a box at least 224 wide and high; eval: a shorter side
//     above 256): sharp's extract + resize with libvips' 'linear' kernel, whose support widens
//     with the shrink (antialiased, like Pillow's). Eval uses fastShrinkOnLoad: false, so
//     libjpeg's DCT-domain downscaling only takes the part of a large shrink beyond 2x. Against
//     torchvision 0.14 + Pillow 9.4 on the shared ImageNet sample (same boxes) the pixels differ
//     by 0.14-0.24/255 on average (max 2-6);
//   - enlarging along either axis: sharp only decodes (and crops), then resample.ts, a
//     JavaScript copy of Pillow's bilinear filter, resizes on the main thread, bit-identical to
//     torchvision (the decoded pixels are identical too). libvips' enlarging path samples half
//     an output pixel off Pillow's grid (3-7/255 on average on detailed images, up to 100+ at
//     edges) and is slower than this loop. The aspect-ratio limits keep the other axis below
//     299 px, so the loop's cost is bounded by the output size (about 1 ms an image) and the
//     main thread does a small share of the work.
//
// Colour: grayscale, CMYK (with or without an Adobe marker) and images with alpha become 8-bit
// sRGB with 3 channels (toColourspace('srgb') + removeAlpha; CMYK through libvips' generic CMYK
// profile). Embedded ICC profiles are ignored (ignoreIcc), as Pillow's convert('RGB') ignores
// them: the pixels stay the file's RGB values, and no colour transform runs on the full-size
// decode (23 of the 100 sample images carry a profile; transforming them cost 2.3 ms an image
// on average, more than the crop and resize). EXIF orientation is ignored too, as torchvision's
// PIL loader ignores it.
//
// Corrupt input: sharp rejects (failOn 'truncated': a truncated file is an error, but libjpeg's
// recoverable warnings such as "extraneous bytes before marker", which Pillow also tolerates,
// are not), and the caller decides whether that ends the run (lib/data/encoded.ts).
import sharp, { type Sharp } from 'sharp';
import {
  type CropBox,
  evalResizeCrop,
  IMAGENET_RATIO,
  IMAGENET_SCALE,
  randomResizedCropBox,
} from './crop-geometry.js';
import { probeImage } from './folder.js';
import { resizeBilinearRgb } from './resample.js';
import type { Rng } from './rng.js';

export type PreprocessMode = 'train' | 'eval';

export interface ImagenetPreprocessOptions {
  /** Output side (default 224). */
  cropSize?: number;
  /** Eval: the shorter side before the centre crop (default 256). */
  resizeSize?: number;
  scale?: readonly [number, number];
  ratio?: readonly [number, number];
}

/** What was done to one image (for tests and debugging). */
export interface PreprocessResult {
  /** cropSize * cropSize * 3 bytes, HWC RGB. */
  pixels: Buffer;
  /** Size of the decoded source image. */
  source: { width: number; height: number };
  /** Train: the crop in source pixels. Eval: the crop in the resized image. */
  box: CropBox;
  flipped: boolean;
  /** Which resampler ran: libvips (shrinking) or the Pillow-exact one in resample.ts. */
  resampler: 'libvips' | 'pillow';
}

export const DEFAULT_CROP = 224;
export const DEFAULT_RESIZE = 256;

/** Width and height from the file header: a JS parse for JPEG/PNG, libvips for anything else. */
export async function imageSize(input: Buffer): Promise<{ width: number; height: number }> {
  const probe = probeImage(input);
  if (probe && probe.width > 0 && probe.height > 0) return { width: probe.width, height: probe.height };
  const meta = await sharp(input, { failOn: 'truncated' }).metadata();
  if (!meta.width || !meta.height) throw new Error('the image header has no width/height');
  return { width: meta.width, height: meta.height };
}

/** Finish a sharp pipeline as 8-bit 3-channel sRGB and check the size it produced. */
async function rgb(p: Sharp, width: number, height: number): Promise<Buffer> {
  const { data, info } = await p.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3 || data.length !== width * height * 3) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x3 8-bit RGB`);
  }
  return data;
}

/**
 * Preprocess one encoded image. `rng` is consumed only in 'train' mode: the crop box
 * (randomResizedCropBox's draws), then the flip (nextFloat() < 0.5).
 */
export async function preprocessImage(
  input: Buffer,
  mode: PreprocessMode,
  rng: Rng | null,
  opts: ImagenetPreprocessOptions = {},
): Promise<PreprocessResult> {
  const crop = opts.cropSize ?? DEFAULT_CROP;
  const source = await imageSize(input);
  const decoder = sharp(input, { failOn: 'truncated', ignoreIcc: true });
  if (mode === 'train') {
    if (!rng) throw new Error("preprocessImage: mode 'train' needs an Rng");
    const box = randomResizedCropBox(rng, source.width, source.height, { scale: opts.scale ?? IMAGENET_SCALE, ratio: opts.ratio ?? IMAGENET_RATIO });
    const flipped = rng.nextFloat() < 0.5;
    if (box.width < crop || box.height < crop) {
      const cropped = await rgb(decoder.extract(box), box.width, box.height);
      const pixels = Buffer.allocUnsafe(crop * crop * 3);
      resizeBilinearRgb(cropped, box.width, box.height, crop, crop, { left: 0, top: 0, width: crop, height: crop }, pixels, 0, flipped);
      return { pixels, source, box, flipped, resampler: 'pillow' };
    }
    // extract before resize: sharp crops the full decode, then scales the crop to crop x crop.
    const pixels = await rgb(decoder.extract(box).resize(crop, crop, { fit: 'fill', kernel: 'linear' }).flop(flipped), crop, crop);
    return { pixels, source, box, flipped, resampler: 'libvips' };
  }
  const g = evalResizeCrop(source.width, source.height, opts.resizeSize ?? DEFAULT_RESIZE, crop);
  if (g.resized.width >= source.width && g.resized.height >= source.height) {
    const full = await rgb(decoder, source.width, source.height);
    const pixels = Buffer.allocUnsafe(crop * crop * 3);
    resizeBilinearRgb(full, source.width, source.height, g.resized.width, g.resized.height, g.crop, pixels, 0, false);
    return { pixels, source, box: g.crop, flipped: false, resampler: 'pillow' };
  }
  // extract after resize: crops the resized image.
  const resized = decoder.resize(g.resized.width, g.resized.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false });
  return { pixels: await rgb(resized.extract(g.crop), crop, crop), source, box: g.crop, flipped: false, resampler: 'libvips' };
}
