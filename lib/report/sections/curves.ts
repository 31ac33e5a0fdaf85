// Section 2: training curves (loss, accuracy, learning rate, computation percentage) of
// every run over steps. An HRL run's SP stage is drawn faded before its own curve, and the
// stage boundary is marked.

import { type CurvePoint, runCurves } from '../curves.js';
import { figure, note, type Section } from '../html.js';
import type { LegendItem } from '../svg/legend.js';
import { xyChart, type RefLine, type XySeries } from '../svg/xy-chart.js';
import type { RunData } from '../types.js';

type Metric = 'loss' | 'acc' | 'lr' | 'cp';

function pairs(points: readonly CurvePoint[], metric: Metric): Array<[number, number]> {
  return points.filter((p) => p[metric] !== null).map((p) => [p.step, p[metric]!]);
}

/** Lines for one run and metric: per stage, training solid and evaluation dashed with dots. */
function runSeries(run: RunData, colour: string, metric: Metric, withEval: boolean): XySeries[] {
  const curves = runCurves(run);
  const out: XySeries[] = [];
  for (const part of curves.boundary === null ? [null] : (['sp', 'own'] as const)) {
    const pts = curves.points.filter((p) => part === null || (part === 'sp') === p.fromInit);
    const faded = part === 'sp' ? 0.4 : undefined;
    out.push({ label: run.name, colour, points: pairs(pts.filter((p) => p.type === 'train'), metric), opacity: faded });
    if (withEval) {
      out.push({ label: run.name, colour, points: pairs(pts.filter((p) => p.type === 'eval'), metric), dashed: true, markers: true, opacity: faded });
    }
  }
  return out;
}

function boundaries(runs: readonly RunData[]): RefLine[] {
  const steps = [...new Set(runs.map((r) => runCurves(r).boundary).filter((b): b is number => b !== null))].sort((a, b) => a - b);
  return steps.map((s) => ({ at: s, label: 'SP → HRL', colour: '#444' }));
}

export function curvesSection(runs: readonly RunData[], colours: readonly string[]): Section {
  if (runs.every((r) => r.train.length === 0 && r.evals.length === 0)) {
    return { id: 'curves', title: 'Training curves', html: note('No training or evaluation lines in metrics.jsonl yet.') };
  }
  const vLines = boundaries(runs);
  const hasInit = vLines.length > 0;
  const legendFor = (withEval: boolean): LegendItem[] => [
    ...runs.map((r, k) => ({ label: r.name, colour: colours[k]!, swatch: 'line' as const })),
    ...(withEval ? [{ label: 'test set (evaluation)', colour: '#555', swatch: 'line-dot' as const }] : []),
    ...(hasInit ? [{ label: 'SP stage of an HRL run', colour: '#555', swatch: 'line' as const, opacity: 0.4 }] : []),
  ];
  const chart = (metric: Metric, title: string, yLabel: string, withEval: boolean, yDomain?: [number, number]): string =>
    figure(xyChart({
      title,
      xLabel: 'step',
      yLabel,
      series: runs.flatMap((r, k) => runSeries(r, colours[k]!, metric, withEval)),
      legend: legendFor(withEval),
      vLines,
      yDomain,
    }));
  const html = [
    chart('loss', 'Loss (training batches; test set dashed)', 'cross-entropy', true),
    chart('acc', 'Accuracy (training batches; test top-1 dashed)', 'accuracy %', true),
    chart('lr', 'Learning rate', 'learning rate', false),
    chart('cp', 'Computation percentage (training batches; test set dashed)', 'CP %', true),
  ];
  const missing = runs.filter((r) => r.config.stage === 'hrl' && r.initNote).map((r) => `${r.name}: ${r.initNote}`);
  for (const m of missing) html.push(note(m));
  html.push(note('Training values are means over the logging window; HRL training samples its gate decisions, so its training CP is that of the sampled paths.'));
  return { id: 'curves', title: 'Training curves', html: html.join('\n') };
}
