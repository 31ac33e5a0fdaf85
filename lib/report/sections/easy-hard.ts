// Section 6: test images grouped by how many blocks they ran (the paper's Fig. 5), the
// fewest and the most, each with its label, the prediction and its block count.

import { esc } from '../escape.js';
import type { EasyHard } from '../easy-hard.js';
import { heading, note, type Section } from '../html.js';
import { isPlain } from '../run-row.js';
import type { RoutingRecord, RunData } from '../types.js';

function className(names: readonly string[], label: number): string {
  return names[label] ?? String(label);
}

function grid(title: string, records: readonly RoutingRecord[], fig: EasyHard): string {
  if (records.length === 0) return '';
  const lo = Math.min(...records.map((r) => r.blocks));
  const hi = Math.max(...records.map((r) => r.blocks));
  const cells = records.map((r) => {
    const label = className(fig.classNames, r.label);
    const pred = className(fig.classNames, r.pred);
    const uri = fig.images?.get(r.i);
    const img = uri
      ? `<img src="${esc(uri)}" alt="${esc(`test image ${r.i}, ${label}`)}" width="64" height="64">`
      : `<div class="no-image">#${esc(r.i)}</div>`;
    const verdict = r.correct ? `<span class="ok">${esc(pred)}</span>` : `<span class="wrong">${esc(pred)}</span>`;
    return `<figure class="thumb${r.correct ? '' : ' miss'}">${img}<figcaption>${esc(label)}<br>→ ${verdict}<br><span class="blocks">${esc(r.blocks)} blocks · #${esc(r.i)}</span></figcaption></figure>`;
  });
  const range = lo === hi ? `${lo} blocks` : `${lo}–${hi} blocks`;
  return `<div class="group">${heading(4, `${title} (${range})`)}<div class="grid">${cells.join('')}</div></div>`;
}

export function easyHardSection(runs: readonly RunData[], figures: ReadonlyMap<string, EasyHard>, perGroup: number): Section {
  const html: string[] = [
    `<p>Test images that the model routes through the fewest and the most blocks (block 0 included; up to ${perGroup} each, label, then → prediction, red when wrong).</p>`,
  ];
  for (const run of runs) {
    const fig = figures.get(run.name);
    if (!fig) continue;
    html.push(`<div class="run-part">${heading(3, run.name)}`);
    if (fig.note) html.push(note(fig.note));
    html.push(grid('Fewest blocks (easy)', fig.easy, fig), grid('Most blocks (hard)', fig.hard, fig), '</div>');
  }
  const gated = runs.filter((r) => !isPlain(r));
  const without = gated.filter((r) => !figures.has(r.name)).map((r) => r.name);
  if (gated.length === 0) html.push(note('No gated runs: plain ResNets run every block for every image.'));
  else if (without.length > 0) html.push(note(`No eval/routing.jsonl for ${without.join(', ')}; for per-image routing run`, 'skipnet eval <run> --out <run>/eval'));
  return { id: 'easy-hard', title: 'Easy and hard images', html: html.join('\n') };
}
