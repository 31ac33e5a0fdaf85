// Batch loader over an ImageDataset: per-epoch shuffling from (seed, epoch), DistributedSampler-style
// sharding, optional augmentation, and a prefetch queue so that assembling batch t+1 overlaps
// with the consumer awaiting the native step for batch t.
//
// In-memory datasets are copied (and CIFAR-augmented) here in chunks. Datasets of encoded files
// (lib/data/encoded.ts, they have decodeImages) are decoded per batch on libuv's thread pool:
// while the native step of batch t runs on its own thread, batches t+1..t+prefetch decode.
// Memory stays bounded by (prefetch + 1) batches plus the images in flight.
import { SkipNetError } from '../errors.js';
import type { Augmentation, Batch, ImageDataset } from './types.js';
import { augmentImage } from './augment.js';
import { Rng, mixSeed } from './rng.js';
import { yieldToLoop } from './util.js';

export interface BatchLoaderOptions {
  batchSize: number;
  /** New permutation each epoch from (seed, epoch); default true. */
  shuffle?: boolean;
  seed?: number;
  augment?: Augmentation;
  /** Drop this rank's last incomplete batch of each epoch; default false. */
  dropLast?: boolean;
  rank?: number;
  worldSize?: number;
  /** Batches prepared ahead of the consumer (default 2; 0 = build on demand). */
  prefetch?: number;
  /** Where next() starts (default epoch 0, batch 0), e.g. when resuming a run. */
  startEpoch?: number;
  startBatch?: number;
}

/** Bytes copied between yields to the event loop while assembling a batch. */
const CHUNK_BYTES = 1 << 20;
const CHUNK_MAX_SAMPLES = 256;

export class BatchLoader {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly augment: Augmentation;
  readonly dropLast: boolean;
  readonly rank: number;
  readonly worldSize: number;
  readonly prefetch: number;

  private waitMs = 0;
  private indexCache = new Map<number, Int32Array>();
  private cursor: { epoch: number; batch: number };
  private queue: { epoch: number; batch: number; promise: Promise<Batch> }[] = [];
  private chain: Promise<unknown> = Promise.resolve();

