// Images in, model-sized HWC uint8 pixels out. Encoded files are decoded with sharp
// (libvips, off the main thread); raw pixels are checked and only have their channels
// converted. Geometry follows the evaluation transforms of the reference:
//   cifar arch:    resize the short side to the input size, centre crop (no-op at that size)
//   imagenet arch: resize the short side to 256 (input * 256/224), centre crop 224

import { types } from 'node:util';
import sharp from 'sharp';
import { SkipNetError } from '../errors.js';
import type { ImageInput, RawImage } from './types.js';

export interface InputShape {
  height: number;
  width: number;
  channels: number; // the model's inChannels: 1 or 3
  arch: 'cifar' | 'imagenet';
}

export function isRawImage(x: unknown): x is RawImage {
  return typeof x === 'object' && x !== null && !types.isUint8Array(x) && 'pixels' in x;
}

export function isImageInput(x: unknown): x is ImageInput {
  return types.isUint8Array(x) || isRawImage(x);
}

export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (ArrayBuffer.isView(x)) return `a ${x.constructor?.name ?? 'typed array'}`;
  if (x instanceof ArrayBuffer) return 'an ArrayBuffer (wrap it: new Uint8Array(buffer))';
  if (typeof x === 'object') return `an object with keys ${Object.keys(x as object).slice(0, 6).join(', ') || '(none)'}`;
  return typeof x;
}

/** HWC pixel conversion between 1, 3 and 4 (RGBA) / 2 (grey+alpha) channels. Alpha is dropped. */
export function convertChannels(src: Uint8Array, pixels: number, from: number, to: number): Uint8Array {
  if (from === to) return src;
  const out = new Uint8Array(pixels * to);
  for (let p = 0; p < pixels; p++) {
    const s = p * from;
    if (to === 3) {
      if (from >= 3) {
        out[p * 3] = src[s]!;
        out[p * 3 + 1] = src[s + 1]!;
        out[p * 3 + 2] = src[s + 2]!;
      } else {
        out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = src[s]!;
      }
    } else if (from >= 3) {
      // ITU-R BT.601 luma, as PIL's convert('L').
      out[p] = Math.round((299 * src[s]! + 587 * src[s + 1]! + 114 * src[s + 2]!) / 1000);
    } else {
      out[p] = src[s]!;
    }
  }
  return out;
}

/** Raw pixels: must already be at the model size; channels are converted. Returns a copy the caller can keep. */
export function prepareRaw(img: RawImage, shape: InputShape, what: string): Uint8Array {
  const { pixels, height, width, channels } = img;
  if (!types.isUint8Array(pixels)) {
    throw new SkipNetError('ERR_BAD_ARG', `${what}: pixels must be a Uint8Array (HWC uint8), got ${describeValue(pixels)}`);
  }
  for (const [k, v] of [['height', height], ['width', width], ['channels', channels]] as const) {
    if (!Number.isInteger(v) || (v as number) < 1) throw new SkipNetError('ERR_BAD_ARG', `${what}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (![1, 2, 3, 4].includes(channels)) {
    throw new SkipNetError('ERR_BAD_ARG', `${what}: channels must be 1, 2, 3 or 4, got ${channels}`);
  }
  if (height !== shape.height || width !== shape.width) {
    throw new SkipNetError(
      'ERR_BAD_ARG',
      `${what}: raw pixels are ${height}x${width} but the model takes ${shape.height}x${shape.width}; ` +
        'resize them first, or pass the encoded JPEG/PNG bytes and let predict() resize',
    );
  }
  if (pixels.length !== height * width * channels) {
    throw new SkipNetError(
      'ERR_BAD_ARG',
      `${what}: pixels has ${pixels.length} bytes, expected height*width*channels = ${height}*${width}*${channels} = ${height * width * channels}`,
    );
  }
  const out = convertChannels(pixels, height * width, channels, shape.channels);
  return out === pixels ? pixels.slice() : out;
}

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop offsets). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Encoded JPEG/PNG (anything sharp reads) -> model-sized pixels. Failures are ERR_DATA naming the problem. */
export async function decodeImage(bytes: Uint8Array, shape: InputShape, what: string): Promise<Uint8Array> {
  if (bytes.length === 0) throw new SkipNetError('ERR_DATA', `${what}: the image buffer is empty`);
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const meta = await sharp(input)
    .metadata()
    .catch((err: Error) => {
      throw new SkipNetError('ERR_DATA', `${what}: cannot decode the image (${err.message})`, { cause: err });
    });
  const w = meta.width;
  const h = meta.height;
  if (!w || !h) throw new SkipNetError('ERR_DATA', `${what}: cannot decode the image (no width/height in its header)`);
  const H = shape.height;
  const W = shape.width;
  let p = sharp(input).removeAlpha().toColourspace(shape.channels === 1 ? 'b-w' : 'srgb');
  if (shape.arch === 'imagenet') {
    // torchvision Resize(256) + CenterCrop(224): the short side to 256 (long side truncated), then the centre.
    const short = Math.round((Math.max(H, W) * 256) / 224);
    let rw = w <= h ? short : Math.floor((short * w) / h);
    let rh = w <= h ? Math.floor((short * h) / w) : short;
    rw = Math.max(rw, W);
    rh = Math.max(rh, H);
    if (rw !== w || rh !== h) p = p.resize(rw, rh, { fit: 'fill' });
    if (rw !== W || rh !== H) p = p.extract({ left: roundHalfEven((rw - W) / 2), top: roundHalfEven((rh - H) / 2), width: W, height: H });
  } else if (w !== W || h !== H) {
    p = p.resize(W, H, { fit: 'cover', position: 'centre' });
  }
  const { data, info } = await p
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((err: Error) => {
      throw new SkipNetError('ERR_DATA', `${what}: cannot decode the image (${err.message})`, { cause: err });
    });
  if (info.width !== W || info.height !== H || data.length !== W * H * info.channels) {
    throw new SkipNetError('ERR_DATA', `${what}: decoded to ${info.width}x${info.height}x${info.channels}, expected ${W}x${H}`);
  }
  const px = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return convertChannels(px, W * H, info.channels, shape.channels);
}

/** One input of either kind -> model-sized pixels. */
export async function prepareImage(input: ImageInput, shape: InputShape, what: string): Promise<Uint8Array> {
  if (types.isUint8Array(input)) return decodeImage(input, shape, what);
  if (isRawImage(input)) return prepareRaw(input, shape, what);
  throw new SkipNetError(
    'ERR_BAD_ARG',
    `${what}: expected the bytes of a JPEG/PNG file (Buffer or Uint8Array) or raw pixels {pixels, height, width, channels}, got ${describeValue(input)}`,
  );
}
