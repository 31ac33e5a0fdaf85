import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCifar10, readCifar100 } from '../../lib/data/cifar.js';
import { openDataset } from '../../lib/data/open.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-cifar-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The pixel value the test writes for record r (global index), channel ch, row y, column x. */
const px = (r: number, ch: number, y: number, x: number): number => (r * 37 + ch * 85 + y * 7 + x * 3) & 255;

/** One CIFAR record's 3072 pixel bytes in the official CHW planar order (R plane, G plane, B plane). */
function planar(r: number): Uint8Array {
  const out = new Uint8Array(3072);
  for (let ch = 0; ch < 3; ch++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[ch * 1024 + y * 32 + x] = px(r, ch, y, x);
  return out;
}

function cifar10File(file: string, first: number, labels: number[]): void {
  const buf = Buffer.alloc(labels.length * 3073);
  labels.forEach((l, k) => {
    buf[k * 3073] = l;
    buf.set(planar(first + k), k * 3073 + 1);
  });
  writeFileSync(file, buf);
}

function cifar100File(file: string, first: number, recs: [number, number][]): void {
  const buf = Buffer.alloc(recs.length * 3074);
  recs.forEach(([coarse, fine], k) => {
    buf[k * 3074] = coarse;
    buf[k * 3074 + 1] = fine;
    buf.set(planar(first + k), k * 3074 + 2);
  });
  writeFileSync(file, buf);
}

function checkPixels(ds: { readImage(i: number, out: Uint8Array, o: number): void; size: number }, globalIndex: (i: number) => number): void {
  const img = new Uint8Array(3072 + 5);
  for (let i = 0; i < ds.size; i++) {
    ds.readImage(i, img, 5);
    const r = globalIndex(i);
    // Specific positions first (clear failure messages), then every byte.
    expect(img[5 + 0]).toBe(px(r, 0, 0, 0)); // (0,0) R
    expect(img[5 + 1]).toBe(px(r, 1, 0, 0)); // (0,0) G
    expect(img[5 + 2]).toBe(px(r, 2, 0, 0)); // (0,0) B
    expect(img[5 + (0 * 32 + 1) * 3 + 2]).toBe(px(r, 2, 0, 1)); // (0,1) B
    expect(img[5 + (5 * 32 + 17) * 3 + 1]).toBe(px(r, 1, 5, 17)); // (5,17) G
    expect(img[5 + (31 * 32 + 31) * 3 + 0]).toBe(px(r, 0, 31, 31)); // (31,31) R
    let bad = 0;
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) for (let ch = 0; ch < 3; ch++) if (img[5 + (y * 32 + x) * 3 + ch] !== px(r, ch, y, x)) bad++;
    expect(bad).toBe(0);
  }
}

