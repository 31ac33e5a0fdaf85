// The real CIFAR-10 JPEG copy from ../shared/datasets (skipped with a message when absent).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readImageFolder } from '../../lib/data/folder.js';
import { sharedArchive, sharedDataset } from '../../lib/data/shared-datasets.js';

const archive = sharedArchive('cifar10-jpeg');
if (!archive) console.warn('skipping the CIFAR-10 JPEG test: ../shared/datasets/cifar10-jpeg.tar.gz not found');

const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'skipnet-c10jpeg-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

describe('CIFAR-10 JPEG copy (shared dataset)', () => {
  it.skipIf(!archive)('opens the test split: 10,000 images, 10 sorted classes, 1000 each; cached on the second open', async () => {
    // Extraction goes to the default cache ($SKIPNET_CACHE or ~/.cache/skipnet) and is reused across runs;
    // the decode cache goes to a fresh folder so that the cold decode is exercised every time.
    const root = await sharedDataset('cifar10-jpeg');
    expect(root).not.toBeNull();
    const t0 = performance.now();
    const ds = await readImageFolder(root!, 'test', { cacheDir });
    const cold = performance.now() - t0;
    expect(ds.fromCache).toBe(false);
    expect(ds.size).toBe(10000);
    expect(ds.classNames).toEqual(CLASSES);
    expect([ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([32, 32, 3, 10]);
    const hist = new Array(10).fill(0);
    for (const l of ds.labels) hist[l]++;
    expect(hist).toEqual(new Array(10).fill(1000));
    // Per-channel means match CIFAR-10's test set (~0.494, 0.485, 0.450).
    const sums = [0, 0, 0];
    for (let k = 0; k < ds.pixels.length; k++) sums[k % 3] += ds.pixels[k];
    const means = sums.map((s) => s / (ds.pixels.length / 3) / 255);
    expect(means[0]).toBeCloseTo(0.494, 1);
    expect(means[1]).toBeCloseTo(0.485, 1);
    expect(means[2]).toBeCloseTo(0.45, 1);
    expect(means[0]).toBeGreaterThan(means[2]);

    const t1 = performance.now();
    const again = await readImageFolder(root!, 'test', { cacheDir });
    const warm = performance.now() - t1;
    expect(again.fromCache).toBe(true);
    expect(Buffer.compare(Buffer.from(again.pixels), Buffer.from(ds.pixels))).toBe(0);
    expect(Array.from(again.labels)).toEqual(Array.from(ds.labels));
    console.log(`CIFAR-10 JPEG test split: cold open ${(cold / 1000).toFixed(1)} s, cached open ${(warm / 1000).toFixed(2)} s`);
  });
});
