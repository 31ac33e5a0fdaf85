// The human-readable end-of-run tables (train summary and eval result).

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
