// SVHN *_32x32.mat reader and the MAT v5 parser, on small files in the official format written here
// (variables X: uint8 32x32x3xN column-major, y: N x 1 with 10 for the digit 0).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMat5 } from '../../lib/data/mat5.js';
import { openDataset } from '../../lib/data/open.js';
import { readSvhn, readSvhnFile } from '../../lib/data/svhn.js';
import type { ImageDataset } from '../../lib/data/types.js';
import { matFile, matHeader, pixel, svhnVars } from './mat5-fixture.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-svhn-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(dir: string, name: string, data: Buffer): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, data);
  return file;
}

/** Image i of ds must hold pixel(first + i, ...) at HWC positions. */
function expectPixels(ds: ImageDataset, i: number, source: number): void {
  const out = new Uint8Array(32 * 32 * 3);
  ds.readImage(i, out, 0);
  const want = new Uint8Array(out.length);
  for (let row = 0; row < 32; row++) for (let col = 0; col < 32; col++) for (let c = 0; c < 3; c++) want[(row * 32 + col) * 3 + c] = pixel(source, row, col, c);
  expect(Buffer.compare(Buffer.from(out), Buffer.from(want))).toBe(0);
}

const dataError = (re: RegExp) => expect.objectContaining({ name: 'SkipNetError', code: 'ERR_DATA', message: expect.stringMatching(re) });

describe('MAT v5 parser', () => {
  it('reads names, classes, dims and values from uncompressed, compressed and big-endian files', () => {
    const vars = svhnVars([10, 1, 9]);
    for (const opts of [{}, { compress: true }, { bigEndian: true }, { bigEndian: true, compress: true }]) {
      const parsed = parseMat5(matFile(vars, opts), 'x.mat');
      expect(parsed.map((v) => [v.name, v.className, v.dims])).toEqual([
        ['X', 'uint8', [32, 32, 3, 3]],
        ['y', 'double', [3, 1]],
      ]);
      expect(parsed[0]!.real).toBeInstanceOf(Uint8Array);
      expect(parsed[0]!.real![5 + 32 * 7 + 1024 * 2 + 3072 * 1]).toBe(pixel(1, 5, 7, 2));
      expect(Array.from(parsed[1]!.real!)).toEqual([10, 1, 9]);
    }
  });

  it('reads a double array stored as uint8 and small data elements', () => {
    const [v] = parseMat5(matFile([{ name: 'y', cls: 'double', dims: [1, 1], data: [7], storage: 'uint8' }], { compress: true }), 'y.mat');
    expect(v).toMatchObject({ name: 'y', className: 'double', dims: [1, 1] });
    expect(Array.from(v!.real!)).toEqual([7]);
  });
});

