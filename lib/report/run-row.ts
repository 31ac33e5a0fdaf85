// One line of the summary table (and of runs.csv) per run. The final numbers come from
// the most deliberate evaluation there is: eval/eval.json (`skipnet eval`), else the
// end-of-run summary.json, else the last evaluation logged while training.

import type { EvalPoint, FinalSource, RunData } from './types.js';

export interface RunRow {
  name: string;
  stage: 'sp' | 'hrl';
  arch: string;
  depth: number;
  gate: string;
  /** HRL's alpha; null for SP runs, where it has no effect. */
  alpha: number | null;
  top1: number | null;
  top5: number | null;
  cp: number | null;
  flopsReduction: number | null;
  macsMean: number | null;
  macsPercentOfFull: number | null;
  fullMacs: number | null;
  wallSeconds: number | null;
  steps: number | null;
  /** Which file top1..fullMacs come from. */
  metricsFrom: FinalSource;
  dir: string;
}

export function finalMetrics(run: RunData): { point: EvalPoint | null; from: FinalSource } {
  if (run.eval && run.eval.top1 !== null) return { point: run.eval, from: 'eval' };
  if (run.summary && run.trained) return { point: run.trained, from: 'summary' };
  if (run.trained) return { point: run.trained, from: 'last-eval' };
  return { point: null, from: 'none' };
}

/** Per-gate execution rates (fractions) of the final evaluation, [] for plain ResNets. */
export function finalGateRates(run: RunData): { rates: number[]; from: FinalSource } {
  const { point, from } = finalMetrics(run);
  return { rates: point?.gateExecRates ?? [], from };
}

export function isPlain(run: RunData): boolean {
  return run.config.gate === 'none';
}

export function runRow(run: RunData): RunRow {
  const { point, from } = finalMetrics(run);
  const plain = isPlain(run);
  // A plain ResNet runs every block: CP 100 even where an older file did not say so.
  const cp = point?.cp ?? (plain && point ? 100 : null);
  return {
    name: run.name,
    stage: run.config.stage,
    arch: run.config.arch,
    depth: run.config.depth,
    gate: run.config.gate,
    alpha: run.config.stage === 'hrl' ? run.config.alpha : null,
    top1: point?.top1 ?? null,
    top5: point?.top5 ?? null,
    cp,
    flopsReduction: point?.flopsReduction ?? (cp !== null ? 100 - cp : null),
    macsMean: point?.macsPerImage?.mean ?? null,
    macsPercentOfFull: point?.macsPercentOfFull ?? null,
    fullMacs: point?.fullMacs ?? null,
    wallSeconds: run.wallSeconds,
    steps: run.steps,
    metricsFrom: from,
    dir: run.dir,
  };
}
