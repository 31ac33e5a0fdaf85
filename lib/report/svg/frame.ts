// The parts every chart shares: the plot rectangle inside fixed margins, axes with
// grid lines and tick labels, the title, and the <svg> element around it all.

import { esc } from '../escape.js';
import { px } from './format.js';
import type { Scale } from './scale.js';

export interface Plot {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export const MARGIN = { left: 66, right: 18, top: 34, bottom: 48 } as const;

export function plotArea(width: number, plotHeight: number): Plot {
  return { left: MARGIN.left, top: MARGIN.top, right: width - MARGIN.right, bottom: MARGIN.top + plotHeight };
}

export interface Tick {
  value: number;
  label: string;
}

/** Horizontal grid lines, tick labels on the left, and the rotated axis title. */
export function yAxis(plot: Plot, ticks: readonly Tick[], y: Scale, label: string): string {
  const parts = ticks.map((t) => {
    const yy = px(y(t.value));
    return `<line class="grid" x1="${px(plot.left)}" x2="${px(plot.right)}" y1="${yy}" y2="${yy}"/>` +
      `<text class="tick" x="${px(plot.left - 6)}" y="${yy}" text-anchor="end" dominant-baseline="middle">${esc(t.label)}</text>`;
  });
  const mid = (plot.top + plot.bottom) / 2;
  parts.push(`<text class="axis-label" transform="translate(16 ${px(mid)}) rotate(-90)" text-anchor="middle">${esc(label)}</text>`);
  parts.push(`<line class="axis" x1="${px(plot.left)}" x2="${px(plot.left)}" y1="${px(plot.top)}" y2="${px(plot.bottom)}"/>`);
  return `<g class="y-axis">${parts.join('')}</g>`;
}

/** Tick marks and labels under the plot, optional vertical grid lines, and the axis title. */
export function xAxis(plot: Plot, ticks: readonly Tick[], x: Scale, label: string, grid = true): string {
  const parts = ticks.map((t) => {
    const xx = px(x(t.value));
    const line = grid ? `<line class="grid" x1="${xx}" x2="${xx}" y1="${px(plot.top)}" y2="${px(plot.bottom)}"/>` : '';
    return `${line}<line class="axis" x1="${xx}" x2="${xx}" y1="${px(plot.bottom)}" y2="${px(plot.bottom + 4)}"/>` +
      `<text class="tick" x="${xx}" y="${px(plot.bottom + 16)}" text-anchor="middle">${esc(t.label)}</text>`;
  });
  parts.push(`<line class="axis" x1="${px(plot.left)}" x2="${px(plot.right)}" y1="${px(plot.bottom)}" y2="${px(plot.bottom)}"/>`);
  parts.push(`<text class="axis-label" x="${px((plot.left + plot.right) / 2)}" y="${px(plot.bottom + 38)}" text-anchor="middle">${esc(label)}</text>`);
  return `<g class="x-axis">${parts.join('')}</g>`;
}

export function chartTitle(plot: Plot, title: string): string {
  return `<text class="chart-title" x="${px(plot.left)}" y="20">${esc(title)}</text>`;
}

let clipCounter = 0;

/** A clip path for the plot rectangle (lines that leave a fixed domain stop at its edge). */
export function clipPlot(plot: Plot): { id: string; def: string } {
  const id = `clip${++clipCounter}`;
  return {
    id,
    // A few pixels of slack so markers on the domain's edge show whole.
    def: `<clipPath id="${id}"><rect x="${px(plot.left - 7)}" y="${px(plot.top - 7)}" width="${px(plot.right - plot.left + 14)}" height="${px(plot.bottom - plot.top + 14)}"/></clipPath>`,
  };
}

/** The outer <svg>: scales with the page (viewBox), described for screen readers. */
export function svgRoot(width: number, height: number, title: string, body: string): string {
  return `<svg class="chart" viewBox="0 0 ${px(width)} ${px(height)}" width="${px(width)}" height="${px(height)}" role="img" aria-label="${esc(title)}">` +
    `<title>${esc(title)}</title>${body}</svg>`;
}
