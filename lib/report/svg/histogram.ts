// A histogram over a numeric axis: adjacent bars between bin edges, with optional marker
// lines (the mean, the plain network's cost).

import { esc } from '../escape.js';
import { chartTitle, plotArea, svgRoot, xAxis, yAxis } from './frame.js';
import { px, tickLabel } from './format.js';
import { linearScale, niceTicks } from './scale.js';
import type { RefLine } from './xy-chart.js';

export interface HistogramOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** edges.length === counts.length + 1, increasing. */
  edges: readonly number[];
  counts: readonly number[];
  colour: string;
  markers?: readonly RefLine[];
  xFormat?: (v: number, step: number) => string;
  width?: number;
  plotHeight?: number;
}

export function histogram(o: HistogramOptions): string {
  const width = o.width ?? 720;
  const plot = plotArea(width, o.plotHeight ?? 200);
  const lo = Math.min(o.edges[0] ?? 0, ...(o.markers ?? []).map((m) => m.at));
  const hi = Math.max(o.edges[o.edges.length - 1] ?? 1, ...(o.markers ?? []).map((m) => m.at));
  const xt = niceTicks(lo, hi, 6);
  const yt = niceTicks(0, Math.max(1, ...o.counts), 4, 1); // counts: whole steps
  const sx = linearScale(xt.min, xt.max, plot.left, plot.right);
  const sy = linearScale(yt.min, yt.max, plot.bottom, plot.top);
  const xf = o.xFormat ?? tickLabel;

  const body: string[] = [chartTitle(plot, o.title)];
  body.push(yAxis(plot, yt.values.map((v) => ({ value: v, label: tickLabel(v, yt.step) })), sy, o.yLabel));
  body.push(xAxis(plot, xt.values.map((v) => ({ value: v, label: xf(v, xt.step) })), sx, o.xLabel, false));
  const bars = o.counts.map((c, k) => {
    const x0 = sx(o.edges[k]!);
    const x1 = sx(o.edges[k + 1]!);
    const y = sy(c);
    const tip = `${xf(o.edges[k]!, xt.step / 10)} to ${xf(o.edges[k + 1]!, xt.step / 10)}: ${c} images`;
    return `<rect class="bar" x="${px(x0)}" y="${px(y)}" width="${px(Math.max(x1 - x0 - 0.5, 0.5))}" height="${px(Math.max(plot.bottom - y, c > 0 ? 0.5 : 0))}" fill="${esc(o.colour)}"><title>${esc(tip)}</title></rect>`;
  });
  body.push(`<g class="data">${bars.join('')}</g>`);
  const marks = (o.markers ?? []).map((m, k) => {
    const x = px(sx(m.at));
    const right = sx(m.at) > plot.right - 160; // label to the left of a line near the right edge
    const anchor = right ? ' text-anchor="end"' : '';
    return `<line class="ref" x1="${x}" x2="${x}" y1="${px(plot.top)}" y2="${px(plot.bottom)}" stroke="${esc(m.colour ?? '#333')}"/>` +
      `<text class="ref-label" x="${px(sx(m.at) + (right ? -4 : 4))}" y="${px(plot.top + 12 + 14 * k)}" fill="${esc(m.colour ?? '#333')}"${anchor}>${esc(m.label)}</text>`;
  });
  body.push(`<g class="refs">${marks.join('')}</g>`);
  return svgRoot(width, plot.bottom + 50, o.title, body.join(''));
}
