// What train() reports while it runs (TrainOptions.onEvent) and what it returns.
// The CLI turns these into a progress bar or JSON lines; metrics.jsonl holds the
// 'train' and 'eval' ones.

import type { ModelInfo, NativeModelSpec } from '../binding-types.js';
import type { EvalMetrics, MacsStats } from './metrics.js';

export interface TrainSummary {
  /** Final evaluation (percent). */
  top1: number;
  top5: number;
  /** Computation percentage and 100 - CP (spec section 5). */
  cp: number;
  flopsReduction: number;
  macsPerImage: MacsStats;
  fullMacs: number;
  macsPercentOfFull: number;
  gateExecRates: number[];
  /** Optimizer steps completed. */
  steps: number;
  /** Wall time of this train() call (not of earlier runs that were resumed). */
  wallSeconds: number;
  bestTop1: number;
  outDir: string;
  /** The `last/` checkpoint folder, and `best/` (same weights when the final eval was the best). */
  lastCheckpoint: string;
  bestCheckpoint: string | null;
  model: { arch: string; depth: number; gate: string; parameters: number; blocks: number; gatedBlocks: number };
}

export type TrainEvent =
  | {
      type: 'start';
      step: number; // first step this call runs (non-zero when resuming)
      steps: number;
      outDir: string;
      resumedFrom: string | null;
      dataset: string;
      spec: NativeModelSpec;
      info: ModelInfo;
      trainSize: number;
      testSize: number;
      batchesPerEpoch: number;
    }
  // Every step, cheap: for progress bars. Not written to metrics.jsonl.
  | { type: 'step'; step: number; steps: number; lr: number; loss: number }
  | {
      type: 'train';
      step: number; // steps completed
      steps: number;
      lr: number;
      loss: number; // mean over the steps since the last 'train' event
      acc: number; // percent, same window
      gateExecRates: number[];
      imgPerSec: number;
      dataWaitMs: number; // time spent waiting for batches in the window
      elapsedSeconds: number;
      alpha?: number; // HRL: the skip reward the next step uses (hrl.executionTarget moves it every step)
      // With loss scaling (precision 'fp16'): the current scale, and the window's steps whose
      // gradients overflowed (no update was made).
      lossScale?: number;
      overflowSteps?: number;
    }
  | { type: 'eval'; step: number; steps: number; metrics: EvalMetrics; best: boolean; seconds: number }
  | { type: 'checkpoint'; step: number; name: 'last' | 'best'; dir: string }
  | { type: 'done'; summary: TrainSummary };
