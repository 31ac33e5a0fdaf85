// openDataset: one entry point for every data source in the config's `data` block.
import type { DataSourceSpec, ImageDataset, Split } from './types.js';
import { readCifar10, readCifar100 } from './cifar.js';
import { readIdxDataset } from './idx.js';
import { readImageFolder, type FolderOptions } from './folder.js';
import { makeSynthetic } from './synthetic.js';

export interface OpenOptions extends FolderOptions {
  /** Seed of the synthetic dataset (default 0). */
  seed?: number;
}

export async function openDataset(spec: DataSourceSpec, split: Split, opts: OpenOptions = {}): Promise<ImageDataset> {
  if (split !== 'train' && split !== 'test') throw new Error(`openDataset: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  switch (spec.kind) {
    case 'cifar10':
      return readCifar10(spec.root, split);
    case 'cifar100':
      return readCifar100(spec.root, split, { labels: spec.labels ?? 'fine' });
    case 'fashion-mnist':
      return readIdxDataset(spec.root, split, { name: 'fashion-mnist' });
    case 'folder':
      return readImageFolder(spec.root, split, opts);
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
