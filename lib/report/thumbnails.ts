// Test images as small PNG data: URIs, for the easy/hard figure. The pixels come from the
// test split of the data the evaluation used (eval.json's `source`), reopened with the data
// API; nearest-neighbour upscaling keeps 32x32 images sharp instead of blurred. A report
// never downloads: a source with `download: true` is opened as if it had `download: false`.

import sharp from 'sharp';
import type { DataSourceSpec, ImageDataset } from '../data/types.js';
import { loadDataApi } from '../train/deps.js';
import { ensureSharedFolder } from '../train/shared-data.js';
import { isObject } from './parse.js';

export type OpenedDataset = { dataset: ImageDataset } | { note: string };

function describeSource(source: unknown): string {
  if (!isObject(source)) return JSON.stringify(source);
  return typeof source.root === 'string' ? `${String(source.kind)}:${source.root}` : String(source.kind);
}

/** Opens each distinct test set once, however many runs share it. */
export class TestSetCache {
  private readonly opened = new Map<string, Promise<OpenedDataset>>();

  open(source: unknown): Promise<OpenedDataset> {
    const key = JSON.stringify(source);
    let p = this.opened.get(key);
    if (!p) {
      p = openTestSet(source);
      this.opened.set(key, p);
    }
    return p;
  }
}

async function openTestSet(source: unknown): Promise<OpenedDataset> {
  if (!isObject(source) || typeof source.kind !== 'string') return { note: 'the evaluation does not say which test data it used' };
  try {
    const spec = ('download' in source ? { ...source, download: false } : source) as unknown as DataSourceSpec;
    await ensureSharedFolder(spec);
    return { dataset: await (await loadDataApi()).openDataset(spec, 'test') };
  } catch (err) {
    return { note: `the test data (${describeSource(source)}) could not be opened: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * HWC pixels of the given images (indices outside the set left out). In-memory datasets
 * copy them out; file datasets decoded per batch (ImageNet) decode them as evaluation
 * does (no augmentation), and an image they had to replace with another is left out.
 */
async function readPixels(dataset: ImageDataset, indices: readonly number[]): Promise<Map<number, Uint8Array>> {
  const bytes = dataset.height * dataset.width * dataset.channels;
  const wanted = [...new Set(indices)].filter((i) => Number.isInteger(i) && i >= 0 && i < dataset.size);
  const out = new Map<number, Uint8Array>();
  if (dataset.decodeImages) {
    const all = new Uint8Array(wanted.length * bytes);
    const used = await dataset.decodeImages({ indices: Int32Array.from(wanted), out: all, augment: 'none', seedOf: () => 0 });
    wanted.forEach((i, k) => {
      if (used[k] === i) out.set(i, all.subarray(k * bytes, (k + 1) * bytes));
    });
    return out;
  }
  for (const i of wanted) {
    const buf = new Uint8Array(bytes);
    dataset.readImage(i, buf, 0);
    out.set(i, buf);
  }
  return out;
}

/** PNG data: URIs of the given test images, `size` pixels on their longer side. */
export async function thumbnails(dataset: ImageDataset, indices: readonly number[], size = 64): Promise<Map<number, string>> {
  const { width, height, channels } = dataset;
  const scale = size / Math.max(width, height);
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const out = new Map<number, string>();
  for (const [i, pixels] of await readPixels(dataset, indices)) {
    const png = await sharp(pixels, { raw: { width, height, channels: channels as 1 | 3 } })
      .resize(w, h, { fit: 'fill', kernel: scale >= 1 ? 'nearest' : 'lanczos3' })
      .png()
      .toBuffer();
    out.set(i, `data:image/png;base64,${png.toString('base64')}`);
  }
  return out;
}
