// Public surface of the data layer.
export type { ImageDataset, DataSourceSpec, Split, Augmentation, Batch } from './types.js';
export { Rng, mixSeed } from './rng.js';
export { MemoryDataset, type MemoryDatasetInit } from './memory.js';
export { readCifar10, readCifar100, CIFAR10_RECORD_BYTES, CIFAR100_RECORD_BYTES, type Cifar100Options } from './cifar.js';
export { readIdxDataset, readIdxFile, parseIdx, FASHION_MNIST_CLASSES, type IdxArray, type IdxDatasetOptions } from './idx.js';
export { readImageFolder, probeImage, IMAGE_EXTENSIONS, type FolderOptions, type FolderDataset, type SkippedImage, type ImageProbe } from './folder.js';
export { makeSynthetic, type SyntheticOptions } from './synthetic.js';
export { sharedDataset, sharedDatasetsDir, sharedArchive, projectRoot, type SharedDatasetOptions } from './shared-datasets.js';
export { openDataset, type OpenOptions } from './open.js';
export { augmentImage, cropFlip, drawCropFlip, CIFAR_PAD, type CropFlip } from './augment.js';
export { BatchLoader, fullPass, type BatchLoaderOptions } from './loader.js';
export { skipnetCacheDir } from './util.js';
