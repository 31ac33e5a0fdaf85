// An ImageDataset over encoded image files of any size (ImageNet): nothing is decoded up
// front; the loader asks for one batch at a time (decodeImages) and each image goes through
// the ImageNet transforms.
//
// Where the work runs: the files of a batch are read on libuv's pool, then all its JPEGs are
// decoded, cropped and resized in one native call (lib/data/jpeg-batch.ts) on decodeThreads
// threads of its own, bit-identical to torchvision + Pillow. Files that path does not take
// (PNG and other formats, CMYK JPEGs, corrupt data) go one at a time through sharp
// (imagenet-preprocess.ts) on libuv's pool, `concurrency` at once (a first-come-first-served
// Limiter shared by all batches in preparation, so file reads and fallbacks of the next batch
// queue behind the current one). `npm run bench -- pipeline` compares this placement with the
// sharp-only ones it replaced: on the 2-core dev VM the native path was 1.3-1.4x torchvision's
// DataLoader where sharp on libuv's pool was 0.6-1.0x (bench/results/pipeline-*.json).
//
// Bad files (truncated, not an image, empty, unreadable): with badFiles 'error' the batch
// fails with a SkipNetError naming the file; with 'skip' the slot gets the next good image
// (index i+1, i+2, ... wrapping), the file is remembered (never tried again) and counted in
// skippedFiles, and a warning names it once.
import { readFile as readFileCallback } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import { SkipNetError } from '../errors.js';
import { DEFAULT_CROP, DEFAULT_RESIZE, type ImagenetPreprocessOptions, type PreprocessMode, preprocessImage } from './imagenet-preprocess.js';
import { Rng } from './rng.js';
import type { BadFilePolicy, DecodeRequest, EncodedImageSource, ImageDataset } from './types.js';
import { preprocessJpegBatch } from './jpeg-batch.js';
import { Limiter } from './limiter.js';

// The callback readFile: a little cheaper per file than fs/promises' (fewer pool round trips).
const readFile = promisify(readFileCallback);

export interface EncodedDatasetOptions extends ImagenetPreprocessOptions {
  /** 'error' (default): a file that cannot be decoded fails the batch; 'skip': replace and count it. */
  badFiles?: BadFilePolicy;
  /** Images in flight, over all batches in preparation (default 2 x libuv pool size). */
  concurrency?: number;
  /**
   * 'auto' (default): JPEGs through the native path (lib/data/jpeg-batch.ts), other files and the
   * JPEGs it hands back through sharp; 'sharp': every file through sharp (for comparisons).
   */
  decoder?: 'auto' | 'sharp';
  /** Threads of the native JPEG decode, per batch (default: the CPUs available). */
  decodeThreads?: number;
  /** Called once per newly skipped file (default: process.emitWarning). */
  onSkip?: (file: string, reason: string) => void;
}

export interface BadFile {
  index: number;
  file: string;
  reason: string;
}

/** libuv's pool size as this process set it (UV_THREADPOOL_SIZE, default 4, at most 1024). */
export function uvThreadpoolSize(): number {
  const v = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(v) && v > 0 ? Math.min(v, 1024) : 4;
}

export class EncodedImageDataset implements ImageDataset {
  readonly name: string;
  readonly size: number;
  readonly height: number;
  readonly width: number;
  readonly channels = 3;
  readonly numClasses: number;
  readonly classNames: string[];
  readonly labels: Int32Array;
  readonly source: EncodedImageSource;
  readonly badFilePolicy: BadFilePolicy;
  readonly concurrency: number;
  readonly decodeThreads: number;
  readonly decoder: 'auto' | 'sharp';
  private readonly preprocess: ImagenetPreprocessOptions;
  private readonly onSkip: (file: string, reason: string) => void;
  private readonly bad = new Map<number, BadFile>();
  /** Shared by every batch in preparation, first come first served (see limiter.ts). */
  private readonly limiter: Limiter;

