// ImageNet ILSVRC-2012 classification layout:
//   root/train/<wnid>/*.JPEG
//   root/val/<wnid>/*.JPEG                         (val sorted into class folders), or
//   root/val/*.JPEG + a ground-truth file          (flat, as distributed; see imagenet-labels.ts)
// root may also be Kaggle's download folder (root/ILSVRC/Data/CLS-LOC/{train,val} next to
// root/LOC_val_solution.csv). Class k is the k-th wnid of train/ in sorted order (torchvision's
// ImageFolder order; 1000 classes on the real set). The 'test' split reads val: ImageNet's test
// labels are not public.
//
// Two ways to serve the images (`size` = output side, default 224):
//   - per batch (default): an EncodedImageDataset (encoded.ts) decodes each batch's files with the
//     reference's transforms (augment 'imagenet': RandomResizedCrop + flip; 'none': resize the
//     short side to size*256/224, centre crop). Memory stays small: this is the way for the real set.
//   - preload: the folder reader (readImageList) decodes every image once, short side to `size`
//     and centre crop (sharp's fit 'cover', so photos are not stretched), into memory with the
//     on-disk decode cache. For subsets only (224x224 RGB is 150 KB an image); augment 'none' or 'cifar'.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { BadFilePolicy, EncodedImageSource, ImageDataset, Split } from './types.js';
import { EncodedImageDataset } from './encoded.js';
import { readImageList, type FolderDataset, type FolderOptions, type ImageList } from './folder.js';
import { byCodeUnit, collectImages, IMAGE_EXTENSIONS } from './image-files.js';
import { readSynsets, readValLabels, SYNSET_FILES } from './imagenet-labels.js';
import { dataError, isDir, isFile } from './util.js';

export const IMAGENET_DEFAULT_SIZE = 224;

interface Layout {
  /** The folder holding train/ and val/. */
  imageRoot: string;
  /** Where ground-truth and synsets files may sit (root, and for Kaggle also the download folder). */
  root: string;
}

async function layoutOf(root: string): Promise<Layout> {
  const kaggle = path.join(root, 'ILSVRC', 'Data', 'CLS-LOC');
  if (!(await isDir(path.join(root, 'train'))) && !(await isDir(path.join(root, 'val'))) && (await isDir(kaggle))) {
    return { imageRoot: kaggle, root };
  }
  return { imageRoot: root, root };
}

async function subfolders(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(byCodeUnit);
}

async function imagesIn(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(byCodeUnit);
}

async function findSynsets(root: string): Promise<string | null> {
  for (const name of SYNSET_FILES) if (await isFile(path.join(root, name))) return path.join(root, name);
  return null;
}

/** The sorted class wnids: train/'s folders; without train/, a synsets file's wnids or val/'s folders. */
async function classList(layout: Layout): Promise<string[]> {
  const trainDir = path.join(layout.imageRoot, 'train');
  if (await isDir(trainDir)) {
    const classes = await subfolders(trainDir);
    if (classes.length === 0) throw dataError(`ImageNet: ${trainDir} has no class folders (expected ${trainDir}/<wnid>/*.JPEG)`);
    return classes;
  }
  const synsets = await findSynsets(layout.root);
  if (synsets) return [...new Set((await readSynsets(synsets)).values())].sort(byCodeUnit);
  const valDir = path.join(layout.imageRoot, 'val');
  const valClasses = (await isDir(valDir)) ? await subfolders(valDir) : [];
  if (valClasses.length > 0) return valClasses;
  throw dataError(
    `ImageNet: cannot tell the class list: ${trainDir} does not exist and ${layout.root} holds no synsets file ` +
      `(${SYNSET_FILES.join(', ')}); expected the ILSVRC-2012 layout ${layout.root}/train/<wnid>/*.JPEG and ${layout.root}/val/`,
  );
}

async function classFolderImages(dir: string, label: number, files: string[], labels: number[]): Promise<void> {
  const found: string[] = [];
  await collectImages(dir, found);
  if (found.length === 0) throw dataError(`ImageNet: class folder ${dir} has no images (${IMAGE_EXTENSIONS.join(', ')}); remove it or fill it`);
  for (const f of found) {
    files.push(f);
    labels.push(label);
  }
}

