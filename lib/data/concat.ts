// Several same-shape datasets seen as one (e.g. SVHN train + extra), without copying their pixels
// into one array: train + extra is 1.9 GB of pixels, and a combined copy would double that.
import type { ImageDataset } from './types.js';
import { dataError } from './util.js';

export class ConcatDataset implements ImageDataset {
  readonly name: string;
  readonly size: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  readonly classNames: string[];
  readonly labels: Int32Array;
  readonly parts: readonly ImageDataset[];
  /** starts[k] = index of parts[k]'s first image. */
  private readonly starts: number[];

  constructor(name: string, parts: ImageDataset[]) {
    if (parts.length === 0) throw dataError(`${name}: nothing to concatenate`);
    const first = parts[0]!;
    for (const p of parts) {
      if (p.height !== first.height || p.width !== first.width || p.channels !== first.channels || p.numClasses !== first.numClasses) {
        throw dataError(
          `${name}: ${p.name} is ${p.height}x${p.width}x${p.channels} with ${p.numClasses} classes, ` +
            `${first.name} is ${first.height}x${first.width}x${first.channels} with ${first.numClasses}; they cannot be joined`,
        );
      }
    }
    this.name = name;
    this.parts = parts;
    this.height = first.height;
    this.width = first.width;
    this.channels = first.channels;
    this.numClasses = first.numClasses;
    this.classNames = first.classNames;
    this.starts = [];
    let n = 0;
    for (const p of parts) {
      this.starts.push(n);
      n += p.size;
    }
    this.size = n;
    this.labels = new Int32Array(n);
    parts.forEach((p, k) => this.labels.set(p.labels, this.starts[k]));
  }

  readImage(i: number, out: Uint8Array, offset: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new RangeError(`${this.name}: image index ${i} outside 0..${this.size - 1}`);
    }
    let k = this.parts.length - 1;
    while (this.starts[k]! > i) k--; // two or three parts: a linear scan is enough
    this.parts[k]!.readImage(i - this.starts[k]!, out, offset);
  }
}
