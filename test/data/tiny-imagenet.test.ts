// Tiny ImageNet-200 layout: on the real pieces in ../shared/datasets (train: first 100 images of each
// class; val: all 10,000 + 100 of the two extra classes; skipped when absent), and on small trees
// written here for the bad-input cases.
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../lib/data/open.js';
import { sharedArchive, sharedDataset } from '../../lib/data/shared-datasets.js';
import { listTinyImageNet, readTinyImageNet } from '../../lib/data/tiny-imagenet.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-tiny-'));
const cacheDir = path.join(tmp, 'cache');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EXTRA = ['n02480855', 'n10148035']; // the shared copy's two classes beyond the standard 200

const dataError = (re: RegExp) => expect.objectContaining({ name: 'SkipNetError', code: 'ERR_DATA', message: expect.stringMatching(re) });

async function png(file: string, v: number): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: 255 - v, b: 7 } } }).png().toFile(file);
}

/** wnids.txt (unsorted), train/<wnid>/images/, val/images + val_annotations.txt. */
async function makeTree(root: string): Promise<void> {
  writeFileSync(path.join((mkdirSync(root, { recursive: true }), root), 'wnids.txt'), 'n003\nn001\nn002\n');
  await png(path.join(root, 'train/n001/images/n001_0.png'), 10);
  await png(path.join(root, 'train/n001/images/n001_1.png'), 11);
  await png(path.join(root, 'train/n002/images/n002_0.png'), 20);
  await png(path.join(root, 'train/n003/images/n003_0.png'), 30);
  writeFileSync(path.join(root, 'train/n003/n003_boxes.txt'), 'n003_0.png\t0\t0\t8\t8\n');
  await png(path.join(root, 'val/images/val_0.png'), 30);
  await png(path.join(root, 'val/images/val_1.png'), 10);
  await png(path.join(root, 'val/images/val_2.png'), 20);
  writeFileSync(path.join(root, 'val/val_annotations.txt'), 'val_2.png\tn002\t0\t0\t8\t8\nval_0.png\tn003\t1\t1\t7\t7\nval_1.png\tn001\t0\t0\t8\t8\n');
}

describe('Tiny ImageNet (small trees written here)', () => {
  it('sorted wnids as classes; train from <wnid>/images, val from val_annotations.txt; exclude drops a class', async () => {
    const root = path.join(tmp, 'ok');
    await makeTree(root);
    const train = await readTinyImageNet(root, 'train', { cacheDir });
    expect(train.classNames).toEqual(['n001', 'n002', 'n003']);
    expect(Array.from(train.labels)).toEqual([0, 0, 1, 2]);
    expect(train.pixels[0]).toBe(10);
    const test = await openDataset({ kind: 'tiny-imagenet', root }, 'test', { cacheDir });
    expect(test.name).toBe('tiny-imagenet-test');
    expect(Array.from(test.labels)).toEqual([2, 0, 1]); // val_0, val_1, val_2
    const out = new Uint8Array(8 * 8 * 3);
    test.readImage(1, out, 0);
    expect(Array.from(out.subarray(0, 3))).toEqual([10, 245, 7]);

    const without = await listTinyImageNet(root, 'test', { exclude: ['n001'] });
    expect(without.classNames).toEqual(['n002', 'n003']);
    expect(without.files.map((f) => path.basename(f))).toEqual(['val_0.png', 'val_2.png']);
    expect(without.labels).toEqual([1, 0]);
    expect((await listTinyImageNet(root, 'train', { exclude: ['n001'] })).labels).toEqual([0, 1]);
  });

  describe('bad input: a SkipNetError ERR_DATA naming the file and the problem', () => {
    it('annotations naming a wnid that wnids.txt does not list', async () => {
      const root = path.join(tmp, 'unknown-wnid');
      await makeTree(root);
      writeFileSync(path.join(root, 'val/val_annotations.txt'), 'val_0.png\tn003\t0\t0\t8\t8\nval_1.png\tn999\t0\t0\t8\t8\nval_2.png\tn002\t0\t0\t8\t8\n');
      await expect(listTinyImageNet(root, 'test')).rejects.toEqual(
        dataError(/val_annotations\.txt: line 2 labels val_1\.png as n999, which .*wnids\.txt does not list/),
      );
    });

    it('annotations and val/images that do not match', async () => {
      const root = path.join(tmp, 'val-mismatch');
      await makeTree(root);
      await png(path.join(root, 'val/images/val_3.png'), 40);
      await expect(listTinyImageNet(root, 'test')).rejects.toEqual(dataError(/1 images in .*val\/images have no line in .*val_annotations\.txt \(val_3\.png\)/));
      rmSync(path.join(root, 'val/images/val_3.png'));
      rmSync(path.join(root, 'val/images/val_0.png'));
      await expect(listTinyImageNet(root, 'test')).rejects.toEqual(dataError(/val_annotations\.txt names 1 images that are not in .*val\/images \(val_0\.png\)/));
      rmSync(path.join(root, 'val/val_annotations.txt'));
      await expect(listTinyImageNet(root, 'test')).rejects.toEqual(dataError(/val_annotations\.txt is missing/));
    });

    it('an empty class folder, a train folder not in wnids.txt, a missing wnids.txt, an unknown exclude', async () => {
      const root = path.join(tmp, 'train-bad');
      await makeTree(root);
      rmSync(path.join(root, 'train/n002/images/n002_0.png'));
      await expect(listTinyImageNet(root, 'train')).rejects.toEqual(dataError(/class folder .*train\/n002 has no images/));
      await png(path.join(root, 'train/n002/images/n002_0.png'), 20);
      await png(path.join(root, 'train/n004/images/n004_0.png'), 40);
      await expect(listTinyImageNet(root, 'train')).rejects.toEqual(dataError(/train\/n004 is not a class of .*wnids\.txt; add it there or remove the folder/));
      await expect(listTinyImageNet(root, 'train', { exclude: ['n005'] })).rejects.toEqual(dataError(/exclude names n005, which .*wnids\.txt does not list/));
      rmSync(path.join(root, 'wnids.txt'));
      await expect(listTinyImageNet(root, 'test')).rejects.toEqual(dataError(/cannot read .*wnids\.txt: ENOENT.*root must be the tiny-imagenet-200 folder/));
    });
  });
});