describe('SVHN reader', () => {
  it('reads an uncompressed file: HWC pixels transposed from MATLAB order, label 10 -> 0', async () => {
    const file = write(path.join(tmp, 'plain'), 'test_32x32.mat', matFile(svhnVars([10, 1, 9, 5])));
    const ds = await readSvhnFile(file);
    expect([ds.size, ds.height, ds.width, ds.channels, ds.numClasses]).toEqual([4, 32, 32, 3, 10]);
    expect(ds.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(Array.from(ds.labels)).toEqual([0, 1, 9, 5]);
    for (let i = 0; i < 4; i++) expectPixels(ds, i, i);
  });

  it('reads compressed files (y stored as uint8, a one-image X with dims 32x32x3) and joins train + extra', async () => {
    const root = path.join(tmp, 'compressed');
    write(root, 'train_32x32.mat', matFile(svhnVars([3, 10, 4], 0, 'uint8'), { compress: true }));
    write(root, 'extra_32x32.mat', matFile(svhnVars([2], 100), { compress: true }));
    write(root, 'test_32x32.mat', matFile(svhnVars([10, 8], 200), { compress: true, bigEndian: true }));

    const train = await readSvhn(root, 'train');
    expect(train.size).toBe(3);
    expect(Array.from(train.labels)).toEqual([3, 0, 4]);
    for (let i = 0; i < 3; i++) expectPixels(train, i, i);

    const both = await openDataset({ kind: 'svhn', root, extra: true }, 'train');
    expect(both.name).toBe('svhn-train+extra');
    expect(both.size).toBe(4);
    expect(Array.from(both.labels)).toEqual([3, 0, 4, 2]);
    expectPixels(both, 1, 1);
    expectPixels(both, 3, 100);
    expect(() => both.readImage(4, new Uint8Array(3072), 0)).toThrow(RangeError);

    const test = await openDataset({ kind: 'svhn', root, extra: true }, 'test'); // extra never touches test
    expect(Array.from(test.labels)).toEqual([0, 8]);
    expectPixels(test, 0, 200);
    expectPixels(test, 1, 201);
  });

  describe('bad input: a SkipNetError ERR_DATA naming the file and the problem', () => {
    const dir = path.join(tmp, 'bad');

    it('not a v5 MAT-file (text, v7.3/HDF5, too short)', async () => {
      const text = write(dir, 'text.mat', Buffer.from('X = rand(32);\n'.repeat(20)));
      await expect(readSvhnFile(text)).rejects.toEqual(dataError(/text\.mat is not a MATLAB v5 MAT-file: bytes 126-127 are not the endian indicator/));
      const h5 = write(dir, 'v73.mat', Buffer.concat([matHeader('MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .'), Buffer.alloc(512)]));
      await expect(readSvhnFile(h5)).rejects.toEqual(dataError(/v73\.mat is a MATLAB v7\.3 MAT-file \(HDF5\).*-v7/));
      const short = write(dir, 'short.mat', Buffer.from('MATLAB 5.0'));
      await expect(readSvhnFile(short)).rejects.toEqual(dataError(/short\.mat is not a MATLAB v5 MAT-file: it is 10 bytes, shorter than the 128-byte header/));
    });

    it('wrong or missing variable names, listing the variables found', async () => {
      const [X, y] = svhnVars([1, 2]);
      const file = write(dir, 'names.mat', matFile([{ ...X!, name: 'images' }, { ...y!, name: 'labels' }], { compress: true }));
      await expect(readSvhnFile(file)).rejects.toEqual(
        dataError(/names\.mat has no variable X and y \(it holds images \(uint8 32x32x3x2\), labels \(double 2x1\)\); expected X \(uint8 32x32x3xN\)/),
      );
      const onlyX = write(dir, 'onlyx.mat', matFile([X!]));
      await expect(readSvhnFile(onlyX)).rejects.toEqual(dataError(/onlyx\.mat has no variable y \(it holds X \(uint8 32x32x3x2\)\)/));
    });

    it('wrong dims or class of X, and a y that does not match X', async () => {
      const [X, y] = svhnVars([1, 2]);
      const gray = write(dir, 'gray.mat', matFile([{ ...X!, dims: [32, 32, 2, 3] }, y!]));
      await expect(readSvhnFile(gray)).rejects.toEqual(dataError(/gray\.mat: X is uint8 32x32x2x3, expected uint8 32x32x3xN/));
      const dbl = write(dir, 'double.mat', matFile([{ ...X!, cls: 'double' }, y!]));
      await expect(readSvhnFile(dbl)).rejects.toEqual(dataError(/double\.mat: X is double 32x32x3x2, expected uint8/));
      const short = write(dir, 'fewlabels.mat', matFile([X!, { ...y!, dims: [1, 1], data: [3] }]));
      await expect(readSvhnFile(short)).rejects.toEqual(dataError(/fewlabels\.mat: y holds 1 labels but X holds 2 images/));
      const matrix = write(dir, 'ymatrix.mat', matFile([X!, { ...y!, dims: [2, 2], data: [1, 2, 3, 4] }]));
      await expect(readSvhnFile(matrix)).rejects.toEqual(dataError(/ymatrix\.mat: y is double 2x2, expected a numeric 2 x 1 label vector/));
    });

    it('a label out of range', async () => {
      for (const [bad, shown] of [[11, '11'], [0, '0'], [2.5, '2.5']] as const) {
        const file = write(dir, `label${shown}.mat`, matFile(svhnVars([1, bad as number, 3]), { compress: true }));
        await expect(readSvhnFile(file)).rejects.toEqual(dataError(new RegExp(`label${shown.replace('.', '\\.')}\\.mat: y\\(2\\) = ${shown.replace('.', '\\.')} is not a digit label 1\\.\\.10`)));
      }
    });

    it('a truncated file, compressed or not', async () => {
      const whole = matFile(svhnVars([1, 2, 3]), { compress: true });
      const cut = write(dir, 'cut.mat', whole.subarray(0, Math.floor(whole.length * 0.6)));
      await expect(readSvhnFile(cut)).rejects.toEqual(dataError(/cut\.mat: MAT-file truncated: a \d+-byte data element at byte 128 runs past the end .*download or copy it again/));
      const plain = matFile(svhnVars([1, 2, 3]));
      const cutPlain = write(dir, 'cutplain.mat', plain.subarray(0, 1000));
      await expect(readSvhnFile(cutPlain)).rejects.toEqual(dataError(/cutplain\.mat: MAT-file truncated/));
      // A damaged zlib stream whose length still fits the file.
      const damaged = Buffer.from(whole);
      damaged.fill(0x55, 200, 260);
      const bad = write(dir, 'damaged.mat', damaged);
      await expect(readSvhnFile(bad)).rejects.toEqual(dataError(/damaged\.mat: cannot decompress the compressed element at byte 128: .*truncated or damaged/));
    });

    it('a missing file says where to get it', async () => {
      await expect(readSvhn(path.join(tmp, 'nothing'), 'test')).rejects.toEqual(
        dataError(/cannot read .*test_32x32\.mat: ENOENT.*http:\/\/ufldl\.stanford\.edu\/housenumbers\/.*download to true/),
      );
    });

    it('the process carries on: a good file still reads after the failures', async () => {
      const file = write(dir, 'good.mat', matFile(svhnVars([4]), { compress: true }));
      const ds = await readSvhnFile(file);
      expect(Array.from(ds.labels)).toEqual([4]);
      expectPixels(ds, 0, 0);
    });
  });
});
