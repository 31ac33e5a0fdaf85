// Section 3: how often each gated block runs on the test set, one bar per run in each
// block's group. Gate i decides block i; block 0 always runs and has no gate.

import { esc } from '../escape.js';
import { figure, note, type Section } from '../html.js';
import { finalGateRates, isPlain } from '../run-row.js';
import { barChart } from '../svg/bar-chart.js';
import type { RunData } from '../types.js';

const FROM = { eval: 'eval/eval.json', summary: 'summary.json', 'last-eval': 'the last evaluation logged', none: '' } as const;

export function gatesSection(runs: readonly RunData[], colours: readonly string[]): Section {
  const gated = runs.map((run, k) => ({ run, colour: colours[k]!, ...finalGateRates(run) })).filter((g) => !isPlain(g.run));
  const html: string[] = [];
  const shown = gated.filter((g) => g.rates.length > 0);
  if (shown.length === 0) {
    html.push(note(gated.length === 0 ? 'No gated runs (plain ResNets run every block).' : 'No evaluation of a gated run yet.'));
  } else {
    const m = Math.max(...shown.map((g) => g.rates.length));
    html.push(figure(barChart({
      title: 'Execution rate of each gated block on the test set',
      xLabel: 'block (gate index)',
      yLabel: 'images that run it %',
      categories: Array.from({ length: m }, (_, i) => String(i + 1)),
      series: shown.map((g) => ({ label: g.run.name, colour: g.colour, values: Array.from({ length: m }, (_, i) => (i < g.rates.length ? 100 * g.rates[i]! : null)) })),
      yDomain: [0, 100],
      tip: (s, c, v) => `${s.label}, block ${c}: ${v.toFixed(1)} % of images`,
    })));
    html.push(`<p class="source">Rates from ${shown.map((g) => `${esc(g.run.name)}: ${esc(FROM[g.from])}`).join('; ')}.</p>`);
  }
  const waiting = gated.filter((g) => g.rates.length === 0).map((g) => g.run.name);
  if (waiting.length > 0) html.push(note(`No evaluation yet for ${waiting.join(', ')}.`));
  const plain = runs.filter(isPlain).map((r) => r.name);
  if (plain.length > 0) html.push(note(`Plain ResNets (every block runs): ${plain.join(', ')}.`));
  return { id: 'gates', title: 'Per-gate execution rates', html: html.join('\n') };
}
