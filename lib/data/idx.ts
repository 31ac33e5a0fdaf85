// IDX reader (MNIST / Fashion-MNIST): train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]. Gzip is detected by its magic bytes,
// not by the file name.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Split } from './types.js';
import { MemoryDataset, numberedClassNames } from './memory.js';
import { isFile } from './util.js';

const gunzip = promisify(zlib.gunzip);

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parse an (already decompressed) IDX buffer holding unsigned bytes. */
export function parseIdx(buf: Uint8Array, file: string, expectDims?: number): IdxArray {
  if (buf.length < 4) throw new Error(`IDX: ${file} is ${buf.length} bytes, too short for an IDX header`);
  const magic = ((buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3]) >>> 0;
  const ndims = buf[3];
  if (buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08 || ndims < 1) {
    throw new Error(
      `IDX: ${file}: bad magic number 0x${magic.toString(16).padStart(8, '0')} ` +
        `(expected 0x0000080N: unsigned-byte data with N dimensions)`,
    );
  }
  if (expectDims !== undefined && ndims !== expectDims) {
    throw new Error(
      `IDX: ${file}: magic 0x${magic.toString(16).padStart(8, '0')} says ${ndims} dimensions, expected ${expectDims} ` +
        `(0x0000080${expectDims})`,
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) throw new Error(`IDX: ${file}: truncated header (${buf.length} bytes)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    const v = dv.getUint32(4 + 4 * d, false);
    dims.push(v);
    count *= v;
  }
  if (buf.length - headerBytes !== count) {
    throw new Error(
      `IDX: ${file}: header dimensions [${dims.join(', ')}] need ${count} data bytes, ` +
        `the file has ${buf.length - headerBytes}${buf.length - headerBytes < count ? ' (truncated)' : ''}`,
    );
  }
  return { dims, data: buf.subarray(headerBytes) };
}

/** Read an IDX file, gunzipping it when it starts with the gzip magic 1f 8b. */
export async function readIdxFile(file: string, expectDims?: number): Promise<IdxArray> {
  let buf: Uint8Array = await fsp.readFile(file);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = await gunzip(buf);
    } catch (e) {
      throw new Error(`IDX: ${file}: gzip data is corrupt or truncated: ${(e as Error).message}`);
    }
  }
  return parseIdx(buf, file, expectDims);
}

async function findIdx(root: string, prefix: string, kind: 'images' | 'labels'): Promise<{ file: string | null; tried: string[] }> {
  const dimsTag = kind === 'images' ? 'idx3' : 'idx1';
  const bases = [`${prefix}-${kind}-${dimsTag}-ubyte`, `${prefix}-${kind}.${dimsTag}-ubyte`];
  const tried: string[] = [];
  for (const dir of [root, path.join(root, 'raw')]) {
    for (const b of bases) {
      for (const f of [b, `${b}.gz`]) {
        const p = path.join(dir, f);
        tried.push(p);
        if (await isFile(p)) return { file: p, tried };
      }
    }
  }
  return { file: null, tried };
}

export interface IdxDatasetOptions {
  /** Dataset name prefix (default 'fashion-mnist'). */
  name?: string;
  /** Class names; default Fashion-MNIST's ten names. */
  classNames?: string[];
}

/** Open an MNIST-style IDX split; images are 1-channel HWC (height x width x 1). */
export async function readIdxDataset(root: string, split: Split, opts: IdxDatasetOptions = {}): Promise<MemoryDataset> {
  const name = opts.name ?? 'fashion-mnist';
  const prefix = split === 'train' ? 'train' : 't10k';
  const img = await findIdx(root, prefix, 'images');
  const lab = await findIdx(root, prefix, 'labels');
  if (!img.file || !lab.file) {
    const missing = !img.file ? `${prefix}-images-idx3-ubyte[.gz]` : `${prefix}-labels-idx1-ubyte[.gz]`;
    throw new Error(
      `IDX (${name}): cannot find ${missing} in ${root} (looked for ${(!img.file ? img : lab).tried.join(', ')}). ` +
        `Fashion-MNIST: \`apt-get install dataset-fashion-mnist\` (files in /usr/share/datasets/fashion-mnist/) ` +
        `or download the four *-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist.`,
    );
  }
  const [images, labelsArr] = await Promise.all([readIdxFile(img.file, 3), readIdxFile(lab.file, 1)]);
  const [n, height, width] = images.dims;
  if (labelsArr.dims[0] !== n) {
    throw new Error(`IDX (${name}): ${img.file} holds ${n} images but ${lab.file} holds ${labelsArr.dims[0]} labels`);
  }
  if (height < 1 || width < 1) throw new Error(`IDX (${name}): ${img.file}: bad image size ${height}x${width}`);
  const classNames = opts.classNames ?? (name.includes('fashion') ? FASHION_MNIST_CLASSES : numberedClassNames(10));
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = labelsArr.data[i];
    if (l >= classNames.length) {
      throw new Error(`IDX (${name}): ${lab.file}: label ${i} is ${l}, out of range 0..${classNames.length - 1}`);
    }
    labels[i] = l;
  }
  return new MemoryDataset({
    name: `${name}-${split}`,
    height,
    width,
    channels: 1,
    classNames,
    labels,
    pixels: images.data,
  });
}
