// Inference that really skips: a trained SkipNet behind a small service API.
//
//   const clf = await Classifier.load('runs/c10/best');
//   const r = await clf.predict(await readFile('cat.jpg'));            // one image
//   const rs = await clf.predict([img1, img2], { threshold: 0.7 });    // a batch, fewer blocks
//
// Concurrent predict() calls are queued and micro-batched: requests with the same gate
// threshold share one native evalStep (execution 'skip': each gated block runs only on
// the images whose gate said execute), at most maxBatch images, after waiting at most
// maxWaitMs for company. One native call is in flight at a time. Works in any thread
// (the addon keeps per-environment state, so worker_threads can each load a model).

import os from 'node:os';
import type { EvalStepResult, ModelInfo, NativeModel, NativeModelSpec } from '../binding-types.js';
import { isSkipNetError, SkipNetError } from '../errors.js';
import { createModel } from '../model.js';
import { MicroBatcher, disposedError } from './batcher.js';
import { THRESHOLD_GRID, thresholdForBudget } from './budget.js';
import { describeValue, isImageInput, prepareImage, type InputShape } from './preprocess.js';
import { datasetClassNames, resolveSource, trainingInputSize } from './source.js';
import type {
  Calibration,
  CalibrationPoint,
  ClassifierOptions,
  ClassifierStats,
  ImageInput,
  ModelSourceInfo,
  PredictOptions,
  PredictResult,
  TopKEntry,
} from './types.js';

const DEFAULTS = { maxBatch: 32, maxWaitMs: 2, threshold: 0.5, topK: 5, calibrationSize: 64 };

function badArg(message: string): SkipNetError {
  return new SkipNetError('ERR_BAD_ARG', message);
}

function checkThreshold(t: unknown, what: string): number {
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 1) throw badArg(`${what} must be a number in [0, 1], got ${JSON.stringify(t)}`);
  return t;
}

/** What one native call returns, per image, before topK/class names are applied. */
interface RawPrediction {
  label: number;
  logits: Float32Array;
  probabilities: Float32Array;
  executedBlocks: number[];
  macs: number;
  threshold: number;
}

export class Classifier {
  /** The native model (for advanced use: info(), or evalStep on your own batches). */
  readonly model: NativeModel & { readonly spec: NativeModelSpec };
  readonly spec: NativeModelSpec;
  readonly numClasses: number;
  readonly classNames: readonly string[] | undefined;
  readonly inputHeight: number;
  readonly inputWidth: number;
  readonly inputChannels: number;
  /** Architecture facts at the input size (blocks, blockMacs, fullMacs...). */
  readonly info: ModelInfo;
  readonly source: ModelSourceInfo;

  private readonly shape: InputShape;
  private readonly batcher: MicroBatcher<RawPrediction>;
  private readonly defaultThreshold: number;
  private readonly calibrationSize: number;
  private readonly calibrationPool: Uint8Array[] = [];
  private calibrationTable: Calibration | null = null;
  private calibrating: Promise<Calibration> | null = null;
  private disposed = false;
  private readonly counters: ClassifierStats = { nativeCalls: 0, images: 0, requests: 0 };

  private constructor(
    model: NativeModel & { readonly spec: NativeModelSpec },
    init: {
      classNames: string[] | undefined;
      height: number;
      width: number;
      source: ModelSourceInfo;
      maxBatch: number;
      maxWaitMs: number;
      threshold: number;
      calibrationSize: number;
    },
  ) {
    this.model = model;
    this.spec = model.spec;
    this.numClasses = model.spec.numClasses;
    this.classNames = init.classNames ? Object.freeze([...init.classNames]) : undefined;
    this.inputHeight = init.height;
    this.inputWidth = init.width;
    this.inputChannels = model.spec.inChannels;
    this.info = model.info(init.height, init.width);
    this.source = init.source;
    this.shape = { height: init.height, width: init.width, channels: model.spec.inChannels, arch: model.spec.arch };
    this.defaultThreshold = init.threshold;
    this.calibrationSize = init.calibrationSize;
    this.batcher = new MicroBatcher<RawPrediction>((threshold, inputs) => this.runNative(threshold, inputs), {
      maxBatch: init.maxBatch,
      maxWaitMs: init.maxWaitMs,
      isFatal: (err) => isSkipNetError(err) && err.code === 'ERR_DISPOSED',
    });
  }

