// openDataset: one entry point for every data source in the config's `data` block.
import type { BadFilePolicy, DataSourceSpec, ImageDataset, Split } from './types.js';
import { readCifar10, readCifar100 } from './cifar.js';
import { readIdxDataset } from './idx.js';
import { readImageFolder, type FolderOptions } from './folder.js';
import { makeSynthetic } from './synthetic.js';
import { readSvhn } from './svhn.js';
import { openImageNet } from './imagenet.js';
import { readTinyImageNet } from './tiny-imagenet.js';
import { ensureDownloaded, type DownloadOptions } from './download.js';

export interface OpenOptions extends FolderOptions {
  /** Seed of the synthetic dataset (default 0). */
  seed?: number;
  /** Image files that cannot be decoded (config data.badFiles): 'error' (default) or 'skip' (folder: same as skipBad). */
  badFiles?: BadFilePolicy;
  /** Per-batch image decoding (ImageNet): threads per batch (default: the CPUs available). */
  decodeThreads?: number;
  /** Where `download: true` sources fetch their files from (default: the official servers). */
  download?: DownloadOptions;
}

export async function openDataset(spec: DataSourceSpec, split: Split, opts: OpenOptions = {}): Promise<ImageDataset> {
  if (split !== 'train' && split !== 'test') throw new Error(`openDataset: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  switch (spec.kind) {
    case 'cifar10':
      if (spec.download) await ensureDownloaded(spec, split, opts.download);
      return readCifar10(spec.root, split);
    case 'cifar100':
      if (spec.download) await ensureDownloaded(spec, split, opts.download);
      return readCifar100(spec.root, split, { labels: spec.labels ?? 'fine' });
    case 'svhn':
      if (spec.download) await ensureDownloaded(spec, split, opts.download);
      return readSvhn(spec.root, split, { extra: spec.extra ?? false });
    case 'imagenet': {
      const { size: _folderSize, decodeThreads: _threads, ...rest } = opts; // the spec's size is the output side
      return openImageNet(spec.root, split, { ...rest, size: spec.size, preload: spec.preload, decodeThreads: opts.decodeThreads });
    }
    case 'tiny-imagenet':
      return readTinyImageNet(spec.root, split, { ...opts, exclude: spec.exclude, skipBad: opts.skipBad ?? opts.badFiles === 'skip' });
    case 'fashion-mnist':
      return readIdxDataset(spec.root, split, { name: 'fashion-mnist' });
    case 'folder':
      return readImageFolder(spec.root, split, { ...opts, skipBad: opts.skipBad ?? opts.badFiles === 'skip' });
    case 'synthetic':
      return makeSynthetic({
        size: split === 'train' ? spec.size : spec.testSize,
        height: spec.height,
        width: spec.width,
        channels: spec.channels,
        numClasses: spec.numClasses,
        seed: opts.seed ?? 0,
        split,
      });
    default: {
      const never: never = spec;
      throw new Error(`openDataset: unknown data source kind ${JSON.stringify((never as { kind?: unknown }).kind)}`);
    }
  }
}
