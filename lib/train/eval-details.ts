// Per-image and per-class detail of a hard-gated evaluation, for `skipnet eval --out`
// and the report: which blocks every test image ran (the routing record), accuracy and
// computation per class, and the distribution of MACs and of executed-block counts
// (the paper's Fig. 5 groups images by the latter).

import type { EvalStepResult } from '../binding-types.js';
import { SkipNetError } from '../errors.js';
import { computationPercentage } from './metrics.js';

export interface RoutingRecord {
  /** Index of the image in the evaluated split. */
  i: number;
  label: number;
  pred: number;
  correct: boolean;
  /** Blocks executed, block 0 (never gated) included: 1..M+1. */
  blocks: number;
  /** One character per gated block, '1' where the image executed it. */
  executed: string;
  /** Conv MACs spent on this image, gates included. */
  macs: number;
}

export interface ClassDetail {
  label: number;
  name: string;
  n: number;
  top1: number;
  /** CP over this class's images (same formula as the whole-split CP). */
  cp: number;
  macsMean: number;
}

export interface Histogram {
  /** counts.length + 1 bin edges; a value v falls in bin k when edges[k] <= v < edges[k+1] (the last bin is closed). */
  edges: number[];
  counts: number[];
}

export interface EvalDetails {
  perClass: ClassDetail[];
  /** Index k: images that executed exactly k blocks in all (block 0 included), k = 0..M+1. */
  blocksHistogram: number[];
  macsHistogram: Histogram;
}

const MACS_BINS = 20;

export class EvalDetailAccumulator {
  private readonly gated: number;
  private readonly records: RoutingRecord[] = [];

  constructor(
    gatedBlocks: number,
    private readonly classNames: readonly string[],
  ) {
    this.gated = gatedBlocks;
  }

  /** Add one evaluated batch; `labels` are the batch's labels and `firstIndex` its first image's index in the split. */
  add(r: EvalStepResult, labels: Int32Array, firstIndex: number): RoutingRecord[] {
    const m = this.gated;
    if (r.executed.length !== r.n * m || r.predictions.length !== r.n || labels.length < r.n) {
      throw new SkipNetError('ERR_BAD_ARG', `eval result for ${r.n} images has ${r.executed.length} routing bits and ${r.predictions.length} predictions (expected ${r.n * m} and ${r.n})`);
    }
    const added: RoutingRecord[] = [];
    for (let s = 0; s < r.n; s++) {
      let bits = '';
      let ran = 1;
      for (let g = 0; g < m; g++) {
        const e = r.executed[s * m + g]!;
        bits += e ? '1' : '0';
        ran += e;
      }
      const label = labels[s]!;
      const pred = r.predictions[s]!;
      added.push({ i: firstIndex + s, label, pred, correct: label === pred, blocks: ran, executed: bits, macs: r.macs[s]! });
    }
    this.records.push(...added);
    return added;
  }

  get routing(): readonly RoutingRecord[] {
    return this.records;
  }

  result(): EvalDetails {
    const m = this.gated;
    const numClasses = this.classNames.length;
    const n = new Float64Array(numClasses);
    const correct = new Float64Array(numClasses);
    const executed = new Float64Array(numClasses); // gated blocks executed, summed over the class's images
    const macs = new Float64Array(numClasses);
    const blocksHistogram = new Array<number>(m + 2).fill(0);
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of this.records) {
      n[r.label]! += 1;
      if (r.correct) correct[r.label]! += 1;
      executed[r.label]! += r.blocks - 1;
      macs[r.label]! += r.macs;
      blocksHistogram[r.blocks]! += 1;
      lo = Math.min(lo, r.macs);
      hi = Math.max(hi, r.macs);
    }
    const perClass: ClassDetail[] = [];
    for (let c = 0; c < numClasses; c++) {
      const count = n[c]!;
      // CP of a class: the whole-split formula applied to the class's mean execution rate.
      const meanRate = count > 0 && m > 0 ? executed[c]! / count / m : 1;
      perClass.push({
        label: c,
        name: this.classNames[c] ?? String(c),
        n: count,
        top1: count > 0 ? (100 * correct[c]!) / count : 0,
        cp: m > 0 ? computationPercentage(new Array<number>(m).fill(meanRate)) : 100,
        macsMean: count > 0 ? macs[c]! / count : 0,
      });
    }
    return { perClass, blocksHistogram, macsHistogram: histogram(this.records.map((r) => r.macs), lo, hi) };
  }
}

/** Equal-width histogram over [lo, hi]; one bin when every value is the same. */
function histogram(values: number[], lo: number, hi: number): Histogram {
  if (values.length === 0) return { edges: [], counts: [] };
  const bins = hi > lo ? MACS_BINS : 1;
  const width = hi > lo ? (hi - lo) / bins : 1;
  const edges = Array.from({ length: bins + 1 }, (_, k) => (k === bins ? hi : lo + k * width));
  if (bins === 1) edges[1] = lo + width;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]! += 1;
  return { edges, counts };
}
