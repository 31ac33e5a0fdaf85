// What training needs from elsewhere in the package, loaded lazily: importing
// `skipnet` for config validation, presets or checkpoint inspection must not load
// LibTorch (hundreds of MB, and it may be missing). Both parts can be replaced
// (TrainOptions.backend / .data), which is how tests run the loop without the addon.

import type { NativeModel, NativeModelSpec, VersionInfo } from '../binding-types.js';
import type { Augmentation, Batch, DataSourceSpec, ImageDataset, Split } from '../data/types.js';

/** Builds models and reports versions: lib/model.ts + lib/native.ts in production. */
export interface Backend {
  createModel(spec: NativeModelSpec): NativeModel;
  versions(): Pick<VersionInfo, 'libtorch'> & Partial<VersionInfo>;
}

export interface BatchLoaderOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  augment: Augmentation;
  dropLast: boolean;
  /** Data parallel: this rank's shard of every epoch (default rank 0 of 1). */
  rank?: number;
  worldSize?: number;
  /** Where next() starts, e.g. when resuming a run. */
  startEpoch?: number;
  startBatch?: number;
}

export interface BatchSource {
  /** The next training batch; continues across epochs without end. */
  next(): Promise<Batch>;
  readonly batchesPerEpoch: number;
}

/** The part of lib/data/index.ts that training and evaluation use. */
export interface DataApi {
  openDataset(spec: DataSourceSpec, split: Split, opts?: { badFiles?: 'error' | 'skip'; decodeThreads?: number }): Promise<ImageDataset>;
  BatchLoader: new (dataset: ImageDataset, opts: BatchLoaderOptions) => BatchSource;
  /** Every sample once, in order, in batches of batchSize (the last one may be smaller). */
  fullPass(dataset: ImageDataset, batchSize: number): AsyncIterable<Batch>;
}

export async function loadDataApi(): Promise<DataApi> {
  return await import('../data/index.js');
}

export async function loadBackend(): Promise<Backend> {
  const [{ loadNative }, { createModel }] = await Promise.all([import('../native.js'), import('../model.js')]);
  const addon = loadNative(); // throws ERR_NATIVE_LOAD with the fix when the addon cannot load
  return { createModel: (spec) => createModel(spec), versions: () => addon.versions() };
}
