// ImageNet ILSVRC-2012 layout: train/<wnid>/, val/<wnid>/ or flat val/ + ground truth, on small JPEG
// trees written here, and on the real 100-image sample from ../shared/datasets (skipped when absent).
import { mkdtempSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listImageNet, openImageNet, readImageNet } from '../../lib/data/imagenet.js';
import { openDataset } from '../../lib/data/open.js';
import { sharedArchive, sharedDataset } from '../../lib/data/shared-datasets.js';
import type { ImageDataset } from '../../lib/data/types.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-imagenet-'));
const cacheDir = path.join(tmp, 'cache');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Three classes, each a solid colour (so resizing and cropping keep the colour exactly, up to JPEG).
const WNIDS = ['n01000001', 'n01000002', 'n01000003'];
const COLOUR: Record<string, [number, number, number]> = {
  n01000001: [200, 40, 40],
  n01000002: [40, 200, 40],
  n01000003: [40, 40, 200],
};

async function jpeg(file: string, wnid: string, w: number, h: number): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const [r, g, b] = COLOUR[wnid]!;
  await sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } }).jpeg({ quality: 95 }).toFile(file);
}

/** train: 2 + 1 + 2 images of mixed sizes. */
async function makeTrain(root: string): Promise<void> {
  await jpeg(path.join(root, 'train/n01000001/n01000001_1.JPEG'), 'n01000001', 40, 30);
  await jpeg(path.join(root, 'train/n01000001/n01000001_2.JPEG'), 'n01000001', 20, 50);
  await jpeg(path.join(root, 'train/n01000002/n01000002_1.JPEG'), 'n01000002', 33, 33);
  await jpeg(path.join(root, 'train/n01000003/n01000003_1.JPEG'), 'n01000003', 64, 48);
  await jpeg(path.join(root, 'train/n01000003/n01000003_2.JPEG'), 'n01000003', 48, 64);
}

/** Flat val: val_k.JPEG with these wnids (k = 1..). */
const VAL = ['n01000003', 'n01000001', 'n01000002', 'n01000003'];
async function makeFlatVal(root: string): Promise<string[]> {
  const names: string[] = [];
  for (let k = 0; k < VAL.length; k++) {
    const name = `ILSVRC2012_val_0000100${k + 1}.JPEG`;
    await jpeg(path.join(root, 'val', name), VAL[k]!, 30 + k, 26);
    names.push(name);
  }
  return names;
}

function centre(ds: ImageDataset, i: number): number[] {
  const out = new Uint8Array(ds.height * ds.width * 3);
  ds.readImage(i, out, 0);
  const p = (Math.floor(ds.height / 2) * ds.width + Math.floor(ds.width / 2)) * 3;
  return Array.from(out.subarray(p, p + 3));
}

function expectColour(got: number[], wnid: string): void {
  const want = COLOUR[wnid]!;
  for (let c = 0; c < 3; c++) expect(Math.abs(got[c]! - want[c]!)).toBeLessThanOrEqual(4);
}

const dataError = (re: RegExp) => expect.objectContaining({ name: 'SkipNetError', code: 'ERR_DATA', message: expect.stringMatching(re) });

