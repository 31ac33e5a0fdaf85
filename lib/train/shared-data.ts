// Presets point folder sources into the skipnet cache (e.g. cifar10-quick at
// <cache>/datasets/cifar10-jpeg/cifar10-jpeg). When such a folder is missing and the
// project's shared archive of that name exists, extract it first (lib/data does the
// atomic, once-only extraction). Any other missing folder is left for openDataset to report.

import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { DataSourceSpec } from '../data/types.js';

export async function ensureSharedFolder(source: DataSourceSpec): Promise<void> {
  if (source.kind !== 'folder') return;
  const root = path.resolve(source.root);
  if (await stat(root).then(() => true, () => false)) return;
  const { sharedDataset, skipnetCacheDir } = await import('../data/index.js');
  const rel = path.relative(path.join(skipnetCacheDir(), 'datasets'), root);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return;
  await sharedDataset(rel.split(path.sep)[0]!);
}