  /**
   * Load a model for inference from a checkpoint folder (last/, best/), a run folder (its
   * last/), or a .safetensors weights file written by model.saveWeights (its
   * __metadata__.spec holds the model spec).
   *
   * Input size: ImageNet models take 224x224 (resize 256 + centre crop). CIFAR-arch models
   * take the size they were trained at when the checkpoint's config tells (CIFAR 32,
   * Fashion-MNIST 28, synthetic: its size, folder: found from the recorded MACs), else
   * 32x32; `opts.inputSize` overrides.
   */
  static async load(source: string, opts: ClassifierOptions = {}): Promise<Classifier> {
    const o = Classifier.checkOptions(opts);
    const resolved = await resolveSource(source);
    const spec: NativeModelSpec = {
      ...resolved.spec,
      device: opts.device ?? resolved.spec.device,
      threads: opts.threads ?? Math.max(1, Math.min(resolved.spec.threads, os.availableParallelism())),
    };
    const model = createModel(spec);
    try {
      try {
        await model.loadWeights(resolved.weights);
      } catch (err) {
        if (isSkipNetError(err)) throw new SkipNetError(err.code, `cannot load ${resolved.weights}: ${err.message}`, { cause: err });
        throw err;
      }
      let height: number;
      let width: number;
      let from: string;
      if (opts.inputSize !== undefined) {
        [height, width] = typeof opts.inputSize === 'number' ? [opts.inputSize, opts.inputSize] : opts.inputSize;
        from = 'the inputSize option';
      } else {
        ({ height, width, from } = trainingInputSize(spec, resolved.state, (h, w) => model.info(h, w).fullMacs));
      }
      let classNames = opts.classNames;
      if (classNames !== undefined && classNames.length !== spec.numClasses) {
        throw badArg(`classNames has ${classNames.length} names but the model has ${spec.numClasses} classes`);
      }
      classNames ??= await datasetClassNames(resolved.state?.config.data.source, spec.numClasses);
      return new Classifier(model, {
        classNames,
        height,
        width,
        source: { weights: resolved.weights, checkpoint: resolved.checkpoint, inputHeight: height, inputWidth: width, inputSizeFrom: from },
        ...o,
      });
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  private static checkOptions(opts: ClassifierOptions) {
    if (typeof opts !== 'object' || opts === null) throw badArg(`Classifier.load: options must be an object, got ${describeValue(opts)}`);
    const posInt = (v: unknown, name: string, fallback: number) => {
      if (v === undefined) return fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw badArg(`Classifier.load: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
      return v;
    };
    const maxWaitMs = opts.maxWaitMs ?? DEFAULTS.maxWaitMs;
    if (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
      throw badArg(`Classifier.load: maxWaitMs must be a number >= 0, got ${JSON.stringify(opts.maxWaitMs)}`);
    }
    posInt(opts.threads, 'threads', 1);
    if (opts.inputSize !== undefined) {
      const s = opts.inputSize;
      const dims = typeof s === 'number' ? [s] : Array.isArray(s) && s.length === 2 ? s : null;
      if (!dims || !dims.every((d) => Number.isInteger(d) && d >= 1 && d <= 4096)) {
        throw badArg(`Classifier.load: inputSize must be a positive integer or [height, width], got ${JSON.stringify(s)}`);
      }
    }
    if (opts.classNames !== undefined && (!Array.isArray(opts.classNames) || !opts.classNames.every((c) => typeof c === 'string'))) {
      throw badArg('Classifier.load: classNames must be an array of strings');
    }
    return {
      maxBatch: posInt(opts.maxBatch, 'maxBatch', DEFAULTS.maxBatch),
      maxWaitMs,
      threshold: opts.threshold === undefined ? DEFAULTS.threshold : checkThreshold(opts.threshold, 'Classifier.load: threshold'),
      calibrationSize: posInt(opts.calibrationSize, 'calibrationSize', DEFAULTS.calibrationSize),
    };
  }

  /** Classify one image (resolves to one result) or an array of images (resolves to an array). */
  predict(input: ImageInput, opts?: PredictOptions): Promise<PredictResult>;
  predict(input: readonly ImageInput[], opts?: PredictOptions): Promise<PredictResult[]>;
  predict(input: ImageInput | readonly ImageInput[], opts?: PredictOptions): Promise<PredictResult | PredictResult[]>;
  async predict(input: ImageInput | readonly ImageInput[], opts: PredictOptions = {}): Promise<PredictResult | PredictResult[]> {
    try {
      if (this.disposed) throw disposedError();
      const single = !Array.isArray(input);
      const list = (single ? [input] : input) as readonly unknown[];
      if (single && !isImageInput(input)) {
        throw badArg(
          `predict: expected the bytes of a JPEG/PNG file (Buffer or Uint8Array), raw pixels {pixels, height, width, channels}, or an array of those; got ${describeValue(input)}`,
        );
      }
      const { topK, threshold: fixed, budget } = this.checkPredictOptions(opts);
      const pixels = await Promise.all(
        list.map((img, i) => prepareImage(img as ImageInput, this.shape, single ? 'predict' : `predict: image ${i} of ${list.length}`)),
      );
      if (this.disposed) throw disposedError();
      this.remember(pixels);
      const threshold = fixed ?? (budget !== undefined ? (await this.thresholdFor(budget)) : this.defaultThreshold);
      const raw = await this.batcher.submit(threshold, pixels);
      const results = raw.map((r) => this.finish(r, topK));
      return single ? results[0]! : results;
    } finally {
      this.counters.requests++;
    }
  }

  /**
   * Measure what each threshold of THRESHOLD_GRID costs on these images (mean MACs as a
   * fraction of the plain network's). `budget` predictions use this table from now on.
   * Without a call, the first budget prediction calibrates on the images seen so far.
   * skipBad: leave out images that fail to decode (else the first failure rejects).
   */
  async calibrate(images: ImageInput | readonly ImageInput[], opts: { skipBad?: boolean } = {}): Promise<Calibration> {
    if (this.disposed) throw disposedError();
    const list = (Array.isArray(images) ? images : [images]) as readonly ImageInput[];
    if (list.length === 0) throw badArg('calibrate: needs at least one image');
    const what = (i: number) => `calibrate: image ${i} of ${list.length}`;
    let pixels: Uint8Array[];
    if (opts.skipBad) {
      const settled = await Promise.allSettled(list.map((img, i) => prepareImage(img, this.shape, what(i))));
      pixels = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      if (pixels.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
    } else {
      pixels = await Promise.all(list.map((img, i) => prepareImage(img, this.shape, what(i))));
    }
    const run = this.measure(pixels);
    this.calibrating = run;
    try {
      this.calibrationTable = await run;
    } finally {
      if (this.calibrating === run) this.calibrating = null;
    }
    return this.calibrationTable;
  }

  /** The table budget predictions use (null before calibration). */
  get calibration(): Calibration | null {
    return this.calibrationTable;
  }

  /** The gate threshold a budget maps to (calibrating first if needed). */
  async thresholdFor(budget: number): Promise<number> {
    if (typeof budget !== 'number' || !Number.isFinite(budget) || budget <= 0 || budget > 1) {
      throw badArg(`budget must be a number in (0, 1], got ${JSON.stringify(budget)}`);
    }
    if (!this.calibrationTable) {
      if (!this.calibrating) {
        if (this.calibrationPool.length === 0) throw badArg('budget: no images to calibrate on yet; call calibrate(images) first');
        const run = this.measure([...this.calibrationPool]);
        this.calibrating = run;
        run.then(
          (table) => {
            if (this.calibrating === run) {
              this.calibrationTable = table;
              this.calibrating = null;
            }
          },
          () => {
            if (this.calibrating === run) this.calibrating = null;
          },
        );
      }
      this.calibrationTable = await this.calibrating!;
    }
    return thresholdForBudget(this.calibrationTable, budget).threshold;
  }

  stats(): ClassifierStats {
    return { ...this.counters };
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Reject every queued request with ERR_DISPOSED and free the model (a call in flight still completes). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.batcher.close(disposedError());
    this.model.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  // ---------------------------------------------------------------- internals

  private checkPredictOptions(opts: PredictOptions): { topK: number; threshold?: number; budget?: number } {
    if (typeof opts !== 'object' || opts === null) throw badArg(`predict: options must be an object, got ${describeValue(opts)}`);
    if (opts.threshold !== undefined && opts.budget !== undefined) throw badArg('predict: give threshold or budget, not both');
    let topK = DEFAULTS.topK;
    if (opts.topK !== undefined) {
      if (typeof opts.topK !== 'number' || !Number.isInteger(opts.topK) || opts.topK < 1) {
        throw badArg(`predict: topK must be a positive integer, got ${JSON.stringify(opts.topK)}`);
      }
      topK = opts.topK;
    }
    if (opts.budget !== undefined && (typeof opts.budget !== 'number' || !Number.isFinite(opts.budget) || opts.budget <= 0 || opts.budget > 1)) {
      throw badArg(`predict: budget must be a number in (0, 1], got ${JSON.stringify(opts.budget)}`);
    }
    return {
      topK: Math.min(topK, this.numClasses),
      threshold: opts.threshold === undefined ? undefined : checkThreshold(opts.threshold, 'predict: threshold'),
      budget: opts.budget,
    };
  }

  /** Keep the first images seen for a lazy budget calibration. */
  private remember(pixels: Uint8Array[]): void {
    if (this.calibrationTable) return;
    for (const p of pixels) {
      if (this.calibrationPool.length >= this.calibrationSize) return;
      this.calibrationPool.push(p);
    }
  }

  /** One pass over `pixels` per grid threshold, alone on the model. */
  private measure(pixels: Uint8Array[]): Promise<Calibration> {
    return this.batcher.runExclusive(async () => {
      const full = this.info.fullMacs;
      const blocks = this.info.blocks;
      const points: CalibrationPoint[] = [];
      for (const threshold of THRESHOLD_GRID) {
        let macs = 0;
        let executed = 0;
        for (let at = 0; at < pixels.length; at += DEFAULTS.maxBatch) {
          const part = await this.runNative(threshold, pixels.slice(at, at + DEFAULTS.maxBatch));
          for (const r of part) {
            macs += r.macs;
            executed += r.executedBlocks.length;
          }
        }
        points.push({ threshold, macsFraction: macs / pixels.length / full, blocksFraction: executed / pixels.length / blocks });
      }
      return { images: pixels.length, points };
    });
  }

  /** One native evalStep on model-sized pixels; split back per image. */
  private async runNative(threshold: number, inputs: Uint8Array[]): Promise<RawPrediction[]> {
    const n = inputs.length;
    const per = this.inputHeight * this.inputWidth * this.inputChannels;
    const images = new Uint8Array(n * per);
    inputs.forEach((px, i) => images.set(px, i * per));
    this.counters.nativeCalls++;
    this.counters.images += n;
    const r: EvalStepResult = await this.model.evalStep(
      { images, labels: new Int32Array(n), n, height: this.inputHeight, width: this.inputWidth, channels: this.inputChannels },
      threshold,
      'skip',
    );
    const K = this.numClasses;
    const N = this.info.blocks;
    const M = this.info.gatedBlocks;
    const out: RawPrediction[] = [];
    for (let s = 0; s < n; s++) {
      const logits = r.logits.slice(s * K, (s + 1) * K);
      const executedBlocks = [0];
      if (M === 0) for (let b = 1; b < N; b++) executedBlocks.push(b);
      else for (let i = 0; i < M; i++) if (r.executed[s * M + i]) executedBlocks.push(i + 1);
      out.push({ label: r.predictions[s]!, logits, probabilities: softmax(logits), executedBlocks, macs: r.macs[s]!, threshold });
    }
    return out;
  }

  private finish(r: RawPrediction, topK: number): PredictResult {
    const names = this.classNames;
    const order = Array.from({ length: this.numClasses }, (_, k) => k).sort(
      (a, b) => r.probabilities[b]! - r.probabilities[a]! || a - b,
    );
    const top: TopKEntry[] = order.slice(0, topK).map((label) =>
      names ? { label, className: names[label], probability: r.probabilities[label]! } : { label, probability: r.probabilities[label]! },
    );
    return {
      label: r.label,
      ...(names ? { className: names[r.label] } : {}),
      probabilities: r.probabilities,
      logits: r.logits,
      topK: top,
      executedBlocks: r.executedBlocks,
      blocksExecuted: r.executedBlocks.length,
      macs: r.macs,
      threshold: r.threshold,
    };
  }
}

/** Softmax in float64, stored as float32. */
export function softmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  const e = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) sum += e[i] = Math.exp(logits[i]! - max);
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = e[i]! / sum;
  return out;
}