const trainArchive = sharedArchive('tiny-imagenet-200-train-100');
const valArchive = sharedArchive('tiny-imagenet-200-val');
const haveReal = Boolean(trainArchive && valArchive);
if (!haveReal) console.warn('skipping the real Tiny ImageNet tests: ../shared/datasets/tiny-imagenet-200-{train-100,val}.tar.gz not found');

describe('Tiny ImageNet (shared pieces: train 100 per class, full val)', () => {
  /** One root over both extracted archives (they share the top folder tiny-imagenet-200/). */
  async function realRoot(): Promise<string> {
    const train = await sharedDataset('tiny-imagenet-200-train-100');
    const val = await sharedDataset('tiny-imagenet-200-val');
    const root = path.join(tmp, 'real');
    mkdirSync(root, { recursive: true });
    symlinkSync(path.join(train!, 'train'), path.join(root, 'train'));
    symlinkSync(path.join(val!, 'val'), path.join(root, 'val'));
    symlinkSync(path.join(val!, 'wnids.txt'), path.join(root, 'wnids.txt'));
    return root;
  }
  let rootP: Promise<string> | undefined;
  const getRoot = (): Promise<string> => (rootP ??= realRoot());

  it.skipIf(!haveReal)('lists the standard 200 classes (extra 2 excluded): 20,000 train, 10,000 val, 50 per class', async () => {
    const root = await getRoot();
    const all = await listTinyImageNet(root, 'train');
    expect(all.classNames).toHaveLength(202);
    expect(all.files).toHaveLength(20200);
    const train = await listTinyImageNet(root, 'train', { exclude: EXTRA });
    expect(train.classNames).toHaveLength(200);
    expect(train.classNames).toEqual([...train.classNames].sort());
    expect(train.files).toHaveLength(20000);
    train.files.forEach((f, i) => expect(path.basename(f).split('_')[0]).toBe(train.classNames[train.labels[i]!]));
    const val = await listTinyImageNet(root, 'test', { exclude: EXTRA });
    expect(val.classNames).toEqual(train.classNames);
    expect(val.files).toHaveLength(10000);
    const perClass = new Array(200).fill(0);
    for (const l of val.labels) perClass[l]++;
    expect(new Set(perClass)).toEqual(new Set([50]));
    expect((await listTinyImageNet(root, 'test')).files).toHaveLength(10100);
  });

  it.skipIf(!haveReal)('decodes 3 classes (all others excluded) to 64x64 RGB, grayscale JPEGs included', async () => {
    const root = await getRoot();
    const all = await listTinyImageNet(root, 'train', { exclude: EXTRA });
    // Keep the class of the first grayscale JPEG (about 1.8% of the images are) and two more.
    let grayClass = 0;
    for (let i = 0; i < all.files.length; i++) {
      if ((await sharp(all.files[i]!).metadata()).channels === 1) {
        grayClass = all.labels[i]!;
        break;
      }
    }
    const keep = [...new Set([grayClass, 0, 1, 2])].slice(0, 3).sort((a, b) => a - b).map((c) => all.classNames[c]!);
    const exclude = [...all.classNames.filter((c) => !keep.includes(c)), ...EXTRA];
    const train = await openDataset({ kind: 'tiny-imagenet', root, exclude }, 'train', { cacheDir });
    expect([train.size, train.height, train.width, train.channels, train.numClasses]).toEqual([300, 64, 64, 3, 3]);
    expect(train.classNames).toEqual(keep);
    const val = await readTinyImageNet(root, 'test', { exclude, cacheDir });
    expect([val.size, val.numClasses]).toEqual([150, 3]);
    // Sanity of the real pixels: a plausible mean, and grayscale images became 3 equal channels.
    let sum = 0;
    for (const v of val.pixels) sum += v;
    expect(sum / val.pixels.length).toBeGreaterThan(60);
    expect(sum / val.pixels.length).toBeLessThan(190);
    const decoded = [train as typeof val, val];
    let grays = 0;
    for (const ds of decoded) {
      for (let i = 0; i < ds.size; i++) {
        if ((await sharp(ds.files[i]!).metadata()).channels !== 1) continue;
        grays++;
        const img = ds.image(i);
        for (let p = 0; p < img.length; p += 3) expect(img[p] === img[p + 1] && img[p] === img[p + 2]).toBe(true);
      }
    }
    expect(grays).toBeGreaterThan(0);
    console.log(`Tiny ImageNet: ${grays} grayscale JPEGs among the ${train.size + val.size} decoded, all read as R=G=B`);
  });
});
