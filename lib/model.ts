// The model object lib/ works with: the native Model plus file I/O. Weights and
// optimizer state are safetensors files, parsed and written here so the C++ side only
// ever receives checked, named tensors.
import type {
  DataParallel,
  DistributedInfo,
  DistributedOptions,
  EvalStepResult,
  HrlArgs,
  HrlStepResult,
  ModelInfo,
  NativeBatch,
  NativeModel,
  NativeModelSpec,
  OptimizerArgs,
  RawNativeModel,
  TrainStepResult,
} from './binding-types.js';
import { SkipNetError } from './errors.js';
import { loadNative } from './native.js';
import { encodeSafetensors, readSafetensors, writeSafetensors } from './safetensors.js';

function wrapNativeError(err: unknown): never {
  const e = err as Error & { code?: string };
  if (e && typeof e.code === 'string' && !(e instanceof SkipNetError)) throw new SkipNetError(e.code, e.message);
  throw err;
}

class SkipNetModel implements NativeModel, DataParallel {
  constructor(
    private readonly raw: RawNativeModel,
    readonly spec: NativeModelSpec,
  ) {}

  trainStep(batch: NativeBatch, opt: OptimizerArgs): Promise<TrainStepResult> {
    return this.raw.trainStep(batch, opt).catch(wrapNativeError);
  }

  evalStep(batch: NativeBatch, threshold = 0.5, execution: 'skip' | 'mask' = 'skip'): Promise<EvalStepResult> {
    return this.raw.evalStep(batch, threshold, execution).catch(wrapNativeError);
  }

  async saveWeights(path: string): Promise<void> {
    const tensors = await this.raw.exportState('weights').catch(wrapNativeError);
    await writeSafetensors(path, tensors, { format: 'pt', producer: 'skipnet', spec: JSON.stringify(this.spec) });
  }

  async loadWeights(path: string): Promise<void> {
    const file = await readSafetensors(path);
    await this.raw.importState('weights', file.tensors).catch(wrapNativeError);
  }

  async saveOptimizer(path: string): Promise<void> {
    const tensors = await this.raw.exportState('optimizer').catch(wrapNativeError);
    await writeSafetensors(path, tensors, { producer: 'skipnet', kind: 'sgd-momentum' });
  }

  async loadOptimizer(path: string): Promise<void> {
    const file = await readSafetensors(path);
    await this.raw.importState('optimizer', file.tensors).catch(wrapNativeError);
  }

  async inspectStep(batch: NativeBatch): Promise<Uint8Array> {
    const tensors = await this.raw.inspectStep(batch).catch(wrapNativeError);
    return encodeSafetensors(tensors);
  }

  hrlStep(batch: NativeBatch, opt: OptimizerArgs, hrl: HrlArgs): Promise<HrlStepResult> {
    return this.raw.hrlStep(batch, opt, hrl).catch(wrapNativeError);
  }

  async inspectHrl(batch: NativeBatch, hrl: HrlArgs, actions?: Float64Array): Promise<Uint8Array> {
    return encodeSafetensors(await this.raw.inspectHrl(batch, hrl, actions).catch(wrapNativeError));
  }

  sharpenGate(factor: number, biasShift = 0): Promise<void> {
    return this.raw.sharpenGate(factor, biasShift).catch(wrapNativeError);
  }

  info(height?: number, width?: number): ModelInfo {
    try {
      return this.raw.info(height, width);
    } catch (err) {
      wrapNativeError(err);
    }
  }

  initDistributed(opts: DistributedOptions = {}): Promise<DistributedInfo> {
    return this.raw.initDistributed(opts).catch(wrapNativeError);
  }

  barrier(timeoutMs?: number): Promise<void> {
    return this.raw.barrier(timeoutMs).catch(wrapNativeError);
  }

  shareFromRoot(text: string, timeoutMs?: number): Promise<string> {
    return this.raw.shareFromRoot(text, timeoutMs).catch(wrapNativeError);
  }

  allReduce(values: Float64Array): Promise<Float64Array> {
    return this.raw.allReduce(values).catch(wrapNativeError);
  }

  /** Frees the model (and leaves its process group, if any) once queued calls are done. */
  dispose(): void {
    this.raw.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}

/** Builds a model in native code. Throws SkipNetError (ERR_BAD_ARG, ERR_CUDA_UNAVAILABLE...) for a bad spec. */
export function createModel(spec: NativeModelSpec): NativeModel & DataParallel & { readonly spec: NativeModelSpec } {
  const addon = loadNative();
  let raw: RawNativeModel;
  try {
    raw = new addon.Model(spec);
  } catch (err) {
    wrapNativeError(err);
  }
  return new SkipNetModel(raw, spec);
}
