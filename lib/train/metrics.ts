// Reductions over step results: the evaluation report (accuracy, per-gate execution
// rates, computation percentage, MACs) and the windowed training meter.
//
// CP follows the reference validate() exactly (spec section 5): every block weighs
// the same, block 0 always runs (the "+1"), and a block counts as executed when its
// gate's p > threshold. MACs are reported separately, per image, gates included.

import type { EvalStepResult, ModelInfo, TrainStepResult } from '../binding-types.js';
import { SkipNetError } from '../errors.js';

export interface MacsStats {
  mean: number;
  min: number;
  p50: number;
  max: number;
}

export interface EvalMetrics {
  n: number;
  /** Mean cross-entropy per image. */
  loss: number;
  /** Percentages. */
  top1: number;
  top5: number;
  /** Per gated block (M = N - 1 entries), fraction of images that executed it, 0..1. */
  gateExecRates: number[];
  /** Computation percentage: 100 * (1 + sum_i exec_i) / (M + 1); 100 for a plain ResNet. */
  cp: number;
  /** 100 - CP, the READMEs' "FLOPs reduction". */
  flopsReduction: number;
  /** Conv MACs per image actually spent (gates and skipped-block projections included). */
  macsPerImage: MacsStats;
  /** Conv MACs of the plain network (every block, no gates). */
  fullMacs: number;
  /** macsPerImage.mean as a percentage of fullMacs (may exceed 100 when nothing is skipped: gates cost). */
  macsPercentOfFull: number;
}

/** CP in percent from per-gate execution rates (fractions). No gates = plain ResNet = 100. */
export function computationPercentage(gateExecRates: readonly number[]): number {
  const executed = gateExecRates.reduce((a, b) => a + b, 0);
  return (100 * (1 + executed)) / (gateExecRates.length + 1);
}

/** Median of a sorted array: the middle value, or the mean of the two middle values. */
function median(sorted: Float64Array): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export class EvalAccumulator {
  private readonly gatedBlocks: number;
  private readonly fullMacs: number;
  private n = 0;
  private lossSum = 0;
  private correct1 = 0;
  private correct5 = 0;
  private readonly gateExec: Float64Array;
  // All per-image MACs are kept for the median: 8 bytes per test image (400 KB for ImageNet val).
  private macs = new Float64Array(1024);

  constructor(info: Pick<ModelInfo, 'gatedBlocks' | 'fullMacs'>) {
    this.gatedBlocks = info.gatedBlocks;
    this.fullMacs = info.fullMacs;
    this.gateExec = new Float64Array(info.gatedBlocks);
  }

  add(r: EvalStepResult): void {
    if (r.gateExec.length !== this.gatedBlocks) {
      throw new SkipNetError('ERR_BAD_ARG', `eval result has ${r.gateExec.length} gate counts, the model has ${this.gatedBlocks} gated blocks`);
    }
    if (r.macs.length !== r.n) {
      throw new SkipNetError('ERR_BAD_ARG', `eval result has ${r.macs.length} MACs entries for ${r.n} images`);
    }
    if (this.n + r.n > this.macs.length) {
      const grown = new Float64Array(Math.max(this.macs.length * 2, this.n + r.n));
      grown.set(this.macs.subarray(0, this.n));
      this.macs = grown;
    }
    this.macs.set(r.macs, this.n);
    this.n += r.n;
    this.lossSum += r.loss; // evalStep reports the summed loss over its batch
    this.correct1 += r.correct1;
    this.correct5 += r.correct5;
    for (let i = 0; i < this.gatedBlocks; i++) this.gateExec[i]! += r.gateExec[i]!;
  }

  get count(): number {
    return this.n;
  }

  result(): EvalMetrics {
    if (this.n === 0) throw new SkipNetError('ERR_DATA', 'evaluation saw no images (is the test split empty?)');
    const n = this.n;
    // Rates weighted by batch size, as the reference's AverageMeter does: total executions / total images.
    const gateExecRates = Array.from(this.gateExec, (c) => c / n);
    const cp = computationPercentage(gateExecRates);
    const sorted = this.macs.slice(0, n).sort();
    let total = 0;
    for (const m of sorted) total += m;
    const mean = total / n;
    return {
      n,
      loss: this.lossSum / n,
      top1: (100 * this.correct1) / n,
      top5: (100 * this.correct5) / n,
      gateExecRates,
      cp,
      flopsReduction: 100 - cp,
      macsPerImage: { mean, min: sorted[0]!, p50: median(sorted), max: sorted[n - 1]! },
      fullMacs: this.fullMacs,
      macsPercentOfFull: this.fullMacs > 0 ? (100 * mean) / this.fullMacs : 0,
    };
  }
}

export interface TrainWindow {
  steps: number;
  images: number;
  /** Mean of the per-step mean losses, weighted by batch size. */
  loss: number;
  /** Top-1 training accuracy in percent (on the hard-gated forward). */
  acc: number;
  /** Per gated block, fraction of training images that executed it. */
  gateExecRates: number[];
}

/** Accumulates training steps between two log lines; take() reports and restarts the window. */
export class TrainMeter {
  private steps = 0;
  private images = 0;
  private lossSum = 0;
  private correct = 0;
  private gateExec: Float64Array | undefined;

  add(r: TrainStepResult): void {
    this.steps += 1;
    this.images += r.n;
    this.lossSum += r.loss * r.n;
    this.correct += r.correct;
    this.gateExec ??= new Float64Array(r.gateExec.length);
    for (let i = 0; i < this.gateExec.length; i++) this.gateExec[i]! += r.gateExec[i] ?? 0;
  }

  take(): TrainWindow {
    const images = Math.max(1, this.images);
    const out: TrainWindow = {
      steps: this.steps,
      images: this.images,
      loss: this.lossSum / images,
      acc: (100 * this.correct) / images,
      gateExecRates: Array.from(this.gateExec ?? [], (c) => c / images),
    };
    this.steps = this.images = this.lossSum = this.correct = 0;
    this.gateExec = undefined;
    return out;
  }
}