/** The files and labels of an ImageNet split, without decoding anything. */
export async function listImageNet(root: string, split: Split): Promise<ImageList> {
  const layout = await layoutOf(root);
  const classNames = await classList(layout);
  const index = new Map(classNames.map((c, k) => [c, k]));
  const files: string[] = [];
  const labels: number[] = [];
  const base = { name: `imagenet-${split}`, split, classNames, files, labels, what: 'ImageNet' };

  if (split === 'train') {
    const trainDir = path.join(layout.imageRoot, 'train');
    if (!(await isDir(trainDir))) throw dataError(`ImageNet: ${trainDir} does not exist (expected ${trainDir}/<wnid>/*.JPEG)`);
    for (let c = 0; c < classNames.length; c++) await classFolderImages(path.join(trainDir, classNames[c]!), c, files, labels);
    return { ...base, baseDir: trainDir };
  }

  const valDir = path.join(layout.imageRoot, 'val');
  if (!(await isDir(valDir))) {
    throw dataError(`ImageNet: ${valDir} does not exist (the 'test' split reads ImageNet's val set: val/<wnid>/*.JPEG, or val/*.JPEG with a ground-truth file)`);
  }
  const folders = await subfolders(valDir);
  const flat = await imagesIn(valDir);
  if (folders.length > 0 && flat.length > 0) {
    throw dataError(
      `ImageNet: ${valDir} holds both class folders (${folders[0]}, ...) and images (${flat[0]}, ...); ` +
        `use one layout: val/<wnid>/*.JPEG, or val/*.JPEG with a ground-truth file`,
    );
  }
  if (folders.length > 0) {
    for (const wnid of folders) {
      const c = index.get(wnid);
      if (c === undefined) {
        throw dataError(`ImageNet: ${path.join(valDir, wnid)} is not a class of the train set (${classNames.length} classes); remove it or add train/${wnid}/`);
      }
      await classFolderImages(path.join(valDir, wnid), c, files, labels);
    }
    return { ...base, baseDir: valDir };
  }
  if (flat.length === 0) throw dataError(`ImageNet: ${valDir} holds no images (${IMAGE_EXTENSIONS.join(', ')})`);
  const gt = await readValLabels(flat, layout.root, valDir);
  flat.forEach((name, k) => {
    const wnid = gt.wnids[k]!;
    const c = index.get(wnid);
    if (c === undefined) {
      throw dataError(`ImageNet: ${gt.sources.join(' + ')} label ${name} as ${wnid}, which is not a class of the train set (${classNames.length} classes)`);
    }
    files.push(path.join(valDir, name));
    labels.push(c);
  });
  return { ...base, baseDir: valDir };
}

export interface ImageNetOptions extends Omit<FolderOptions, 'size'> {
  /** Output side (square); default 224. */
  size?: number;
  /** Decode every image into memory up front instead of per batch (see the top of this file). */
  preload?: boolean;
  /** Per-batch mode: a file that cannot be decoded stops the run ('error', default) or is skipped. Preload: see skipBad. */
  badFiles?: BadFilePolicy;
  /** Per-batch mode: decode threads per batch (default: the CPUs available). */
  decodeThreads?: number;
}

/** An ImageList as the per-batch pipeline's input. */
function encodedSource(list: ImageList): EncodedImageSource {
  const labels = Int32Array.from(list.labels);
  return {
    name: list.name,
    size: list.files.length,
    numClasses: list.classNames.length,
    classNames: list.classNames,
    labels,
    filePath: (i: number): string => {
      const f = list.files[i];
      if (f === undefined) throw new RangeError(`${list.name}: image index ${i} outside 0..${list.files.length - 1}`);
      return f;
    },
  };
}

/** Open an ImageNet split, decoded per batch (default) or preloaded (see the top of this file). */
export async function openImageNet(root: string, split: Split, opts: ImageNetOptions = {}): Promise<ImageDataset> {
  if (opts.preload) return readImageNet(root, split, opts);
  const size = opts.size ?? IMAGENET_DEFAULT_SIZE;
  const list = await listImageNet(root, split);
  return new EncodedImageDataset(encodedSource(list), {
    cropSize: size,
    resizeSize: Math.round((size * 256) / 224),
    badFiles: opts.badFiles,
    decodeThreads: opts.decodeThreads,
  });
}

/** Decode an ImageNet split into memory: every image resized to size x size (short side, centre crop). */
export async function readImageNet(root: string, split: Split, opts: ImageNetOptions = {}): Promise<FolderDataset> {
  const list = await listImageNet(root, split);
  const { size, preload: _preload, badFiles, decodeThreads: _threads, ...folder } = opts;
  return readImageList(list, {
    resizeFit: 'cover',
    ...folder,
    skipBad: folder.skipBad ?? badFiles === 'skip',
    size: size ?? IMAGENET_DEFAULT_SIZE,
  });
}