describe('ImageNet layout (small trees written here)', () => {
  const root = path.join(tmp, 'folders');
  beforeAll(async () => {
    await makeTrain(root);
    // val sorted into class folders (one class missing: allowed).
    await jpeg(path.join(root, 'val/n01000001/v1.JPEG'), 'n01000001', 25, 25);
    await jpeg(path.join(root, 'val/n01000003/v2.JPEG'), 'n01000003', 25, 40);
  });

  it('lists train/<wnid>/ in sorted wnid order and val/<wnid>/ against the train classes', async () => {
    const train = await listImageNet(root, 'train');
    expect(train.classNames).toEqual(WNIDS);
    expect(train.files.map((f) => path.basename(f))).toEqual([
      'n01000001_1.JPEG', 'n01000001_2.JPEG', 'n01000002_1.JPEG', 'n01000003_1.JPEG', 'n01000003_2.JPEG',
    ]);
    expect(train.labels).toEqual([0, 0, 1, 2, 2]);
    const test = await listImageNet(root, 'test');
    expect(test.name).toBe('imagenet-test');
    expect(test.labels).toEqual([0, 2]);
  });

  it('preload: decodes every image to size x size (short side, centre crop) into memory', async () => {
    const ds = await readImageNet(root, 'train', { size: 16, cacheDir, preload: true });
    expect([ds.size, ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([5, 16, 16, 3, 3]);
    for (let i = 0; i < ds.size; i++) expectColour(centre(ds, i), WNIDS[ds.labels[i]!]!);
    const again = await openDataset({ kind: 'imagenet', root, size: 16, preload: true }, 'train', { cacheDir });
    expect((again as typeof ds).fromCache).toBe(true);
  });

  it('per batch (default): an encoded dataset that decodes with the ImageNet eval transform', async () => {
    const ds = await openDataset({ kind: 'imagenet', root, size: 24 }, 'test');
    expect(ds.decodeImages).toBeTypeOf('function');
    expect([ds.size, ds.height, ds.width, ds.numClasses]).toEqual([2, 24, 24, 3]);
    const out = new Uint8Array(2 * 24 * 24 * 3);
    const used = await ds.decodeImages!({ indices: Int32Array.from([0, 1]), out, augment: 'none', seedOf: (k) => k });
    expect(Array.from(used)).toEqual([0, 1]);
    const mid = (12 * 24 + 12) * 3;
    expectColour(Array.from(out.subarray(mid, mid + 3)), 'n01000001');
    expectColour(Array.from(out.subarray(24 * 24 * 3 + mid, 24 * 24 * 3 + mid + 3)), 'n01000003');
  });

  describe('flat val/ with a ground-truth file', () => {
    async function flatRoot(name: string): Promise<{ r: string; names: string[] }> {
      const r = path.join(tmp, name);
      await makeTrain(r);
      return { r, names: await makeFlatVal(r) };
    }

    it('LOC_val_solution.csv (Kaggle): the first wnid of PredictionString', async () => {
      const { r, names } = await flatRoot('csv');
      const rows = names.map((n, k) => `${n.replace('.JPEG', '')},${VAL[k]} 1 2 30 20 ${VAL[k]} 3 4 10 10`);
      writeFileSync(path.join(r, 'LOC_val_solution.csv'), ['ImageId,PredictionString', ...rows.reverse(), 'ILSVRC2012_val_09999999,n01000002 1 1 2 2'].join('\n'));
      const list = await listImageNet(r, 'test');
      expect(list.files.map((f) => path.basename(f))).toEqual(names);
      expect(list.labels).toEqual([2, 0, 1, 2]);
      const ds = await readImageNet(r, 'test', { size: 12, cacheDir, preload: true });
      for (let i = 0; i < ds.size; i++) expectColour(centre(ds, i), VAL[i]!);
    });

    it('val_labels.txt ids (sorted file-name order) through LOC_synset_mapping.txt', async () => {
      const { r } = await flatRoot('ids');
      // Ids count in the synsets file's order, which need not be sorted.
      writeFileSync(path.join(r, 'LOC_synset_mapping.txt'), 'n01000002 green thing\nn01000003 blue thing\nn01000001 red thing\n');
      writeFileSync(path.join(r, 'val_labels.txt'), VAL.map((w) => ({ n01000002: 1, n01000003: 2, n01000001: 3 })[w]).join('\n') + '\n');
      expect((await listImageNet(r, 'test')).labels).toEqual([2, 0, 1, 2]);
    });

    it("ILSVRC2012_validation_ground_truth.txt with '<id> <wnid>' synsets, and '<file> <wnid>' lines", async () => {
      const { r, names } = await flatRoot('devkit');
      writeFileSync(path.join(r, 'synsets.txt'), '3 n01000001\n1 n01000003\n2 n01000002\n');
      writeFileSync(path.join(r, 'ILSVRC2012_validation_ground_truth.txt'), '1\n3\n2\n1\n');
      expect((await listImageNet(r, 'test')).labels).toEqual([2, 0, 1, 2]);
      const { r: r2 } = await flatRoot('pairs');
      writeFileSync(path.join(r2, 'val', 'val_labels.txt'), names.map((n, k) => `${n} ${VAL[k]}`).reverse().join('\n'));
      expect((await listImageNet(r2, 'test')).labels).toEqual([2, 0, 1, 2]);
    });

    it('Kaggle download folder as root (ILSVRC/Data/CLS-LOC + LOC_val_solution.csv)', async () => {
      const r = path.join(tmp, 'kaggle');
      const cls = path.join(r, 'ILSVRC/Data/CLS-LOC');
      await makeTrain(cls);
      const names = await makeFlatVal(cls);
      writeFileSync(path.join(r, 'LOC_val_solution.csv'), ['ImageId,PredictionString', ...names.map((n, k) => `${n.slice(0, -5)},${VAL[k]} 0 0 1 1`)].join('\n'));
      expect((await listImageNet(r, 'train')).classNames).toEqual(WNIDS);
      expect((await listImageNet(r, 'test')).labels).toEqual([2, 0, 1, 2]);
    });
  });

  describe('bad input: a SkipNetError ERR_DATA naming the file and the fix', () => {
    it('an empty class folder', async () => {
      const r = path.join(tmp, 'empty-class');
      await makeTrain(r);
      mkdirSync(path.join(r, 'train/n01000004'));
      writeFileSync(path.join(r, 'train/n01000004/notes.txt'), 'x');
      await expect(listImageNet(r, 'train')).rejects.toEqual(dataError(/class folder .*train\/n01000004 has no images/));
    });

    it('a val class folder that is not a train class; a val folder mixing layouts', async () => {
      const r = path.join(tmp, 'val-extra');
      await makeTrain(r);
      await jpeg(path.join(r, 'val/n09999999/a.JPEG'), 'n01000001', 10, 10);
      await expect(listImageNet(r, 'test')).rejects.toEqual(dataError(/val\/n09999999 is not a class of the train set \(3 classes\)/));
      await jpeg(path.join(r, 'val/b.JPEG'), 'n01000001', 10, 10);
      await expect(listImageNet(r, 'test')).rejects.toEqual(dataError(/holds both class folders \(n09999999, \.\.\.\) and images \(b\.JPEG, \.\.\.\)/));
    });

    it('flat val without a ground-truth file', async () => {
      const r = path.join(tmp, 'no-gt');
      await makeTrain(r);
      await makeFlatVal(r);
      await expect(listImageNet(r, 'test')).rejects.toEqual(
        dataError(/holds images directly .* no ground-truth file was found .*LOC_val_solution\.csv, val_labels\.txt, ILSVRC2012_validation_ground_truth\.txt/),
      );
    });

    it('a ground-truth file that does not match the val folder', async () => {
      const r = path.join(tmp, 'mismatch');
      await makeTrain(r);
      const names = await makeFlatVal(r);
      // Too few lines.
      writeFileSync(path.join(r, 'LOC_synset_mapping.txt'), WNIDS.map((w) => `${w} thing`).join('\n'));
      writeFileSync(path.join(r, 'val_labels.txt'), '1\n2\n3\n');
      await expect(listImageNet(r, 'test')).rejects.toEqual(dataError(/val_labels\.txt has 3 labels but .*val holds 4 val images; .*one line per image, in sorted file-name order/));
      // An id the synsets file does not define.
      writeFileSync(path.join(r, 'val_labels.txt'), '1\n2\n3\n4\n');
      await expect(listImageNet(r, 'test')).rejects.toEqual(dataError(/val_labels\.txt: line 4 has class id 4, which .*LOC_synset_mapping\.txt does not define \(ids 1\.\.3\)/));
      // Ids without a synsets file.
      rmSync(path.join(r, 'LOC_synset_mapping.txt'));
      await expect(listImageNet(r, 'test')).rejects.toEqual(dataError(/holds class ids, but no synsets file maps them to wnids; put one of LOC_synset_mapping\.txt, synsets\.txt, synset_words\.txt/));
      // A CSV without a row for one image, and one naming a wnid that is not a train class.
      rmSync(path.join(r, 'val_labels.txt'));
      const csv = path.join(r, 'LOC_val_solution.csv');
      writeFileSync(csv, ['ImageId,PredictionString', ...names.slice(1).map((n, k) => `${n.slice(0, -5)},${VAL[k + 1]} 0 0 1 1`)].join('\n'));
      await expect(listImageNet(r, 'test')).rejects.toEqual(dataError(/LOC_val_solution\.csv has no row for 1 of the 4 val images \(ILSVRC2012_val_00001001\.JPEG\)/));
      writeFileSync(csv, ['ImageId,PredictionString', ...names.map((n, k) => `${n.slice(0, -5)},${k === 2 ? 'n07777777' : VAL[k]} 0 0 1 1`)].join('\n'));
      await expect(listImageNet(r, 'test')).rejects.toEqual(dataError(/label ILSVRC2012_val_00001003\.JPEG as n07777777, which is not a class of the train set/));
    });

    it('ids counted in another order than the synsets file (caught on ILSVRC2012_val_00000001)', async () => {
      const r = path.join(tmp, 'order');
      await makeTrain(r);
      await jpeg(path.join(r, 'val/ILSVRC2012_val_00000001.JPEG'), 'n01000001', 10, 10);
      writeFileSync(path.join(r, 'LOC_synset_mapping.txt'), WNIDS.join('\n'));
      writeFileSync(path.join(r, 'ILSVRC2012_validation_ground_truth.txt'), '2\n');
      await expect(listImageNet(r, 'test')).rejects.toEqual(dataError(/label ILSVRC2012_val_00000001 as n01000002, but it is n01751748 \(sea snake\).*devkit/));
    });

    it('a missing root names the expected layout; the process carries on', async () => {
      await expect(openImageNet(path.join(tmp, 'nowhere'), 'train')).rejects.toEqual(dataError(/cannot tell the class list: .*nowhere\/train does not exist/));
      expect((await listImageNet(root, 'train')).files).toHaveLength(5);
    });
  });
});

const sample = sharedArchive('imagenet-sample-100');
if (!sample) console.warn('skipping the real ImageNet sample test: ../shared/datasets/imagenet-sample-100.tar.gz not found');

describe('ImageNet sample (shared dataset: 100 real JPEGs, one per class)', () => {
  it.skipIf(!sample)('reads the sample as train/, and a flat val/ of 8 of its images labelled by LOC_val_solution.csv', async () => {
    const dir = await sharedDataset('imagenet-sample-100');
    expect(dir).not.toBeNull();
    const r = path.join(tmp, 'real');
    mkdirSync(path.join(r, 'val'), { recursive: true });
    symlinkSync(dir!, path.join(r, 'train'));
    const train = await listImageNet(r, 'train');
    expect(train.classNames).toHaveLength(100);
    expect(train.files).toHaveLength(100);
    expect([...train.classNames].sort()).toEqual(train.classNames);
    train.files.forEach((f, i) => expect(path.basename(f).split('_')[0]).toBe(train.classNames[train.labels[i]!]));

    const picks = [0, 13, 27, 40, 55, 68, 81, 99];
    const rows = ['ImageId,PredictionString'];
    picks.forEach((i, k) => {
      const name = `sample_val_${String(k).padStart(3, '0')}`;
      symlinkSync(train.files[i]!, path.join(r, 'val', `${name}.JPEG`));
      rows.push(`${name},${train.classNames[train.labels[i]!]} 0 0 10 10`);
    });
    writeFileSync(path.join(r, 'LOC_val_solution.csv'), rows.join('\n'));
    const val = await listImageNet(r, 'test');
    expect(val.labels).toEqual(picks.map((i) => train.labels[i]));

    // Preloaded at 32x32: real photos of any size and colour space decode to RGB.
    const ds = await readImageNet(r, 'test', { size: 32, cacheDir, preload: true });
    expect([ds.size, ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([8, 32, 32, 3, 100]);
    let sum = 0;
    for (const v of ds.pixels) sum += v;
    const mean = sum / ds.pixels.length;
    expect(mean).toBeGreaterThan(40);
    expect(mean).toBeLessThan(215);
    // Per batch at the default 224 (resize 256, centre crop).
    const enc = await openDataset({ kind: 'imagenet', root: r }, 'test');
    expect([enc.height, enc.width]).toEqual([224, 224]);
    const out = new Uint8Array(2 * 224 * 224 * 3);
    await enc.decodeImages!({ indices: Int32Array.from([0, 7]), out, augment: 'none', seedOf: (k) => k });
    expect(out.some((v) => v !== 0)).toBe(true);
    expect(readdirSync(path.join(r, 'val'))).toHaveLength(8);
  });
});
