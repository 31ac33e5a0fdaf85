// Hard-gate evaluation over a whole dataset (spec section 6): eval-mode BN, a block
// runs when its gate's p > threshold. Works on a live model (during training) or on
// a checkpoint folder (the model is rebuilt from state.json's modelSpec).

import type { NativeModel, NativeModelSpec } from '../binding-types.js';
import type { ImageDataset } from '../data/types.js';
import { SkipNetError } from '../errors.js';
import { type CheckpointState, loadCheckpoint, readCheckpointState, resolveCheckpointDir } from './checkpoint.js';
import { type Backend, type DataApi, loadBackend, loadDataApi } from './deps.js';
import type { EvalDetailAccumulator } from './eval-details.js';
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
  /** Also collect the routing record, per-class figures and histograms into this accumulator. */
  details?: EvalDetailAccumulator;
}

export interface SweepPoint {
  threshold: number;
  top1: number;
  top5: number;
  cp: number;
  flopsReduction: number;
  macsMean: number;
  gateExecRates: number[];
}

/** Run every image of `dataset` through a live model once. */
export async function evaluateModel(
  model: Pick<NativeModel, 'evalStep' | 'info'>,
  dataset: ImageDataset,
  opts: { threshold: number; batchSize: number; data: Pick<DataApi, 'fullPass'>; signal?: AbortSignal; details?: EvalDetailAccumulator },
): Promise<EvalMetrics> {
  // MACs depend on the input size; ask for the dataset's.
  const acc = new EvalAccumulator(model.info(dataset.height, dataset.width));
  for await (const batch of opts.data.fullPass(dataset, opts.batchSize)) {
    opts.signal?.throwIfAborted();
    const r = await model.evalStep(batch, opts.threshold);
    // fullPass yields the split in order, so the images seen so far give this batch's first index.
    opts.details?.add(r, batch.labels, acc.count);
    acc.add(r);
  }
  return acc.result();
}

/**
 * Trace accuracy against computation by re-evaluating with other gate thresholds
 * (a block runs when p > t): no retraining, one pass over the split per threshold.
 */
export async function sweepThresholds(
  model: Pick<NativeModel, 'evalStep' | 'info'>,
  dataset: ImageDataset,
  thresholds: readonly number[],
  opts: { batchSize: number; data: Pick<DataApi, 'fullPass'>; signal?: AbortSignal; onPoint?: (p: SweepPoint) => void },
): Promise<SweepPoint[]> {
  const points: SweepPoint[] = [];
  for (const threshold of [...thresholds].sort((a, b) => a - b)) {
    const m = await evaluateModel(model, dataset, { threshold, batchSize: opts.batchSize, data: opts.data, signal: opts.signal });
    const point = { threshold, top1: m.top1, top5: m.top5, cp: m.cp, flopsReduction: m.flopsReduction, macsMean: m.macsPerImage.mean, gateExecRates: m.gateExecRates };
    opts.onPoint?.(point);
    points.push(point);
  }
  return points;
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

  return withCheckpointModel(target, dataset, opts, (model, state) =>
    evaluateModel(model, dataset, {
      threshold: opts.threshold ?? state.config.threshold,
      batchSize: opts.batchSize ?? state.config.data.evalBatchSize,
      data,
      signal: opts.signal,
      details: opts.details,
    }),
  );
}

/** Rebuild the model saved in a checkpoint folder (or run folder), run `use` on it, and dispose it. */
export async function withCheckpointModel<T>(
  target: string,
  dataset: ImageDataset,
  opts: Pick<EvaluateOptions, 'device' | 'threads' | 'backend'>,
  use: (model: NativeModel, state: CheckpointState) => Promise<T>,
): Promise<T> {
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
    return await use(model, state);
  } finally {
    model.dispose();
  }
}
