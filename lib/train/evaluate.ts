// Hard-gate evaluation over a whole dataset (spec section 6): eval-mode BN, a block
// runs when its gate's p > threshold. Works on a live model (during training) or on
// a checkpoint folder (the model is rebuilt from state.json's modelSpec).

import type { NativeModel, NativeModelSpec } from '../binding-types.js';
import type { ImageDataset } from '../data/types.js';
import { SkipNetError } from '../errors.js';
import { loadCheckpoint, readCheckpointState, resolveCheckpointDir } from './checkpoint.js';
import { type Backend, type DataApi, loadBackend, loadDataApi } from './deps.js';
import { EvalAccumulator, type EvalMetrics } from './metrics.js';

export interface EvaluateOptions {
  /** Default: the checkpoint config's threshold, else 0.5. */
  threshold?: number;
  /** Default: the checkpoint config's evalBatchSize, else 256. */
  batchSize?: number;
  /** Override the device/threads recorded in the checkpoint. */
  device?: string;
  threads?: number;
  signal?: AbortSignal;
  backend?: Pick<Backend, 'createModel'>;
  data?: Pick<DataApi, 'fullPass'>;
}

/** Run every image of `dataset` through a live model once. */
export async function evaluateModel(
  model: Pick<NativeModel, 'evalStep' | 'info'>,
  dataset: ImageDataset,
  opts: { threshold: number; batchSize: number; data: Pick<DataApi, 'fullPass'>; signal?: AbortSignal },
): Promise<EvalMetrics> {
  // MACs depend on the input size; ask for the dataset's.
  const acc = new EvalAccumulator(model.info(dataset.height, dataset.width));
  for await (const batch of opts.data.fullPass(dataset, opts.batchSize)) {
    opts.signal?.throwIfAborted();
    acc.add(await model.evalStep(batch, opts.threshold));
  }
  return acc.result();
}

/** The dataset must look like what the model was built for. */
export function checkDatasetFitsModel(spec: Pick<NativeModelSpec, 'inChannels' | 'numClasses'>, dataset: ImageDataset): void {
  if (dataset.channels !== spec.inChannels || dataset.numClasses !== spec.numClasses) {
    throw new SkipNetError(
      'ERR_DATA',
      `dataset ${dataset.name} has ${dataset.channels} channels and ${dataset.numClasses} classes; ` +
        `the model expects ${spec.inChannels} channels and ${spec.numClasses} classes`,
    );
  }
}

/** Evaluate a checkpoint folder (or run folder) or a live model on `dataset`. */
export async function evaluate(target: string | NativeModel, dataset: ImageDataset, opts: EvaluateOptions = {}): Promise<EvalMetrics> {
  const data = opts.data ?? (await loadDataApi());
  if (typeof target !== 'string') {
    return evaluateModel(target, dataset, {
      threshold: opts.threshold ?? 0.5,
      batchSize: opts.batchSize ?? 256,
      data,
      signal: opts.signal,
    });
  }

  const dir = await resolveCheckpointDir(target);
  const state = await readCheckpointState(dir);
  const spec: NativeModelSpec = {
    ...state.modelSpec,
    device: opts.device ?? state.modelSpec.device,
    threads: opts.threads ?? state.modelSpec.threads,
  };
  checkDatasetFitsModel(spec, dataset);
  const backend = opts.backend ?? (await loadBackend());
  const model = backend.createModel(spec);
  try {
    await loadCheckpoint(dir, model, { optimizer: false });
    return await evaluateModel(model, dataset, {
      threshold: opts.threshold ?? state.config.threshold,
      batchSize: opts.batchSize ?? state.config.data.evalBatchSize,
      data,
      signal: opts.signal,
    });
  } finally {
    model.dispose();
  }
}
