// A class-folder tree of image files as an EncodedImageSource: dir/<class>/**/*.{jpg,jpeg,png}
// (ImageNet's train/<wnid>/*.JPEG, the shared imagenet-sample/<wnid>/*.JPEG). Classes are the
// sub-folders in code-unit order (label = position), files are sorted by path within a class,
// as torchvision's ImageFolder orders them. Nothing is opened but the folders.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { SkipNetError } from '../errors.js';
import { byCodeUnit, collectImages, IMAGE_EXTENSIONS } from './image-files.js';
import type { EncodedImageSource } from './types.js';
import { isDir } from './util.js';

export interface EncodedFolderOptions {
  /** Dataset name (default: the folder's name). */
  name?: string;
  /** Use these classes, in this order (default: every sub-folder, sorted); a missing one is an error. */
  classNames?: string[];
}

class ListedSource implements EncodedImageSource {
  readonly size: number;
  readonly numClasses: number;
  constructor(
    readonly name: string,
    readonly classNames: string[],
    readonly labels: Int32Array,
    readonly files: string[],
  ) {
    this.size = files.length;
    this.numClasses = classNames.length;
  }
  filePath(i: number): string {
    const f = this.files[i];
    if (f === undefined) throw new RangeError(`${this.name}: image index ${i} outside 0..${this.size - 1}`);
    return f;
  }
}

/** List dir/<class>/** image files as a labelled source. */
export async function listEncodedFolder(dir: string, opts: EncodedFolderOptions = {}): Promise<EncodedImageSource & { files: string[] }> {
  const root = path.resolve(dir);
  if (!(await isDir(root))) {
    throw new SkipNetError('ERR_DATA', `image folder ${root} does not exist or is not a folder (expected ${root}/<class>/*.jpg|jpeg|png)`);
  }
  let classNames = opts.classNames;
  if (!classNames) {
    const entries = await readdir(root, { withFileTypes: true });
    classNames = entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort(byCodeUnit);
  }
  if (classNames.length === 0) throw new SkipNetError('ERR_DATA', `image folder ${root} has no class folders (expected ${root}/<class>/*.jpg|jpeg|png)`);
  const files: string[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classNames.length; c++) {
    const classDir = path.join(root, classNames[c]);
    if (!(await isDir(classDir))) throw new SkipNetError('ERR_DATA', `class folder ${classDir} is missing`);
    const found: string[] = [];
    await collectImages(classDir, found);
    if (found.length === 0) {
      throw new SkipNetError('ERR_DATA', `class folder ${classDir} has no images (${IMAGE_EXTENSIONS.join(', ')})`);
    }
    for (const f of found) {
      files.push(f);
      labels.push(c);
    }
  }
  return new ListedSource(opts.name ?? path.basename(root), classNames, Int32Array.from(labels), files);
}
