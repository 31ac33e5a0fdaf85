// An ImageDataset over encoded image files of any size (ImageNet): nothing is decoded up
// front; the loader asks for one batch at a time (decodeImages) and each image goes through
// the ImageNet transforms (imagenet-preprocess.ts) on libuv's thread pool.
//
// Where the work runs: sharp's calls go to libuv's thread pool, so several images decode at
// once while the main thread only reads files, enlarges small crops (resample.ts) and copies
// 150 KB results into the batch. The pool size (UV_THREADPOOL_SIZE, default 4) bounds the
// images decoding at once; `concurrency` (default 2 x pool size) keeps the pool fed across
// batch boundaries (a first-come-first-served Limiter shared by all batches in preparation)
// without holding more than a few dozen files. `npm run bench -- pipeline` compares this
// placement with one image at a time on N libvips threads (sharp.concurrency(N)) and with N
// worker_threads. On the 2-core dev VM (ImageNet sample, float batches, other work running)
// the three were within 10% of each other: pool 135, vips 144, workers 146 images/s (104-137
// for all three during a training run), and the bench's float output is this placement's worst
// case, since it normalises on the main thread, which the trainer leaves to the native step.
// Worker threads add no decode threads (they share the one libuv pool), cost an isolate each
// and a message hop per image, and libvips cannot split one JPEG's decode across threads;
// hence the pool.
//
// Bad files (truncated, not an image, empty, unreadable): with badFiles 'error' the batch
// fails with a SkipNetError naming the file; with 'skip' the slot gets the next good image
// (index i+1, i+2, ... wrapping), the file is remembered (never tried again) and counted in
// skippedFiles, and a warning names it once.
import { readFile as readFileCallback } from 'node:fs';
import { promisify } from 'node:util';
import { SkipNetError } from '../errors.js';
import { DEFAULT_CROP, DEFAULT_RESIZE, type ImagenetPreprocessOptions, preprocessImage } from './imagenet-preprocess.js';
import { Rng } from './rng.js';
import type { BadFilePolicy, DecodeRequest, EncodedImageSource, ImageDataset } from './types.js';
import { Limiter } from './limiter.js';

// The callback readFile: a little cheaper per file than fs/promises' (fewer pool round trips).
const readFile = promisify(readFileCallback);

export interface EncodedDatasetOptions extends ImagenetPreprocessOptions {
  /** 'error' (default): a file that cannot be decoded fails the batch; 'skip': replace and count it. */
  badFiles?: BadFilePolicy;
  /** Images in flight, over all batches in preparation (default 2 x libuv pool size). */
  concurrency?: number;
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
    const mode = augment === 'imagenet' ? 'train' : 'eval';
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
    const all = Array.from(indices, (_, k) =>
      this.limiter.run(() =>
        slot(k).catch((e: unknown) => {
          failed = true;
          throw e;
        }),
      ),
    );
    await Promise.all(all);
    return used;
  }
}
