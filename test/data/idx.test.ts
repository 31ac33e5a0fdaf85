import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES, parseIdx, readIdxDataset } from '../../lib/data/idx.js';
import { openDataset } from '../../lib/data/open.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-idx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function idx(dims: number[], data: Uint8Array, ndimsOverride?: number): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = ndimsOverride ?? dims.length;
  dims.forEach((d, k) => head.writeUInt32BE(d, 4 + 4 * k));
  return Buffer.concat([head, Buffer.from(data)]);
}

const N = 3;
const H = 4;
const W = 5;
const pix = (i: number, y: number, x: number): number => (i * 60 + y * 11 + x * 2 + 1) & 255;
const images = new Uint8Array(N * H * W);
for (let i = 0; i < N; i++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) images[i * H * W + y * W + x] = pix(i, y, x);
const labels = new Uint8Array([7, 0, 9]);

function checkDataset(ds: Awaited<ReturnType<typeof readIdxDataset>>): void {
  expect([ds.size, ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([N, H, W, 1, 10]);
  expect(Array.from(ds.labels)).toEqual([7, 0, 9]);
  const out = new Uint8Array(H * W);
  for (let i = 0; i < N; i++) {
    ds.readImage(i, out, 0);
    expect(out[0]).toBe(pix(i, 0, 0));
    expect(out[2 * W + 3]).toBe(pix(i, 2, 3)); // row-major HW(C=1)
    expect(out[H * W - 1]).toBe(pix(i, H - 1, W - 1));
    expect(Array.from(out)).toEqual(Array.from(images.subarray(i * H * W, (i + 1) * H * W)));
  }
}

describe('IDX reader', () => {
  it('reads plain IDX files', async () => {
    const dir = path.join(tmp, 'plain');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), idx([N, H, W], images));
    writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx([N], labels));
    const ds = await readIdxDataset(dir, 'train');
    checkDataset(ds);
    expect(ds.classNames).toEqual(FASHION_MNIST_CLASSES);
  });

  it('reads gzip IDX files, detecting gzip by magic bytes rather than name', async () => {
    const dir = path.join(tmp, 'gz');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 't10k-images-idx3-ubyte.gz'), zlib.gzipSync(idx([N, H, W], images)));
    // gzip content under a name without .gz
    writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), zlib.gzipSync(idx([N], labels)));
    const ds = await openDataset({ kind: 'fashion-mnist', root: dir }, 'test');
    checkDataset(ds as Awaited<ReturnType<typeof readIdxDataset>>);
  });

  it('validates magic numbers, dimensions and counts', async () => {
    expect(() => parseIdx(Buffer.from([0, 0, 0x0d, 3, 0, 0, 0, 0]), 'f.idx')).toThrow(/f\.idx.*bad magic number 0x00000d03/);
    expect(() => parseIdx(idx([N], labels), 'lab', 3)).toThrow(/lab.*1 dimensions, expected 3/);
    expect(() => parseIdx(idx([N, H, W], images.subarray(0, 50)), 'img')).toThrow(/img.*\[3, 4, 5\] need 60 data bytes.*has 50.*truncated/);
    const dir = path.join(tmp, 'mismatch');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), idx([N, H, W], images));
    writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx([2], labels.subarray(0, 2)));
    await expect(readIdxDataset(dir, 'train')).rejects.toThrow(/3 images but .* 2 labels/);
    writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx([3], new Uint8Array([1, 10, 2])));
    await expect(readIdxDataset(dir, 'train')).rejects.toThrow(/label 1 is 10, out of range 0\.\.9/);
    writeFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    rmSync(path.join(dir, 'train-labels-idx1-ubyte'));
    await expect(readIdxDataset(dir, 'train')).rejects.toThrow(/train-labels-idx1-ubyte\.gz.*gzip/);
    await expect(readIdxDataset(path.join(tmp, 'none'), 'test')).rejects.toThrow(/t10k-images-idx3-ubyte.*dataset-fashion-mnist/s);
  });
});

const FMNIST = '/usr/share/datasets/fashion-mnist';
const haveFmnist = existsSync(path.join(FMNIST, 'train-images-idx3-ubyte.gz')) || existsSync(path.join(FMNIST, 'train-images-idx3-ubyte'));
if (!haveFmnist) console.warn(`skipping the real Fashion-MNIST test: ${FMNIST} not found (apt-get install dataset-fashion-mnist)`);

describe('Fashion-MNIST (Debian dataset-fashion-mnist)', () => {
  it.skipIf(!haveFmnist)('reads 60000 + 10000 images with 6000 / 1000 per class', async () => {
    const [train, test] = await Promise.all([readIdxDataset(FMNIST, 'train'), readIdxDataset(FMNIST, 'test')]);
    expect(train.size).toBe(60000);
    expect(test.size).toBe(10000);
    for (const ds of [train, test]) {
      expect([ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([28, 28, 1, 10]);
      const hist = new Array(10).fill(0);
      for (const l of ds.labels) hist[l]++;
      expect(hist).toEqual(new Array(10).fill(ds.size / 10));
    }
    // The first training and test images are both ankle boots (label 9).
    expect(train.labels[0]).toBe(9);
    expect(test.labels[0]).toBe(9);
    // Pixels look like Fashion-MNIST: black border, mean intensity around 0.286 * 255.
    let sum = 0;
    for (let i = 0; i < train.pixels.length; i++) sum += train.pixels[i];
    expect(sum / train.pixels.length / 255).toBeCloseTo(0.286, 2);
    const img = new Uint8Array(28 * 28);
    train.readImage(0, img, 0);
    expect(img[0]).toBe(0);
    expect(Math.max(...img)).toBeGreaterThan(200);
  });
});
