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
}

/** Which source to open; mirrors the `data` block of the config (lib/config.ts). */
export type DataSourceSpec =
  | { kind: 'cifar10'; root: string } // CIFAR-10 binary version: data_batch_{1..5}.bin, test_batch.bin
  | { kind: 'cifar100'; root: string; labels?: 'fine' | 'coarse' } // train.bin, test.bin
  | { kind: 'folder'; root: string } // root/{train,test}/<class>/*.{jpg,jpeg,png}
  | { kind: 'fashion-mnist'; root: string } // IDX files, gzip or not
  | { kind: 'synthetic'; size: number; testSize: number; height: number; width: number; channels: number; numClasses: number };

export type Split = 'train' | 'test';

export type Augmentation = 'none' | 'cifar'; // cifar = random crop with 4 px zero padding + horizontal flip

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
