// From a validated config plus what the dataset turned out to be (channels,
// classes) to the spec the addon builds a model from.

import type { NativeModelSpec } from '../binding-types.js';
import type { RunConfig } from '../config.js';
import type { ImageDataset } from '../data/types.js';
import { SkipNetError } from '../errors.js';
import { normalizationFor } from './normalization.js';

export function modelSpecFor(config: RunConfig, dataset: ImageDataset): NativeModelSpec {
  const { mean, std } = normalizationFor(config.data, dataset);
  return {
    arch: config.model.arch,
    depth: config.model.depth,
    gate: config.model.gate,
    gateMode: config.model.gateMode,
    numClasses: dataset.numClasses,
    inChannels: dataset.channels,
    mean,
    std,
    device: config.device,
    threads: config.threads,
    seed: config.seed,
    precision: config.precision,
    cudnnBenchmark: config.cudnnBenchmark,
    ...(lossScalingOn(config) ? { lossScale: { initScale: config.lossScaling.initScale, growthInterval: config.lossScaling.growthInterval } } : {}),
  };
}

/** Dynamic loss scaling: on for fp16 unless turned off, and wherever asked for. */
export function lossScalingOn(config: RunConfig): boolean {
  return config.lossScaling.enabled ?? config.precision === 'fp16';
}

/** Train and test splits must agree on image shape and label space. */
export function checkSplitsMatch(train: ImageDataset, test: ImageDataset): void {
  const shape = (d: ImageDataset) => `${d.height}x${d.width}x${d.channels}, ${d.numClasses} classes`;
  if (train.channels !== test.channels || train.numClasses !== test.numClasses || train.height !== test.height || train.width !== test.width) {
    throw new SkipNetError('ERR_DATA', `train split (${shape(train)}) and test split (${shape(test)}) of ${train.name} do not match`);
  }
  if (train.size === 0) throw new SkipNetError('ERR_DATA', `the train split of ${train.name} is empty`);
  if (test.size === 0) throw new SkipNetError('ERR_DATA', `the test split of ${test.name} is empty`);
}
