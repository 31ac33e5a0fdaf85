// Tiny ImageNet-200 layout (tiny-imagenet-200.zip as distributed):
//   root/wnids.txt                               the classes, one wnid per line
//   root/train/<wnid>/images/<wnid>_<k>.JPEG     64x64 (some grayscale: decoded to RGB)
//   root/val/images/val_<k>.JPEG
//   root/val/val_annotations.txt                 <file> \t <wnid> \t <x0> \t <y0> \t <x1> \t <y1>
// Class k is the k-th wnid of wnids.txt in sorted order. The 'test' split reads val (the test
// set's labels are not public). `exclude` drops classes: e.g. a copy that carries extra classes
// in wnids.txt, train/ and val/ can be read as the standard 200.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Split } from './types.js';
import { readImageList, type FolderDataset, type FolderOptions, type ImageList } from './folder.js';
import { byCodeUnit, collectImages, IMAGE_EXTENSIONS } from './image-files.js';
import { dataError, isDir, isFile } from './util.js';

export interface TinyImageNetOptions {
  /** wnids to leave out (their images are skipped); each must be listed in wnids.txt. */
  exclude?: string[];
}

async function readWnids(root: string): Promise<string[]> {
  const file = path.join(root, 'wnids.txt');
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw dataError(
      `Tiny ImageNet: cannot read ${file}: ${(e as Error).message}; root must be the tiny-imagenet-200 folder (holding wnids.txt, train/, val/)`,
      e,
    );
  }
  const wnids = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (wnids.length === 0) throw dataError(`Tiny ImageNet: ${file} lists no classes`);
  const seen = new Set<string>();
  for (const w of wnids) {
    if (/\s/.test(w)) throw dataError(`Tiny ImageNet: ${file}: ${JSON.stringify(w)} is not a wnid (expected one wnid per line)`);
    if (seen.has(w)) throw dataError(`Tiny ImageNet: ${file} lists ${w} twice`);
    seen.add(w);
  }
  return wnids;
}

/** The files and labels of a Tiny ImageNet split, without decoding anything. */
export async function listTinyImageNet(root: string, split: Split, opts: TinyImageNetOptions = {}): Promise<ImageList> {
  const wnidsFile = path.join(root, 'wnids.txt');
  const all = await readWnids(root);
  const listed = new Set(all);
  const excluded = new Set(opts.exclude ?? []);
  for (const w of excluded) {
    if (!listed.has(w)) throw dataError(`Tiny ImageNet: exclude names ${w}, which ${wnidsFile} does not list`);
  }
  const classNames = all.filter((w) => !excluded.has(w)).sort(byCodeUnit);
  if (classNames.length === 0) throw dataError(`Tiny ImageNet: every class of ${wnidsFile} is excluded`);
  const index = new Map(classNames.map((c, k) => [c, k]));
  const files: string[] = [];
  const labels: number[] = [];
  const base = { name: `tiny-imagenet-${split}`, split, classNames, files, labels, what: 'Tiny ImageNet' };

  if (split === 'train') {
    const trainDir = path.join(root, 'train');
    if (!(await isDir(trainDir))) throw dataError(`Tiny ImageNet: ${trainDir} does not exist (expected ${trainDir}/<wnid>/images/*.JPEG)`);
    for (const e of await fsp.readdir(trainDir, { withFileTypes: true })) {
      if (e.isDirectory() && !e.name.startsWith('.') && !listed.has(e.name)) {
        throw dataError(`Tiny ImageNet: ${path.join(trainDir, e.name)} is not a class of ${wnidsFile}; add it there or remove the folder`);
      }
    }
    for (let c = 0; c < classNames.length; c++) {
      const dir = path.join(trainDir, classNames[c]!);
      if (!(await isDir(dir))) throw dataError(`Tiny ImageNet: ${wnidsFile} lists ${classNames[c]} but ${dir} does not exist`);
      const found: string[] = [];
      await collectImages(dir, found);
      if (found.length === 0) throw dataError(`Tiny ImageNet: class folder ${dir} has no images (${IMAGE_EXTENSIONS.join(', ')})`);
      for (const f of found) {
        files.push(f);
        labels.push(c);
      }
    }
    return { ...base, baseDir: trainDir };
  }

  const valDir = path.join(root, 'val');
  const imagesDir = path.join(valDir, 'images');
  const annotations = path.join(valDir, 'val_annotations.txt');
  if (!(await isFile(annotations))) {
    throw dataError(`Tiny ImageNet: ${annotations} is missing; the 'test' split reads val/images/*.JPEG labelled by val/val_annotations.txt`);
  }
  const byFile = new Map<string, string>(); // file name -> wnid
  const lines = (await fsp.readFile(annotations, 'utf8')).split(/\r?\n/);
  lines.forEach((line, k) => {
    if (line.trim() === '') return;
    const [file, wnid] = line.split('\t');
    if (!file || !wnid) throw dataError(`Tiny ImageNet: ${annotations}: line ${k + 1} is ${JSON.stringify(line.slice(0, 60))}; expected '<file>\\t<wnid>\\t<box>'`);
    if (!listed.has(wnid)) {
      throw dataError(`Tiny ImageNet: ${annotations}: line ${k + 1} labels ${file} as ${wnid}, which ${wnidsFile} does not list; the files do not belong together`);
    }
    if (byFile.has(file)) throw dataError(`Tiny ImageNet: ${annotations}: line ${k + 1} labels ${file} a second time`);
    byFile.set(file, wnid);
  });
  if (!(await isDir(imagesDir))) throw dataError(`Tiny ImageNet: ${imagesDir} does not exist (expected the val images there)`);
  const onDisk: string[] = [];
  await collectImages(imagesDir, onDisk);
  const names = new Set(onDisk.map((f) => path.relative(imagesDir, f)));
  const unlabelled = [...names].filter((n) => !byFile.has(n));
  if (unlabelled.length > 0) {
    throw dataError(`Tiny ImageNet: ${unlabelled.length} images in ${imagesDir} have no line in ${annotations} (${unlabelled.slice(0, 3).join(', ')}${unlabelled.length > 3 ? ', ...' : ''})`);
  }
  const absent = [...byFile.keys()].filter((n) => !names.has(n));
  if (absent.length > 0) {
    throw dataError(`Tiny ImageNet: ${annotations} names ${absent.length} images that are not in ${imagesDir} (${absent.slice(0, 3).join(', ')}${absent.length > 3 ? ', ...' : ''})`);
  }
  for (const name of [...byFile.keys()].sort(byCodeUnit)) {
    const c = index.get(byFile.get(name)!);
    if (c === undefined) continue; // an excluded class
    files.push(path.join(imagesDir, name));
    labels.push(c);
  }
  return { ...base, baseDir: valDir };
}

/** Open a Tiny ImageNet split as an in-memory 64x64 RGB dataset. */
export async function readTinyImageNet(root: string, split: Split, opts: TinyImageNetOptions & FolderOptions = {}): Promise<FolderDataset> {
  return readImageList(await listTinyImageNet(root, split, opts), opts);
}
