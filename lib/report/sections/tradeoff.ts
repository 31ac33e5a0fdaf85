// Section 4: accuracy against computation. Each run's final model is a point; its
// threshold sweep (a block runs when p > t) is a line through the points it can reach
// without retraining; plain ResNets are horizontal reference lines at their top-1. The MACs
// chart uses absolute MACs so that plain ResNets of other depths (the paper's Fig. 4
// comparison) stand at their own cost rather than all at 100 % of themselves.

import { figure, note, type Section } from '../html.js';
import { isPlain, runRow } from '../run-row.js';
import type { LegendItem } from '../svg/legend.js';
import { xyChart, type RefLine, type XySeries } from '../svg/xy-chart.js';
import type { RunData } from '../types.js';

type Axis = 'cp' | 'macs';

const millions = (macs: number | null): number | null => (macs === null ? null : macs / 1e6);

function sweepSeries(run: RunData, colour: string, axis: Axis): XySeries | null {
  if (!run.sweep || run.sweep.length === 0) return null;
  const pts = run.sweep.map((p) => [axis === 'cp' ? p.cp : millions(p.macsMean) ?? NaN, p.top1] as const);
  return {
    label: run.name,
    colour,
    points: pts,
    markers: true,
    markerRadius: 2.5,
    tips: run.sweep.map((p) => `${run.name}, threshold ${p.threshold}: top-1 ${p.top1.toFixed(2)} %, CP ${p.cp.toFixed(2)} %`),
  };
}

function chart(runs: readonly RunData[], colours: readonly string[], axis: Axis): string {
  const series: XySeries[] = [];
  const hLines: RefLine[] = [];
  runs.forEach((run, k) => {
    const row = runRow(run);
    const colour = colours[k]!;
    if (row.top1 === null) return;
    const x = axis === 'cp' ? row.cp : millions(row.macsMean);
    if (isPlain(run)) hLines.push({ at: row.top1, label: `${run.name}: plain ResNet, ${row.top1.toFixed(2)} %`, colour });
    const sweep = sweepSeries(run, colour, axis);
    if (sweep) series.push(sweep);
    if (x !== null) {
      series.push({
        label: run.name, colour, points: [[x, row.top1]], line: false, markerRadius: 6, endLabel: run.name,
        tips: [`${run.name}: top-1 ${row.top1.toFixed(2)} %, ${axis === 'cp' ? `CP ${x.toFixed(2)} %` : `${x.toFixed(1)}M MACs per image`}`],
      });
    }
  });
  const legendItems: LegendItem[] = [
    ...runs.flatMap((r, k) =>
      runRow(r).top1 === null ? [] : [{ label: r.name, colour: colours[k]!, swatch: isPlain(r) ? ('dashed' as const) : ('dot' as const) }]),
    ...(runs.some((r) => r.sweep?.length) ? [{ label: 'threshold sweep', colour: '#555', swatch: 'line-dot' as const }] : []),
  ];
  return figure(xyChart({
    title: axis === 'cp' ? 'Top-1 accuracy against computation percentage' : 'Top-1 accuracy against MACs per image',
    xLabel: axis === 'cp' ? 'computation percentage (CP) %' : 'mean MACs per image, millions (gates included)',
    yLabel: 'top-1 %',
    series,
    hLines,
    legend: legendItems,
  }));
}

export function tradeoffSection(runs: readonly RunData[], colours: readonly string[]): Section {
  const html: string[] = [];
  if (runs.every((r) => runRow(r).top1 === null)) {
    html.push(note('No run has been evaluated yet.'));
  } else {
    html.push(chart(runs, colours, 'cp'), chart(runs, colours, 'macs'));
  }
  const noSweep = runs.filter((r) => !isPlain(r) && !r.sweep?.length);
  if (noSweep.length > 0) {
    html.push(note(`No threshold sweep for ${noSweep.map((r) => r.name).join(', ')}; run`, 'skipnet eval <run> --out <run>/eval --sweep'));
  }
  html.push(note('Large dots: each run at its own threshold. Dashed horizontal lines: plain ResNets, which always run every block (CP 100 %); in the MACs chart each also stands at its own cost, so plain ResNets of other depths compare directly.'));
  return { id: 'tradeoff', title: 'Accuracy against computation', html: html.join('\n') };
}
