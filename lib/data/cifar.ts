// CIFAR-10 / CIFAR-100 readers for the official *binary* versions.
//   CIFAR-10:  data_batch_{1..5}.bin, test_batch.bin; record = 1 label byte + 3072 pixel bytes
//   CIFAR-100: train.bin, test.bin; record = coarse byte + fine byte + 3072 pixel bytes
// Pixels are stored CHW planar (1024 R, 1024 G, 1024 B, each row-major 32x32); we convert to HWC.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Split } from './types.js';
import { MemoryDataset, numberedClassNames } from './memory.js';
import { isFile, readNameList } from './util.js';

const SIDE = 32;
const PLANE = SIDE * SIDE; // 1024
const PIXELS = 3 * PLANE; // 3072

const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
const CIFAR100_URL = 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz';

export const CIFAR10_RECORD_BYTES = 1 + PIXELS; // 3073
export const CIFAR100_RECORD_BYTES = 2 + PIXELS; // 3074

export interface Cifar100Options {
  labels?: 'fine' | 'coarse';
}

/** Convert one CHW planar 3x32x32 record to HWC. */
function chwToHwc(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
  for (let p = 0; p < PLANE; p++) {
    const d = dstOff + p * 3;
    dst[d] = src[srcOff + p];
    dst[d + 1] = src[srcOff + PLANE + p];
    dst[d + 2] = src[srcOff + 2 * PLANE + p];
  }
}

/** Find the folder holding `files`: root itself or root/<subdir>. */
async function resolveBinDir(root: string, subdir: string, probe: string): Promise<string | null> {
  for (const dir of [root, path.join(root, subdir)]) {
    if (await isFile(path.join(dir, probe))) return dir;
  }
  return null;
}

async function readRecords(file: string, recordBytes: number, what: string): Promise<Buffer> {
  const buf = await fsp.readFile(file);
  if (buf.length === 0 || buf.length % recordBytes !== 0) {
    throw new Error(
      `${what}: ${file} is ${buf.length} bytes, not a whole number of ${recordBytes}-byte records ` +
        `(expected record size ${recordBytes} bytes); the file is truncated or not a ${what} binary file`,
    );
  }
  return buf;
}

/** Open a CIFAR-10 binary split. root: the folder with the .bin files, or its parent. */
export async function readCifar10(root: string, split: Split): Promise<MemoryDataset> {
  const what = 'CIFAR-10';
  const names = split === 'train' ? [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`) : ['test_batch.bin'];
  const dir = await resolveBinDir(root, 'cifar-10-batches-bin', names[0]);
  const howTo =
    `Download the binary version (${CIFAR10_URL}) and run \`tar xzf cifar-10-binary.tar.gz\` in ${root}, ` +
    `which creates cifar-10-batches-bin/ holding data_batch_1..5.bin and test_batch.bin (or set data.source.download to true).`;
  if (!dir) {
    throw new Error(
      `${what}: cannot find ${names.join(', ')} in ${root} or ${path.join(root, 'cifar-10-batches-bin')}. ${howTo}`,
    );
  }
  const missing: string[] = [];
  for (const n of names) if (!(await isFile(path.join(dir, n)))) missing.push(path.join(dir, n));
  if (missing.length > 0) throw new Error(`${what}: missing ${missing.join(', ')}. ${howTo}`);
  const bufs: { file: string; buf: Buffer }[] = [];
  let total = 0;
  for (const n of names) {
    const file = path.join(dir, n);
    const buf = await readRecords(file, CIFAR10_RECORD_BYTES, what);
    bufs.push({ file, buf });
    total += buf.length / CIFAR10_RECORD_BYTES;
  }
  const labels = new Int32Array(total);
  const pixels = new Uint8Array(total * PIXELS);
  let i = 0;
  for (const { file, buf } of bufs) {
    const n = buf.length / CIFAR10_RECORD_BYTES;
    for (let r = 0; r < n; r++, i++) {
      const off = r * CIFAR10_RECORD_BYTES;
      const label = buf[off];
      if (label > 9) throw new Error(`${what}: ${file}: record ${r}: label ${label} out of range 0..9`);
      labels[i] = label;
      chwToHwc(buf, off + 1, pixels, i * PIXELS);
    }
  }
  let classNames = await readNameList(path.join(dir, 'batches.meta.txt'));
  classNames = classNames && classNames.length >= 10 ? classNames.slice(0, 10) : numberedClassNames(10);
  return new MemoryDataset({
    name: `cifar10-${split}`,
    height: SIDE,
    width: SIDE,
    channels: 3,
    classNames,
    labels,
    pixels,
  });
}

/** Open a CIFAR-100 binary split. root: the folder with train.bin/test.bin, or its parent. */
export async function readCifar100(root: string, split: Split, opts: Cifar100Options = {}): Promise<MemoryDataset> {
  const what = 'CIFAR-100';
  const which = opts.labels ?? 'fine';
  if (which !== 'fine' && which !== 'coarse') throw new Error(`${what}: labels must be 'fine' or 'coarse', got ${String(which)}`);
  const name = `${split}.bin`;
  const dir = await resolveBinDir(root, 'cifar-100-binary', name);
  if (!dir) {
    throw new Error(
      `${what}: cannot find ${name} in ${root} or ${path.join(root, 'cifar-100-binary')}. ` +
        `Download the binary version (${CIFAR100_URL}) and run \`tar xzf cifar-100-binary.tar.gz\` in ${root}, ` +
        `which creates cifar-100-binary/ holding train.bin and test.bin (or set data.source.download to true).`,
    );
  }
  const file = path.join(dir, name);
  const buf = await readRecords(file, CIFAR100_RECORD_BYTES, what);
  const n = buf.length / CIFAR100_RECORD_BYTES;
  const numClasses = which === 'fine' ? 100 : 20;
  const labels = new Int32Array(n);
  const pixels = new Uint8Array(n * PIXELS);
  for (let r = 0; r < n; r++) {
    const off = r * CIFAR100_RECORD_BYTES;
    const coarse = buf[off];
    const fine = buf[off + 1];
    if (coarse > 19) throw new Error(`${what}: ${file}: record ${r}: coarse label ${coarse} out of range 0..19`);
    if (fine > 99) throw new Error(`${what}: ${file}: record ${r}: fine label ${fine} out of range 0..99`);
    labels[r] = which === 'fine' ? fine : coarse;
    chwToHwc(buf, off + 2, pixels, r * PIXELS);
  }
  let classNames = await readNameList(path.join(dir, which === 'fine' ? 'fine_label_names.txt' : 'coarse_label_names.txt'));
  classNames = classNames && classNames.length >= numClasses ? classNames.slice(0, numClasses) : numberedClassNames(numClasses);
  return new MemoryDataset({
    name: `cifar100-${which}-${split}`,
    height: SIDE,
    width: SIDE,
    channels: 3,
    classNames,
    labels,
    pixels,
  });
}
