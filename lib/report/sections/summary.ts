// Section 1: one row per run with the final numbers (the same columns as runs.csv),
// plain ResNets included, and whatever went wrong reading each run.

import { formatCount, formatDuration } from '../../cli/format.js';
import { esc } from '../escape.js';
import { fixed, note, table, type Column, type Section } from '../html.js';
import type { RunRow } from '../run-row.js';
import type { RunData } from '../types.js';

const FROM: Record<RunRow['metricsFrom'], string> = {
  eval: 'eval.json',
  summary: 'summary.json',
  'last-eval': 'last eval',
  none: 'not evaluated',
};

/** "SkipNet-38 rnn", "ResNet-38", with the architecture family when it is not CIFAR's. */
function modelName(r: RunRow): string {
  const net = r.gate === 'none' ? `ResNet-${r.depth}` : `SkipNet-${r.depth} ${r.gate}`;
  return r.arch === 'cifar' ? net : `${net} (${r.arch})`;
}

export function summarySection(runs: readonly RunData[], rows: readonly RunRow[], colours: readonly string[]): Section {
  const columns: Column<RunRow & { colour: string }>[] = [
    { head: 'run', cell: (r) => `<span class="swatch" style="background:${esc(r.colour)}"></span>${esc(r.name)}` },
    { head: 'stage', cell: (r) => esc(r.stage.toUpperCase()) },
    { head: 'model', cell: (r) => esc(modelName(r)) },
    { head: 'alpha', num: true, cell: (r) => (r.alpha === null ? '–' : esc(r.alpha)) },
    { head: 'top-1 %', num: true, cell: (r) => fixed(r.top1) },
    { head: 'top-5 %', num: true, cell: (r) => fixed(r.top5) },
    { head: 'CP %', num: true, cell: (r) => fixed(r.cp) },
    { head: 'FLOPs red. %', num: true, cell: (r) => fixed(r.flopsReduction) },
    { head: 'MACs/image', num: true, cell: (r) => (r.macsMean === null ? '–' : esc(formatCount(r.macsMean))) },
    { head: '% of plain', num: true, cell: (r) => fixed(r.macsPercentOfFull, 1) },
    { head: 'steps', num: true, cell: (r) => (r.steps === null ? '–' : esc(r.steps)) },
    { head: 'wall time', num: true, cell: (r) => (r.wallSeconds === null ? '–' : esc(formatDuration(r.wallSeconds))) },
    { head: 'from', cell: (r) => esc(FROM[r.metricsFrom]) },
  ];
  const html = [table(columns, rows.map((r, k) => ({ ...r, colour: colours[k]! })), 'runs')];
  const problems = runs.flatMap((run) => [
    ...(run.initNote ? [`${run.name}: ${run.initNote}`] : []),
    ...run.notes.map((n) => `${run.name}: ${n}`),
  ]);
  if (problems.length > 0) html.push(`<ul class="notes">${problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>`);
  html.push(`<p class="folders">Run folders: ${runs.map((r) => `<code>${esc(r.dir)}</code>`).join(', ')}</p>`);
  html.push(note('"from": eval.json = written by skipnet eval --out; summary.json = the end of training; last eval = the latest evaluation of a run still training.'));
  html.push(note('CP is the computation percentage of the reference code (every block weighs the same, block 0 always runs); MACs per image are the convolution multiply-accumulates actually spent, gates included.'));
  return { id: 'summary', title: 'Runs', html: html.join('\n') };
}
