// An ImageDataset held in memory as one contiguous uint8 HWC array.
import type { ImageDataset } from './types.js';

export interface MemoryDatasetInit {
  name: string;
  height: number;
  width: number;
  channels: number;
  classNames: string[];
  labels: Int32Array;
  /** size * height * width * channels bytes, image-major, each image HWC. */
  pixels: Uint8Array;
  /** Defaults to classNames.length. */
  numClasses?: number;
}

export class MemoryDataset implements ImageDataset {
  readonly name: string;
  readonly size: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  readonly classNames: string[];
  readonly labels: Int32Array;
  readonly pixels: Uint8Array;
  /** Bytes per image (height * width * channels). */
  readonly imageBytes: number;

  constructor(init: MemoryDatasetInit) {
    const { name, height, width, channels, classNames, labels, pixels } = init;
    const numClasses = init.numClasses ?? classNames.length;
    for (const [k, v] of Object.entries({ height, width, channels, numClasses })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: ${k} must be a positive integer, got ${v}`);
    }
    if (classNames.length !== numClasses) {
      throw new Error(`${name}: ${classNames.length} class names for ${numClasses} classes`);
    }
    const imageBytes = height * width * channels;
    if (pixels.length !== labels.length * imageBytes) {
      throw new Error(
        `${name}: pixel array holds ${pixels.length} bytes, expected ${labels.length} images x ${imageBytes} bytes`,
      );
    }
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      if (l < 0 || l >= numClasses) throw new Error(`${name}: image ${i} has label ${l}, outside 0..${numClasses - 1}`);
    }
    this.name = name;
    this.size = labels.length;
    this.height = height;
    this.width = width;
    this.channels = channels;
    this.numClasses = numClasses;
    this.classNames = classNames;
    this.labels = labels;
    this.pixels = pixels;
    this.imageBytes = imageBytes;
  }

  readImage(i: number, out: Uint8Array, offset: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new RangeError(`${this.name}: image index ${i} outside 0..${this.size - 1}`);
    }
    const s = i * this.imageBytes;
    out.set(this.pixels.subarray(s, s + this.imageBytes), offset);
  }

  /** A view of image i (no copy). */
  image(i: number): Uint8Array {
    const s = i * this.imageBytes;
    return this.pixels.subarray(s, s + this.imageBytes);
  }
}

/** Numbered class names "0".."n-1". */
export function numberedClassNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}
