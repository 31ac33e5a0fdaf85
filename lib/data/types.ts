// Shapes shared by every data source and the loader.

/** A labelled image dataset held as uint8 HWC pixels. */
export interface ImageDataset {
  readonly name: string;
  readonly size: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number; // 1 or 3
  readonly numClasses: number;
  readonly classNames: string[];
  readonly labels: Int32Array; // size entries
  /** Copy image i (height*width*channels bytes, HWC) into out starting at offset. */
  readImage(i: number, out: Uint8Array, offset: number): void;
  /**
   * Present on datasets whose images are decoded per batch (lib/data/encoded.ts): the loader
   * awaits this instead of calling readImage, which such datasets cannot serve synchronously.
   */
  decodeImages?(request: DecodeRequest): Promise<Int32Array>;
  /** Bad image files skipped so far (data.badFiles 'skip'); absent where nothing is ever skipped. */
  readonly skippedFiles?: number;
}

/** A batch's worth of images for ImageDataset.decodeImages. */
export interface DecodeRequest {
  /** Dataset index of each slot. */
  indices: Int32Array;
  /** indices.length * height * width * channels bytes, each slot HWC. */
  out: Uint8Array;
  augment: Augmentation;
  /** Seed of slot k's random stream (crop box, flip), so results do not depend on decode order. */
  seedOf(slot: number): number;
}

/** What to do with an image file that cannot be decoded (config data.badFiles). */
export type BadFilePolicy = 'error' | 'skip';

/**
 * Labelled image files of any size, listed but not decoded: the input of the per-batch
 * ImageNet pipeline (lib/data/encoded.ts). Labels are 0..numClasses-1.
 */
export interface EncodedImageSource {
  readonly name: string;
  readonly size: number;
  readonly numClasses: number;
  readonly classNames: string[];
  readonly labels: Int32Array;
  /** Absolute path of image i. */
  filePath(i: number): string;
}

/**
 * Which source to open; mirrors the `data` block of the config (lib/config.ts).
 * `download: true` fetches missing official files into root first (lib/data/download.ts); without
 * it nothing touches the network.
 */
export type DataSourceSpec =
  | { kind: 'cifar10'; root: string; download?: boolean } // CIFAR-10 binary version: data_batch_{1..5}.bin, test_batch.bin
  | { kind: 'cifar100'; root: string; labels?: 'fine' | 'coarse'; download?: boolean } // train.bin, test.bin
  | { kind: 'svhn'; root: string; extra?: boolean; download?: boolean } // {train,test,extra}_32x32.mat; extra: train on train + extra
  | { kind: 'imagenet'; root: string; size?: number; preload?: boolean } // train/<wnid>/*.JPEG, val/ (test = val); size x size (224) images, decoded per batch unless preload
  | { kind: 'tiny-imagenet'; root: string; exclude?: string[] } // wnids.txt, train/<wnid>/images/, val/ (test = val)
  | { kind: 'folder'; root: string } // root/{train,test}/<class>/*.{jpg,jpeg,png}
  | { kind: 'fashion-mnist'; root: string } // IDX files, gzip or not
  | { kind: 'synthetic'; size: number; testSize: number; height: number; width: number; channels: number; numClasses: number };

export type Split = 'train' | 'test';

// cifar = random crop with 4 px zero padding + horizontal flip (fixed-size in-memory images);
// imagenet = RandomResizedCrop(224) + horizontal flip (encoded-image datasets, lib/data/encoded.ts;
// on those, 'none' is the evaluation transform: shorter side to 256, centre crop 224).
export type Augmentation = 'none' | 'cifar' | 'imagenet';

/** A batch of uint8 NHWC pixels; the same layout that crosses into native code. */
export interface Batch {
  images: Uint8Array;
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  indices: Int32Array; // dataset index of each sample (for routing records)
}