  constructor(dataset: ImageDataset, opts: BatchLoaderOptions) {
    const batchSize = opts.batchSize;
    const worldSize = opts.worldSize ?? 1;
    const rank = opts.rank ?? 0;
    const prefetch = opts.prefetch ?? 2;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`BatchLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(worldSize) || worldSize < 1) throw new Error(`BatchLoader: worldSize must be a positive integer, got ${worldSize}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new Error(`BatchLoader: rank ${rank} outside 0..${worldSize - 1}`);
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new Error(`BatchLoader: prefetch must be a non-negative integer, got ${prefetch}`);
    if (dataset.size < 1) throw new Error(`BatchLoader: dataset ${dataset.name} is empty`);
    const augment = opts.augment ?? 'none';
    if (augment !== 'none' && augment !== 'cifar' && augment !== 'imagenet') {
      throw new Error(`BatchLoader: unknown augmentation ${JSON.stringify(augment)} (expected 'none', 'cifar' or 'imagenet')`);
    }
    if (augment === 'imagenet' && !dataset.decodeImages) {
      throw new SkipNetError(
        'ERR_CONFIG',
        `augmentation 'imagenet' (RandomResizedCrop 224 + flip) works on image files decoded per batch, but dataset ${dataset.name} ` +
          `holds ${dataset.height}x${dataset.width} images in memory; use an ImageNet-style file source, or data.augment 'cifar' or 'none'`,
      );
    }
    if (augment === 'cifar' && dataset.decodeImages) {
      throw new SkipNetError(
        'ERR_CONFIG',
        `augmentation 'cifar' needs fixed-size in-memory images, but dataset ${dataset.name} decodes image files of any size per batch; ` +
          `use data.augment 'imagenet' (training) or 'none' (resize 256 + centre crop 224)`,
      );
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = opts.shuffle ?? true;
    this.seed = opts.seed ?? 0;
    this.augment = augment;
    this.dropLast = opts.dropLast ?? false;
    this.rank = rank;
    this.worldSize = worldSize;
    this.prefetch = prefetch;
    this.cursor = { epoch: opts.startEpoch ?? 0, batch: opts.startBatch ?? 0 };
    if (this.batchesPerEpoch < 1) {
      throw new Error(
        `BatchLoader: no batches per epoch (${this.samplesPerEpoch} samples on this rank, batchSize ${batchSize}, dropLast)`,
      );
    }
    if (this.cursor.batch < 0 || this.cursor.batch >= this.batchesPerEpoch) {
      throw new Error(`BatchLoader: startBatch ${this.cursor.batch} outside 0..${this.batchesPerEpoch - 1}`);
    }
  }

  /** Samples this rank sees per epoch (ceil(N / worldSize) when sharded, padded by wrap-around). */
  get samplesPerEpoch(): number {
    return this.worldSize > 1 ? Math.ceil(this.dataset.size / this.worldSize) : this.dataset.size;
  }

  get batchesPerEpoch(): number {
    const n = this.samplesPerEpoch;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Milliseconds the consumer spent waiting for batches (in next() and epoch()). */
  get dataWaitMs(): number {
    return this.waitMs;
  }

  resetStats(): void {
    this.waitMs = 0;
  }

  /** Bad image files the dataset skipped so far (data.badFiles 'skip'); 0 for in-memory datasets. */
  get skippedFiles(): number {
    return this.dataset.skippedFiles ?? 0;
  }

  /** Epoch and batch index of the batch the next call to next() returns. */
  get position(): { epoch: number; batch: number } {
    const head = this.queue[0];
    return head ? { epoch: head.epoch, batch: head.batch } : { ...this.cursor };
  }

  /** This rank's dataset indices for an epoch, in order (before dropLast). */
  epochIndices(epoch: number): Int32Array {
    const cached = this.indexCache.get(epoch);
    if (cached) return cached;
    const n = this.dataset.size;
    let order: Int32Array;
    if (this.shuffle) {
      order = new Rng(mixSeed(this.seed, epoch)).permutation(n);
    } else {
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    let mine = order;
    if (this.worldSize > 1) {
      // torch DistributedSampler: pad to a multiple of worldSize by wrapping around, then take
      // positions rank, rank + worldSize, ...
      const per = Math.ceil(n / this.worldSize);
      mine = new Int32Array(per);
      for (let j = 0; j < per; j++) mine[j] = order[(this.rank + j * this.worldSize) % n];
    }
    this.indexCache.set(epoch, mine);
    while (this.indexCache.size > 3) this.indexCache.delete(this.indexCache.keys().next().value as number);
    return mine;
  }

  private batchIndices(epoch: number, batch: number): Int32Array {
    if (!Number.isInteger(batch) || batch < 0 || batch >= this.batchesPerEpoch) {
      throw new RangeError(`BatchLoader: batch ${batch} outside 0..${this.batchesPerEpoch - 1}`);
    }
    const idx = this.epochIndices(epoch);
    return idx.slice(batch * this.batchSize, Math.min(idx.length, (batch + 1) * this.batchSize));
  }

  /** Assemble batch `batch` of `epoch`, yielding to the event loop between chunks. */
  async buildBatch(epoch: number, batch: number): Promise<Batch> {
    if (this.dataset.decodeImages) return this.decodeBatch(epoch, batch);
    const g = this.assembleSteps(epoch, batch);
    for (let r = g.next(); ; r = g.next()) {
      if (r.done) return r.value;
      await yieldToLoop();
    }
  }

  /** Same bytes as buildBatch, synchronously (in-memory datasets only). */
  buildBatchSync(epoch: number, batch: number): Batch {
    if (this.dataset.decodeImages) {
      throw new SkipNetError('ERR_BAD_ARG', `BatchLoader: dataset ${this.dataset.name} is decoded per batch; use buildBatch/next/epoch, not buildBatchSync`);
    }
    const g = this.assembleSteps(epoch, batch);
    for (let r = g.next(); ; r = g.next()) if (r.done) return r.value;
  }

  /** Builds a batch; yields (no value) at chunk boundaries so the caller can give the event loop a turn. */
  private *assembleSteps(epoch: number, batch: number): Generator<void, Batch, void> {
    const ds = this.dataset;
    const indices = this.batchIndices(epoch, batch);
    const { height: h, width: w, channels: c } = ds;
    const imageBytes = h * w * c;
    const n = indices.length;
    const images = new Uint8Array(n * imageBytes);
    const labels = new Int32Array(n);
    // One stream per (seed, epoch, rank, batch): augmentation does not depend on prefetch timing.
    const rng = new Rng(mixSeed(this.seed, 0xa06, epoch, this.rank, batch));
    const scratch = this.augment === 'none' ? null : new Uint8Array(imageBytes);
    const chunk = Math.max(1, Math.min(CHUNK_MAX_SAMPLES, Math.floor(CHUNK_BYTES / imageBytes)));
    for (let k = 0; k < n; k++) {
      if (k > 0 && k % chunk === 0) yield;
      const i = indices[k];
      labels[k] = ds.labels[i];
      if (!scratch) {
        ds.readImage(i, images, k * imageBytes);
      } else {
        ds.readImage(i, scratch, 0);
        augmentImage(this.augment, scratch, 0, images, k * imageBytes, h, w, c, rng);
      }
    }
    return { images, labels, n, height: h, width: w, channels: c, indices };
  }

  /** A batch of an encoded-file dataset: decoded and transformed on libuv's pool. */
  private async decodeBatch(epoch: number, batch: number): Promise<Batch> {
    const ds = this.dataset;
    const indices = this.batchIndices(epoch, batch);
    const { height: h, width: w, channels: c } = ds;
    const n = indices.length;
    const images = new Uint8Array(n * h * w * c);
    // One stream per sample (same tag as the in-memory path's per-batch stream, plus the slot):
    // crops and flips depend neither on prefetch timing nor on the order decodes finish in.
    const used = await ds.decodeImages!({
      indices,
      out: images,
      augment: this.augment,
      seedOf: (k) => mixSeed(this.seed, 0xa06, epoch, this.rank, batch, k),
    });
    // A skipped bad file's slot holds a replacement image: report its index and label.
    const labels = new Int32Array(n);
    for (let k = 0; k < n; k++) labels[k] = ds.labels[used[k]];
    return { images, labels, n, height: h, width: w, channels: c, indices: used };
  }

  /**
   * Queue a build after the ones already queued (in-memory builds run one at a time, in order).
   * Per-batch decoding starts at once: the dataset's first-come-first-served limit keeps the
   * batches in order while the next one's images fill the pool as the current one's finish.
   */
  private schedule(epoch: number, batch: number): Promise<Batch> {
    if (this.dataset.decodeImages) {
      const d = this.decodeBatch(epoch, batch);
      d.catch(() => undefined); // errors surface when the batch is awaited
      return d;
    }
    const p = this.chain.then(() => this.buildBatch(epoch, batch));
    this.chain = p.catch(() => undefined);
    p.catch(() => undefined); // errors surface when the batch is awaited
    return p;
  }

  private async timed(p: Promise<Batch>): Promise<Batch> {
    const t0 = performance.now();
    try {
      return await p;
    } finally {
      this.waitMs += performance.now() - t0;
    }
  }

  /** The next batch, continuing across epoch boundaries; keeps `prefetch` batches in preparation. */
  async next(): Promise<Batch> {
    const fillQueue = (target: number): void => {
      while (this.queue.length < target) {
        const { epoch, batch } = this.cursor;
        this.queue.push({ epoch, batch, promise: this.schedule(epoch, batch) });
        this.cursor = batch + 1 < this.batchesPerEpoch ? { epoch, batch: batch + 1 } : { epoch: epoch + 1, batch: 0 };
      }
    };
    fillQueue(1);
    const head = this.queue.shift()!;
    fillQueue(this.prefetch); // batches t+1..t+prefetch are built while the consumer works on t
    return this.timed(head.promise);
  }

  /** All batches of one epoch, in order, with prefetch (independent of next()'s position). */
  async *epoch(e: number): AsyncGenerator<Batch> {
    const total = this.batchesPerEpoch;
    const ahead: Promise<Batch>[] = [];
    let scheduled = 0;
    for (let b = 0; b < total; b++) {
      while (scheduled < total && ahead.length < this.prefetch + 1) ahead.push(this.schedule(e, scheduled++));
      const p = ahead.shift()!;
      while (scheduled < total && ahead.length < this.prefetch) ahead.push(this.schedule(e, scheduled++));
      yield await this.timed(p);
    }
  }
}

/** An ordered, unaugmented pass over the whole dataset for evaluation (last partial batch included). */
export function fullPass(dataset: ImageDataset, batchSize: number, opts: { prefetch?: number } = {}): AsyncGenerator<Batch> {
  return new BatchLoader(dataset, { batchSize, shuffle: false, augment: 'none', dropLast: false, prefetch: opts.prefetch }).epoch(0);
}
