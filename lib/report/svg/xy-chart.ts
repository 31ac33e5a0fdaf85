// Line chart and scatter plot in one primitive: each series is drawn as a line, as
// markers, or both, over numeric x and y axes, with optional vertical and horizontal
// reference lines (stage boundaries, the accuracy of a plain ResNet).

import { esc } from '../escape.js';
import { chartTitle, clipPlot, plotArea, svgRoot, xAxis, yAxis } from './frame.js';
import { px, tickLabel } from './format.js';
import { legend, type LegendItem } from './legend.js';
import { extent, linearScale, niceTicks } from './scale.js';

export interface XySeries {
  label: string;
  colour: string;
  /** [x, y] pairs; pairs with a non-finite value are left out. */
  points: ReadonlyArray<readonly [number, number]>;
  line?: boolean; // default true
  dashed?: boolean;
  markers?: boolean; // default: only when line is false or there is a single point
  markerRadius?: number;
  opacity?: number;
  /** Hover text per point (SVG <title>), e.g. "threshold 0.6". */
  tips?: readonly string[];
  /** Text drawn beside the last point. */
  endLabel?: string;
}

export interface RefLine {
  at: number;
  label: string;
  colour?: string;
}

export interface XyChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly XySeries[];
  legend?: readonly LegendItem[];
  vLines?: readonly RefLine[];
  hLines?: readonly RefLine[];
  /** Fixed domains; by default the data's (and reference lines') extent, widened to nice ticks. */
  xDomain?: readonly [number, number];
  yDomain?: readonly [number, number];
  xFormat?: (v: number, step: number) => string;
  yFormat?: (v: number, step: number) => string;
  width?: number;
  plotHeight?: number;
}

function usable(points: XySeries['points']): Array<readonly [number, number]> {
  return points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
}

function pathData(points: ReadonlyArray<readonly [number, number]>, sx: (v: number) => number, sy: (v: number) => number): string {
  return points.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(sx(x))} ${px(sy(y))}`).join('');
}

const REF_LABEL_HEIGHT = 11; // px: the ref-label font's cap height plus descenders

// The reference lines are clipped to the plot: a label goes above its line, or below it where
// the line runs along the top (a plain ResNet that is the most accurate run), so it stays legible.
function hLineLabelY(lineY: number, plotTop: number): number {
  return lineY - 4 - REF_LABEL_HEIGHT >= plotTop ? lineY - 4 : lineY + 4 + REF_LABEL_HEIGHT;
}

export function xyChart(o: XyChartOptions): string {
  const width = o.width ?? 900;
  const plot = plotArea(width, o.plotHeight ?? 260);
  const series = o.series.map((s) => ({ ...s, points: usable(s.points) }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).concat((o.vLines ?? []).map((l) => l.at));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).concat((o.hLines ?? []).map((l) => l.at));
  const [x0, x1] = o.xDomain ?? extent(xs) ?? [0, 1];
  const [y0, y1] = o.yDomain ?? extent(ys) ?? [0, 1];
  const xt = o.xDomain ? { ...niceTicks(x0, x1, 6), min: x0, max: x1 } : niceTicks(x0, x1, 6);
  const yt = o.yDomain ? { ...niceTicks(y0, y1, 5), min: y0, max: y1 } : niceTicks(y0, y1, 5);
  const sx = linearScale(xt.min, xt.max, plot.left, plot.right);
  const sy = linearScale(yt.min, yt.max, plot.bottom, plot.top);
  const xf = o.xFormat ?? tickLabel;
  const yf = o.yFormat ?? tickLabel;
  const inX = (v: number) => v >= xt.min - 1e-9 && v <= xt.max + 1e-9;
  const inY = (v: number) => v >= yt.min - 1e-9 && v <= yt.max + 1e-9;
  const clip = clipPlot(plot);

  const body: string[] = [`<defs>${clip.def}</defs>`, chartTitle(plot, o.title)];
  body.push(yAxis(plot, yt.values.filter(inY).map((v) => ({ value: v, label: yf(v, yt.step) })), sy, o.yLabel));
  body.push(xAxis(plot, xt.values.filter(inX).map((v) => ({ value: v, label: xf(v, xt.step) })), sx, o.xLabel));

  const refs: string[] = [];
  for (const l of o.vLines ?? []) {
    const x = px(sx(l.at));
    refs.push(`<line class="ref" x1="${x}" x2="${x}" y1="${px(plot.top)}" y2="${px(plot.bottom)}" stroke="${esc(l.colour ?? '#555')}"/>` +
      `<text class="ref-label" x="${px(sx(l.at) + 4)}" y="${px(plot.top + 12)}">${esc(l.label)}</text>`);
  }
  for (const l of o.hLines ?? []) {
    const at = sy(l.at);
    const y = px(at);
    refs.push(`<line class="ref" x1="${px(plot.left)}" x2="${px(plot.right)}" y1="${y}" y2="${y}" stroke="${esc(l.colour ?? '#555')}"/>` +
      `<text class="ref-label" x="${px(plot.left + 4)}" y="${px(hLineLabelY(at, plot.top))}" fill="${esc(l.colour ?? '#555')}">${esc(l.label)}</text>`);
  }
  body.push(`<g class="refs" clip-path="url(#${clip.id})">${refs.join('')}</g>`);

  const drawn: string[] = [];
  const labels: string[] = [];
  for (const s of series) {
    if (s.points.length === 0) continue;
    const colour = esc(s.colour);
    const opacity = s.opacity !== undefined ? ` opacity="${s.opacity}"` : '';
    const line = s.line ?? true;
    if (line && s.points.length > 1) {
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      drawn.push(`<path class="series" d="${pathData(s.points, sx, sy)}" fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round"${dash}${opacity}/>`);
    }
    if (s.markers ?? (!line || s.points.length === 1)) {
      const r = s.markerRadius ?? 3.5;
      s.points.forEach(([x, y], k) => {
        const tip = s.tips?.[k] ? `<title>${esc(s.tips[k]!)}</title>` : '';
        drawn.push(`<circle class="marker" cx="${px(sx(x))}" cy="${px(sy(y))}" r="${r}" fill="${colour}" stroke="#fff" stroke-width="1"${opacity}>${tip}</circle>`);
      });
    }
    if (s.endLabel) {
      // Outside the clip, and turned to the left near the right edge, so it stays readable.
      const [x, y] = s.points[s.points.length - 1]!;
      const right = sx(x) > plot.right - 140;
      const anchor = right ? ' text-anchor="end"' : '';
      labels.push(`<text class="point-label" x="${px(sx(x) + (right ? -6 : 6))}" y="${px(sy(y) - 7)}" fill="${colour}"${anchor}>${esc(s.endLabel)}</text>`);
    }
  }
  body.push(`<g class="data" clip-path="url(#${clip.id})">${drawn.join('')}</g>`, labels.join(''));

  const leg = legend(o.legend ?? [], plot.left, plot.bottom + 52, plot.right - plot.left);
  body.push(leg.svg);
  const height = plot.bottom + 52 + leg.height;
  if (drawn.length === 0) {
    body.push(`<text class="empty" x="${px((plot.left + plot.right) / 2)}" y="${px((plot.top + plot.bottom) / 2)}" text-anchor="middle">no data</text>`);
  }
  return svgRoot(width, height, o.title, body.join(''));
}
