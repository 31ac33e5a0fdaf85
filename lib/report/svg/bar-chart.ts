// Grouped bar chart over categories (gate index, number of executed blocks): one bar per
// series in each category's band. Hovering a bar shows its exact value.

import { esc } from '../escape.js';
import { chartTitle, plotArea, svgRoot, yAxis } from './frame.js';
import { px, tickLabel } from './format.js';
import { legend, type LegendItem } from './legend.js';
import { extent, linearScale, niceTicks } from './scale.js';

export interface BarSeries {
  label: string;
  colour: string;
  /** One value per category; null = no bar. */
  values: ReadonlyArray<number | null>;
}

export interface BarChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  categories: readonly string[];
  series: readonly BarSeries[];
  /** Default [0, max of the data]. */
  yDomain?: readonly [number, number];
  yFormat?: (v: number, step: number) => string;
  /** Whole-number ticks only (counts of images). */
  integer?: boolean;
  /** Hover text of one bar, default "<series> <category>: <value>". */
  tip?: (series: BarSeries, category: string, value: number) => string;
  legend?: readonly LegendItem[];
  width?: number;
  plotHeight?: number;
}

export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 900;
  const plot = plotArea(width, o.plotHeight ?? 240);
  const values = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const [d0, d1] = o.yDomain ?? [0, Math.max(0, ...(extent(values) ?? [0, 1]))];
  const minStep = o.integer ? 1 : 0;
  const yt = o.yDomain ? { ...niceTicks(d0, d1, 5, minStep), min: d0, max: d1 } : niceTicks(Math.min(0, d0), d1 || 1, 5, minStep);
  const sy = linearScale(yt.min, yt.max, plot.bottom, plot.top);
  const yf = o.yFormat ?? tickLabel;
  const n = Math.max(1, o.categories.length);
  const band = (plot.right - plot.left) / n;
  const inner = band * 0.84;
  const barW = inner / Math.max(1, o.series.length);

  const body: string[] = [chartTitle(plot, o.title)];
  body.push(yAxis(plot, yt.values.filter((v) => v >= yt.min - 1e-9 && v <= yt.max + 1e-9).map((v) => ({ value: v, label: yf(v, yt.step) })), sy, o.yLabel));

  const bars: string[] = [];
  const zero = sy(Math.max(yt.min, 0));
  o.series.forEach((s, si) => {
    s.values.forEach((v, ci) => {
      if (v === null || !Number.isFinite(v) || ci >= n) return;
      const x = plot.left + ci * band + (band - inner) / 2 + si * barW;
      const y = sy(Math.min(Math.max(v, yt.min), yt.max));
      const tip = o.tip ? o.tip(s, o.categories[ci]!, v) : `${s.label} ${o.categories[ci]}: ${tickLabel(v, Math.abs(v) < 10 ? 0.01 : 0.1)}`;
      bars.push(`<rect class="bar" x="${px(x)}" y="${px(Math.min(y, zero))}" width="${px(Math.max(barW - 1, 1))}" height="${px(Math.max(Math.abs(zero - y), 0.5))}" fill="${esc(s.colour)}"><title>${esc(tip)}</title></rect>`);
    });
  });
  body.push(`<g class="data">${bars.join('')}</g>`);

  // Category labels, thinned out so they never collide (about 28 px per label).
  const every = Math.max(1, Math.ceil(28 / band));
  const xparts: string[] = [`<line class="axis" x1="${px(plot.left)}" x2="${px(plot.right)}" y1="${px(plot.bottom)}" y2="${px(plot.bottom)}"/>`];
  o.categories.forEach((c, ci) => {
    if (ci % every !== 0) return;
    xparts.push(`<text class="tick" x="${px(plot.left + (ci + 0.5) * band)}" y="${px(plot.bottom + 16)}" text-anchor="middle">${esc(c)}</text>`);
  });
  xparts.push(`<text class="axis-label" x="${px((plot.left + plot.right) / 2)}" y="${px(plot.bottom + 38)}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  body.push(`<g class="x-axis">${xparts.join('')}</g>`);

  const leg = legend(o.legend ?? o.series.map((s) => ({ label: s.label, colour: s.colour, swatch: 'box' as const })), plot.left, plot.bottom + 52, plot.right - plot.left);
  body.push(leg.svg);
  return svgRoot(width, plot.bottom + 52 + leg.height, o.title, body.join(''));
}
