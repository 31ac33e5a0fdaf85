// SVHN cropped digits ("format 2", http://ufldl.stanford.edu/housenumbers/): train_32x32.mat,
// test_32x32.mat and extra_32x32.mat, MATLAB v5 files (zlib-compressed) each holding
//   X: uint8, dims 32x32x3xN, MATLAB column-major: X(row, col, channel, image)
//   y: N x 1 labels 1..10 (uint8 or double), where 10 stands for the digit 0.
// As in the paper (spec section 7), train = train_32x32 + extra_32x32 when `extra` is set.
// Labels become 0..9 (10 -> 0) on every split, so that class k is the digit k.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ImageDataset, Split } from './types.js';
import { ConcatDataset } from './concat.js';
import { parseMat5, type MatVariable } from './mat5.js';
import { MemoryDataset, numberedClassNames } from './memory.js';
import { dataError, yieldToLoop } from './util.js';

export const SVHN_URL = 'http://ufldl.stanford.edu/housenumbers/';
const SIDE = 32;
const PLANE = SIDE * SIDE;
const IMAGE_BYTES = 3 * PLANE;

export interface SvhnOptions {
  /** Train on train_32x32.mat + extra_32x32.mat (the paper's 604k-image set). Default false. */
  extra?: boolean;
}

/** The .mat files a split reads, in order. */
export function svhnFiles(split: Split, opts: SvhnOptions = {}): string[] {
  if (split === 'test') return ['test_32x32.mat'];
  return opts.extra ? ['train_32x32.mat', 'extra_32x32.mat'] : ['train_32x32.mat'];
}

/** Open an SVHN split from root (the folder holding the *_32x32.mat files). */
export async function readSvhn(root: string, split: Split, opts: SvhnOptions = {}): Promise<ImageDataset> {
  const parts: MemoryDataset[] = [];
  for (const name of svhnFiles(split, opts)) parts.push(await readSvhnFile(path.join(root, name)));
  if (parts.length === 1) return parts[0]!;
  return new ConcatDataset(`svhn-${split}+extra`, parts);
}

const shape = (v: MatVariable): string => `${v.complex ? 'complex ' : ''}${v.className} ${v.dims.join('x')}`;
const describe = (v: MatVariable): string => `${v.name} (${shape(v)})`;

/** Read one *_32x32.mat file into an in-memory dataset (uint8 HWC, labels 0..9). */
export async function readSvhnFile(file: string): Promise<MemoryDataset> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const fix =
      err.code === 'ENOENT'
        ? ` Download ${path.basename(file)} (cropped digits, format 2) from ${SVHN_URL} into ${path.dirname(file)}, ` +
          `or set data.source.download to true to fetch it.`
        : '';
    throw dataError(`SVHN: cannot read ${file}: ${err.message}.${fix}`, e);
  }
  const vars = parseMat5(buf, file);
  const byName = new Map(vars.map((v) => [v.name, v]));
  const X = byName.get('X');
  const y = byName.get('y');
  if (!X || !y) {
    const missing = [!X && 'X', !y && 'y'].filter(Boolean).join(' and ');
    const found = vars.length > 0 ? vars.map(describe).join(', ') : 'no variables';
    throw dataError(
      `SVHN: ${file} has no variable ${missing} (it holds ${found}); expected X (uint8 32x32x3xN) and y (N x 1 labels 1..10) ` +
        `as in the official *_32x32.mat files from ${SVHN_URL}`,
    );
  }
  // MATLAB drops trailing singleton dims, so a one-image file has dims 32x32x3.
  const xDims = X.dims.length === 3 ? [...X.dims, 1] : X.dims;
  const xOk = X.className === 'uint8' && X.real instanceof Uint8Array && xDims.length === 4 &&
    xDims[0] === SIDE && xDims[1] === SIDE && xDims[2] === 3;
  if (!xOk || X.complex) {
    throw dataError(`SVHN: ${file}: X is ${shape(X)}, expected uint8 32x32x3xN (rows x columns x RGB x images)`);
  }
  const n = xDims[3]!;
  const yCount = y.dims.reduce((a, b) => a * b, 1);
  const isVector = y.dims.filter((d) => d !== 1).length <= 1;
  if (!y.real || y.complex || !isVector) {
    throw dataError(`SVHN: ${file}: y is ${shape(y)}, expected a numeric ${n} x 1 label vector`);
  }
  if (yCount !== n) {
    throw dataError(`SVHN: ${file}: y holds ${yCount} labels but X holds ${n} images; the file is damaged or not SVHN`);
  }
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const v = y.real[k]!;
    if (!Number.isInteger(v) || v < 1 || v > 10) {
      throw dataError(`SVHN: ${file}: y(${k + 1}) = ${v} is not a digit label 1..10 (10 stands for 0); the file is damaged or not SVHN`);
    }
    labels[k] = v % 10;
  }
  // X's bytes belong to this call (a view into the file or inflated buffer): transpose in place.
  const pixels = X.real as Uint8Array;
  const scratch = new Uint8Array(IMAGE_BYTES);
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % 20000 === 0) await yieldToLoop(); // extra_32x32 takes seconds
    const base = i * IMAGE_BYTES;
    scratch.set(pixels.subarray(base, base + IMAGE_BYTES));
    // MATLAB index row + 32*col + 1024*channel  ->  HWC index (row*32 + col)*3 + channel.
    for (let c = 0; c < 3; c++) {
      for (let col = 0; col < SIDE; col++) {
        const src = c * PLANE + col * SIDE;
        let dst = base + col * 3 + c;
        for (let row = 0; row < SIDE; row++, dst += SIDE * 3) pixels[dst] = scratch[src + row]!;
      }
    }
  }
  const split = path.basename(file).replace(/_32x32\.mat$/, '');
  return new MemoryDataset({
    name: `svhn-${split}`,
    height: SIDE,
    width: SIDE,
    channels: 3,
    classNames: numberedClassNames(10),
    labels,
    pixels,
  });
}
