// The human-readable end-of-run tables (train summary and eval result).

import type { ClassDetail } from '../train/eval-details.js';
import type { SweepPoint } from '../train/evaluate.js';
import type { EvalMetrics } from '../train/metrics.js';
import type { TrainSummary } from '../train/events.js';
import { formatCount, formatDuration, formatGateRates, formatPercent, formatTable } from './format.js';

function macsRows(m: Pick<EvalMetrics, 'macsPerImage' | 'fullMacs' | 'macsPercentOfFull'>): [string, string][] {
  const s = m.macsPerImage;
  return [
    ['MACs/image', `${formatCount(s.mean)} mean (min ${formatCount(s.min)}, median ${formatCount(s.p50)}, max ${formatCount(s.max)})`],
    ['plain ResNet MACs', `${formatCount(m.fullMacs)} (MACs/image = ${formatPercent(m.macsPercentOfFull, 1)} of it, gates included)`],
  ];
}

export function formatTrainSummary(s: TrainSummary): string {
  const rows: [string, string][] = [
    ['model', `${s.model.arch} ResNet-${s.model.depth}, gate ${s.model.gate}, ${formatCount(s.model.parameters)} parameters`],
    ['top-1', formatPercent(s.top1)],
    ['top-5', formatPercent(s.top5)],
    ['best top-1', formatPercent(s.bestTop1)],
    ['computation percentage (CP)', formatPercent(s.cp)],
    ['FLOPs reduction', formatPercent(s.flopsReduction)],
    ...macsRows(s),
    ['gate execution % by block', formatGateRates(s.gateExecRates)],
    ['steps', String(s.steps)],
    ['wall time', formatDuration(s.wallSeconds)],
    ['checkpoint', s.lastCheckpoint + (s.bestCheckpoint ? ` (best: ${s.bestCheckpoint})` : '')],
  ];
  return `\nresult\n${formatTable(rows)}\n`;
}

export function formatEvalResult(m: EvalMetrics, what: { checkpoint: string; dataset: string; threshold: number }): string {
  const rows: [string, string][] = [
    ['checkpoint', what.checkpoint],
    ['dataset', `${what.dataset} (${m.n} images)`],
    ['gate threshold', `p > ${what.threshold}`],
    ['top-1', formatPercent(m.top1)],
    ['top-5', formatPercent(m.top5)],
    ['loss', m.loss.toFixed(4)],
    ['computation percentage (CP)', formatPercent(m.cp)],
    ['FLOPs reduction', formatPercent(m.flopsReduction)],
    ...macsRows(m),
    ['gate execution % by block', formatGateRates(m.gateExecRates)],
  ];
  return `${formatTable(rows)}\n`;
}

/** Per-class accuracy and computation, one line per class. */
export function formatPerClass(perClass: readonly ClassDetail[]): string {
  const rows: [string, string][] = perClass.map((c) => [
    `${c.label} ${c.name}`,
    `top-1 ${formatPercent(c.top1)}  CP ${formatPercent(c.cp)}  MACs ${formatCount(c.macsMean)}  (${c.n} images)`,
  ]);
  return `\nper class\n${formatTable(rows)}\n`;
}

/** The threshold sweep as a small table: accuracy against computation. */
export function formatSweep(points: readonly SweepPoint[]): string {
  const rows: [string, string][] = points.map((p) => [
    `p > ${p.threshold}`,
    `top-1 ${formatPercent(p.top1)}  CP ${formatPercent(p.cp)}  MACs ${formatCount(p.macsMean)}`,
  ]);
  return `\nthreshold sweep\n${formatTable(rows)}\n`;
}
