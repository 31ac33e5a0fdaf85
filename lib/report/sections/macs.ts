// Section 5: how computation spreads over the test images, per run (from eval/eval.json):
// the histogram of MACs per image, the number of blocks each image ran, and per-class
// accuracy and cost.

import { formatCount } from '../../cli/format.js';
import { esc } from '../escape.js';
import { figure, fixed, heading, note, table, type Section } from '../html.js';
import { isPlain } from '../run-row.js';
import { barChart } from '../svg/bar-chart.js';
import { histogram } from '../svg/histogram.js';
import type { ClassResult, EvalFile, RunData } from '../types.js';

const EVAL_COMMAND = 'skipnet eval <run> --out <run>/eval';

function macsTick(v: number): string {
  return formatCount(v);
}

function runPart(run: RunData, ev: EvalFile, colour: string): string {
  const html = [heading(3, run.name)];
  const facts = [
    ev.n !== null ? `${ev.n} test images` : null,
    ev.threshold !== null ? `threshold ${ev.threshold}` : null,
    ev.checkpoint ? `checkpoint ${ev.checkpoint}` : null,
  ].filter(Boolean);
  if (facts.length > 0) html.push(`<p class="source">${esc(facts.join(', '))}</p>`);

  if (ev.macsHistogram) {
    const markers = [];
    if (ev.macsPerImage) markers.push({ at: ev.macsPerImage.mean, label: `mean ${formatCount(ev.macsPerImage.mean)}`, colour: '#222' });
    if (ev.fullMacs) markers.push({ at: ev.fullMacs, label: `plain ResNet ${formatCount(ev.fullMacs)}`, colour: '#b02525' });
    html.push(figure(histogram({
      title: `${run.name}: MACs per test image`,
      xLabel: 'MACs per image (gates included)',
      yLabel: 'images',
      edges: ev.macsHistogram.edges,
      counts: ev.macsHistogram.counts,
      colour,
      markers,
      xFormat: macsTick,
    })));
  } else {
    html.push(note('eval.json has no MACs histogram.'));
  }

  if (ev.blocksHistogram && ev.blocksHistogram.length > 0 && !isPlain(run)) {
    html.push(figure(barChart({
      title: `${run.name}: blocks executed per test image (block 0 included)`,
      xLabel: 'blocks executed',
      yLabel: 'images',
      categories: ev.blocksHistogram.map((_, k) => String(k)),
      series: [{ label: run.name, colour, values: ev.blocksHistogram }],
      tip: (_s, c, v) => `${v} images ran ${c} blocks`,
      integer: true,
      legend: [],
      plotHeight: 180,
    })));
  }

  if (ev.perClass.length > 0) {
    html.push(table<ClassResult>([
      { head: 'class', cell: (c) => esc(c.name) },
      { head: 'images', num: true, cell: (c) => esc(c.n) },
      { head: 'top-1 %', num: true, cell: (c) => fixed(c.top1) },
      { head: 'CP %', num: true, cell: (c) => fixed(c.cp) },
      { head: 'MACs/image', num: true, cell: (c) => esc(formatCount(c.macsMean)) },
    ], ev.perClass, 'per-class'));
  }
  return `<div class="run-part">${html.join('\n')}</div>`;
}

export function macsSection(runs: readonly RunData[], colours: readonly string[]): Section {
  const html: string[] = [];
  runs.forEach((run, k) => {
    if (run.eval) html.push(runPart(run, run.eval, colours[k]!));
  });
  const missing = runs.filter((r) => !r.eval).map((r) => r.name);
  if (missing.length > 0) html.push(note(`No eval/eval.json for ${missing.join(', ')}; for the MAC distribution and per-class results run`, EVAL_COMMAND));
  return { id: 'macs', title: 'Computation per image', html: html.join('\n') };
}