describe('CIFAR-10 binary', () => {
  const root = path.join(tmp, 'c10');
  const bin = path.join(root, 'cifar-10-batches-bin');
  mkdirSync(bin, { recursive: true });
  // 5 train batches of 3, 3, 2, 1, 2 records; labels cycle 0..9.
  const counts = [3, 3, 2, 1, 2];
  let g = 0;
  const trainLabels: number[] = [];
  counts.forEach((n, b) => {
    const labels = Array.from({ length: n }, (_, k) => (g + k) % 10);
    cifar10File(path.join(bin, `data_batch_${b + 1}.bin`), g, labels);
    trainLabels.push(...labels);
    g += n;
  });
  cifar10File(path.join(bin, 'test_batch.bin'), 1000, [9, 0, 3, 3]);
  const names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
  writeFileSync(path.join(bin, 'batches.meta.txt'), names.join('\n') + '\n\n');

  it('reads the train split across the five batches, CHW -> HWC', async () => {
    const ds = await readCifar10(root, 'train'); // parent folder of cifar-10-batches-bin
    expect(ds.size).toBe(11);
    expect([ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([32, 32, 3, 10]);
    expect(Array.from(ds.labels)).toEqual(trainLabels);
    expect(ds.classNames).toEqual(names);
    checkPixels(ds, (i) => i);
  });

  it('reads the test split from the .bin folder itself, via openDataset', async () => {
    const ds = await openDataset({ kind: 'cifar10', root: bin }, 'test');
    expect(ds.size).toBe(4);
    expect(Array.from(ds.labels)).toEqual([9, 0, 3, 3]);
    checkPixels(ds, (i) => 1000 + i);
  });

  it('falls back to numbered class names without batches.meta.txt', async () => {
    const dir = path.join(tmp, 'c10-nometa');
    mkdirSync(dir, { recursive: true });
    cifar10File(path.join(dir, 'test_batch.bin'), 0, [1]);
    const ds = await readCifar10(dir, 'test');
    expect(ds.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('rejects a truncated file, naming it and the record size', async () => {
    const dir = path.join(tmp, 'c10-trunc');
    mkdirSync(dir, { recursive: true });
    cifar10File(path.join(dir, 'test_batch.bin'), 0, [1, 2]);
    writeFileSync(path.join(dir, 'test_batch.bin'), Buffer.alloc(3073 * 2 - 100));
    const err = await readCifar10(dir, 'test').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(path.join(dir, 'test_batch.bin'));
    expect((err as Error).message).toMatch(/3073/);
  });

  it('rejects a label out of range, naming file, record and value', async () => {
    const dir = path.join(tmp, 'c10-badlabel');
    mkdirSync(dir, { recursive: true });
    cifar10File(path.join(dir, 'test_batch.bin'), 0, [1, 10, 2]);
    await expect(readCifar10(dir, 'test')).rejects.toThrow(
      new RegExp(`${path.join(dir, 'test_batch.bin').replace(/[.]/g, '\\.')}.*record 1.*label 10`),
    );
  });

  it('names the missing files and how to get them', async () => {
    const dir = path.join(tmp, 'c10-empty');
    mkdirSync(dir, { recursive: true });
    await expect(readCifar10(dir, 'train')).rejects.toThrow(/data_batch_1\.bin.*cifar-10-binary\.tar\.gz/s);
    const partial = path.join(tmp, 'c10-partial');
    mkdirSync(partial, { recursive: true });
    cifar10File(path.join(partial, 'data_batch_1.bin'), 0, [1]);
    cifar10File(path.join(partial, 'data_batch_2.bin'), 0, [1]);
    await expect(readCifar10(partial, 'train')).rejects.toThrow(/missing .*data_batch_3\.bin.*data_batch_4\.bin.*data_batch_5\.bin/);
  });
});

describe('CIFAR-100 binary', () => {
  const root = path.join(tmp, 'c100');
  const bin = path.join(root, 'cifar-100-binary');
  mkdirSync(bin, { recursive: true });
  const recs: [number, number][] = [
    [4, 0],
    [1, 1],
    [14, 2],
    [19, 99],
    [8, 57],
  ];
  cifar100File(path.join(bin, 'train.bin'), 0, recs);
  cifar100File(path.join(bin, 'test.bin'), 500, [[3, 42]]);
  const fine = Array.from({ length: 100 }, (_, k) => `fine${k}`);
  writeFileSync(path.join(bin, 'fine_label_names.txt'), fine.join('\n'));

  it('reads fine labels (default) with pixels CHW -> HWC', async () => {
    const ds = await readCifar100(root, 'train');
    expect(ds.size).toBe(5);
    expect(ds.numClasses).toBe(100);
    expect(Array.from(ds.labels)).toEqual(recs.map((r) => r[1]));
    expect(ds.classNames[57]).toBe('fine57');
    checkPixels(ds, (i) => i);
  });

  it('reads coarse labels (numbered names when the names file is absent)', async () => {
    const ds = await openDataset({ kind: 'cifar100', root: bin, labels: 'coarse' }, 'train');
    expect(ds.numClasses).toBe(20);
    expect(Array.from(ds.labels)).toEqual(recs.map((r) => r[0]));
    expect(ds.classNames[19]).toBe('19');
    const test = await readCifar100(bin, 'test', { labels: 'fine' });
    expect(Array.from(test.labels)).toEqual([42]);
    checkPixels(test, () => 500);
  });

  it('rejects truncated files and out-of-range labels', async () => {
    const dir = path.join(tmp, 'c100-bad');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'test.bin'), Buffer.alloc(3074 + 1));
    await expect(readCifar100(dir, 'test')).rejects.toThrow(/test\.bin.*3074/);
    cifar100File(path.join(dir, 'train.bin'), 0, [
      [0, 0],
      [0, 0],
      [2, 100],
    ]);
    await expect(readCifar100(dir, 'train')).rejects.toThrow(/train\.bin.*record 2.*fine label 100/);
    cifar100File(path.join(dir, 'train.bin'), 0, [[20, 1]]);
    await expect(readCifar100(dir, 'train', { labels: 'coarse' })).rejects.toThrow(/record 0.*coarse label 20/);
    await expect(readCifar100(path.join(tmp, 'nowhere'), 'train')).rejects.toThrow(/train\.bin.*cifar-100-binary\.tar\.gz/s);
  });
});