  constructor(source: EncodedImageSource, opts: EncodedDatasetOptions = {}) {
    const crop = opts.cropSize ?? DEFAULT_CROP;
    const resize = opts.resizeSize ?? DEFAULT_RESIZE;
    if (!Number.isInteger(crop) || crop < 1) throw new SkipNetError('ERR_BAD_ARG', `${source.name}: cropSize must be a positive integer, got ${crop}`);
    if (!Number.isInteger(resize) || resize < crop) {
      throw new SkipNetError('ERR_BAD_ARG', `${source.name}: resizeSize must be an integer >= cropSize (${crop}), got ${resize}`);
    }
    if (source.size < 1) throw new SkipNetError('ERR_DATA', `${source.name}: no image files`);
    if (source.labels.length !== source.size) {
      throw new SkipNetError('ERR_DATA', `${source.name}: ${source.labels.length} labels for ${source.size} files`);
    }
    const policy = opts.badFiles ?? 'error';
    if (policy !== 'error' && policy !== 'skip') {
      throw new SkipNetError('ERR_BAD_ARG', `${source.name}: badFiles must be 'error' or 'skip', got ${JSON.stringify(policy)}`);
    }
    const concurrency = opts.concurrency ?? 2 * uvThreadpoolSize();
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new SkipNetError('ERR_BAD_ARG', `${source.name}: concurrency must be a positive integer, got ${concurrency}`);
    }
    this.name = source.name;
    this.size = source.size;
    this.height = crop;
    this.width = crop;
    this.numClasses = source.numClasses;
    this.classNames = source.classNames;
    this.labels = source.labels;
    this.source = source;
    this.badFilePolicy = policy;
    this.concurrency = concurrency;
    this.limiter = new Limiter(concurrency);
    const decodeThreads = opts.decodeThreads ?? os.availableParallelism();
    if (!Number.isInteger(decodeThreads) || decodeThreads < 1 || decodeThreads > 1024) {
      throw new SkipNetError('ERR_BAD_ARG', `${source.name}: decodeThreads must be an integer in 1..1024, got ${decodeThreads}`);
    }
    this.decodeThreads = decodeThreads;
    const decoder = opts.decoder ?? 'auto';
    if (decoder !== 'auto' && decoder !== 'sharp') {
      throw new SkipNetError('ERR_BAD_ARG', `${source.name}: decoder must be 'auto' or 'sharp', got ${JSON.stringify(decoder)}`);
    }
    this.decoder = decoder;
    this.preprocess = { cropSize: crop, resizeSize: resize, scale: opts.scale, ratio: opts.ratio };
    this.onSkip =
      opts.onSkip ?? ((file, reason) => process.emitWarning(`skipnet: skipping bad image ${file}: ${reason} (data.badFiles is 'skip')`));
  }

  /** Number of distinct files skipped so far. */
  get skippedFiles(): number {
    return this.bad.size;
  }

  /** The skipped files, in the order they were found. */
  get badFiles(): BadFile[] {
    return [...this.bad.values()];
  }

  readImage(i: number): never {
    throw new SkipNetError(
      'ERR_BAD_ARG',
      `${this.name}: image ${i} is an encoded file decoded per batch; read it through BatchLoader/fullPass (or decodeImages), not readImage`,
    );
  }

  async decodeImages(req: DecodeRequest): Promise<Int32Array> {
    const { indices, out, augment } = req;
    if (augment === 'cifar') {
      throw new SkipNetError(
        'ERR_CONFIG',
        `${this.name}: augmentation 'cifar' needs fixed-size in-memory images; for image files of any size use data.augment 'imagenet' (training) or 'none' (resize 256 + centre crop)`,
      );
    }
    const imageBytes = this.height * this.width * 3;
    if (out.length < indices.length * imageBytes) {
      throw new RangeError(`${this.name}: output holds ${out.length} bytes, ${indices.length} images need ${indices.length * imageBytes}`);
    }
    const mode: PreprocessMode = augment === 'imagenet' ? 'train' : 'eval';
    const used = new Int32Array(indices.length);
    let failed = false; // once a slot fails, the request's queued slots do no work
    const slot = async (k: number): Promise<void> => {
      if (failed) return;
      let i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`${this.name}: image index ${i} outside 0..${this.size - 1}`);
      // In skip mode, walk forward past bad files (each one is tried once, then remembered).
      for (let tried = 0; ; tried++) {
        if (tried >= this.size) {
          throw new SkipNetError('ERR_DATA', `${this.name}: none of the ${this.size} image files could be decoded (first: ${this.badFiles[0]?.file})`);
        }
        if (!this.bad.has(i)) {
          const file = this.source.filePath(i);
          // A fresh stream per try: a replacement image draws what the bad one would have,
          // so the batch depends only on the seed and on which files are bad.
          const rng = mode === 'train' ? new Rng(req.seedOf(k)) : null;
          try {
            const r = await preprocessImage(await readFile(file), mode, rng, this.preprocess);
            out.set(r.pixels, k * imageBytes);
            used[k] = i;
            return;
          } catch (e) {
            const reason = (e as Error)?.message ?? String(e);
            if (this.badFilePolicy === 'error') {
              throw new SkipNetError(
                'ERR_DATA',
                `cannot decode image ${file}: ${reason}. Replace or delete the file, or set data.badFiles to 'skip' to skip and count bad files`,
                { cause: e },
              );
            }
            if (!this.bad.has(i)) {
              this.bad.set(i, { index: i, file, reason });
              this.onSkip(file, reason);
            }
          }
        }
        i = (i + 1) % this.size;
      }
    };
    // The fast path first: read the files, then decode every JPEG of the batch in one native call.
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`${this.name}: image index ${i} outside 0..${this.size - 1}`);
    }
    const inputs = await Promise.all(
      Array.from(indices, (i) =>
        this.bad.has(i) || this.decoder === 'sharp' ? null : this.limiter.run(() => readFile(this.source.filePath(i)).catch(() => null)),
      ),
    );
    const items = inputs.map((input, k) => ({ input, mode, rng: mode === 'train' ? new Rng(req.seedOf(k)) : null }));
    const fast = await preprocessJpegBatch(items, out, this.decodeThreads, this.preprocess);
    // The rest (other formats, CMYK, unreadable or corrupt files) go one by one through sharp,
    // which decodes what it can and names the problem otherwise.
    const slow: Promise<void>[] = [];
    fast.forEach((r, k) => {
      if (r.ok) used[k] = indices[k];
      else
        slow.push(
          this.limiter.run(() =>
            slot(k).catch((e: unknown) => {
              failed = true;
              throw e;
            }),
          ),
        );
    });
    await Promise.all(slow);
    return used;
  }
}
