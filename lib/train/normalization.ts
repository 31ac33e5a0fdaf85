// Per-dataset input normalisation (on the 0..1 pixel scale), applied in C++ after
// the uint8 -> float conversion. The constants are the reference's (spec section 7).

import type { DataConfig } from '../config.js';
import type { DataSourceSpec, ImageDataset } from '../data/types.js';
import { SkipNetError } from '../errors.js';

export interface Normalization {
  mean: number[];
  std: number[];
}

/** cifar/data.py; the reference uses the same constants for CIFAR-100. */
export const CIFAR_NORMALIZATION: Normalization = { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] };
/** torchvision ImageNet statistics (imagenet/train_sp.py). */
export const IMAGENET_NORMALIZATION: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
/**
 * SVHN train-split statistics (spec section 7). The reference normalises each split with
 * its own statistics; one model has one normalisation here, so every split uses the
 * train split's (the test split's differ by about 0.01 in mean and 0.02 in std).
 */
export const SVHN_NORMALIZATION: Normalization = { mean: [0.4377, 0.4438, 0.4728], std: [0.198, 0.201, 0.197] };
/** Fashion-MNIST training-set mean/std. */
export const FASHION_MNIST_NORMALIZATION: Normalization = { mean: [0.286], std: [0.353] };
/** Synthetic images are uniform-ish noise; centre them roughly. */
const SYNTHETIC_NORMALIZATION: Normalization = { mean: [0.5], std: [0.25] };

const NAMED = {
  cifar: CIFAR_NORMALIZATION,
  imagenet: IMAGENET_NORMALIZATION,
  'fashion-mnist': FASHION_MNIST_NORMALIZATION,
  svhn: SVHN_NORMALIZATION,
} as const;

/** The statistics 'auto' picks for a source before looking at the images. */
function autoFor(source: DataSourceSpec, dataset: Pick<ImageDataset, 'height' | 'width'>): Normalization {
  switch (source.kind) {
    case 'cifar10':
    case 'cifar100':
      return CIFAR_NORMALIZATION;
    case 'fashion-mnist':
      return FASHION_MNIST_NORMALIZATION;
    case 'synthetic':
      return SYNTHETIC_NORMALIZATION;
    case 'svhn':
      return SVHN_NORMALIZATION;
    case 'imagenet':
    case 'tiny-imagenet':
      return IMAGENET_NORMALIZATION;
    case 'folder':
      // A folder of 32x32 images is almost always a CIFAR export; anything else is
      // treated as natural photos. Set data.normalization to be explicit.
      return dataset.height === 32 && dataset.width === 32 ? CIFAR_NORMALIZATION : IMAGENET_NORMALIZATION;
  }
}

/**
 * mean/std with one entry per image channel. One-value statistics are repeated for
 * multi-channel data; three-value statistics on one-channel data are an error.
 */
export function normalizationFor(
  data: Pick<DataConfig, 'source' | 'normalization'>,
  dataset: Pick<ImageDataset, 'height' | 'width' | 'channels'>,
): Normalization {
  const chosen =
    typeof data.normalization === 'object'
      ? data.normalization
      : data.normalization === 'auto'
        ? autoFor(data.source, dataset)
        : NAMED[data.normalization];
  const c = dataset.channels;
  if (chosen.mean.length === c) return { mean: [...chosen.mean], std: [...chosen.std] };
  if (chosen.mean.length === 1) return { mean: Array(c).fill(chosen.mean[0]), std: Array(c).fill(chosen.std[0]) };
  throw new SkipNetError(
    'ERR_CONFIG',
    `data.normalization: ${chosen.mean.length} channel statistics for ${c}-channel images; set data.normalization to {"mean":[...],"std":[...]} with ${c} values`,
  );
}
