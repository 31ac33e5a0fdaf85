// A legend laid out in rows under a chart, wrapping at the chart's width. Without a text
// measuring engine (no browser at build time) widths are estimated from character counts,
// generously, so labels never overlap.

import { esc } from '../escape.js';
import { px } from './format.js';

export interface LegendItem {
  label: string;
  colour: string;
  /** How the swatch is drawn: a line (dashed or not), a dot, or a filled box (bars). */
  swatch: 'line' | 'dashed' | 'dot' | 'line-dot' | 'box';
  opacity?: number;
}

const FONT = 12;
const ROW = 18;
const SWATCH = 22;

function textWidth(s: string): number {
  return s.length * FONT * 0.6;
}

function swatch(item: LegendItem, x: number, y: number): string {
  const o = item.opacity !== undefined ? ` opacity="${item.opacity}"` : '';
  const c = esc(item.colour);
  switch (item.swatch) {
    case 'box':
      return `<rect x="${px(x + 4)}" y="${px(y - 5)}" width="14" height="10" fill="${c}"${o}/>`;
    case 'dot':
      return `<circle cx="${px(x + SWATCH / 2)}" cy="${px(y)}" r="3.5" fill="${c}"${o}/>`;
    default: {
      const dash = item.swatch === 'dashed' || item.swatch === 'line-dot' ? ' stroke-dasharray="5 3"' : '';
      const dot = item.swatch === 'line-dot' ? `<circle cx="${px(x + SWATCH / 2)}" cy="${px(y)}" r="3" fill="${c}"${o}/>` : '';
      return `<line x1="${px(x)}" y1="${px(y)}" x2="${px(x + SWATCH)}" y2="${px(y)}" stroke="${c}" stroke-width="2"${dash}${o}/>${dot}`;
    }
  }
}

/** The legend's markup, placed with its top-left corner at (x, y), and its height. */
export function legend(items: readonly LegendItem[], x: number, y: number, width: number): { svg: string; height: number } {
  if (items.length === 0) return { svg: '', height: 0 };
  const parts: string[] = [];
  let cx = x;
  let row = 0;
  for (const item of items) {
    const w = SWATCH + 6 + textWidth(item.label) + 16;
    if (cx > x && cx + w > x + width) {
      cx = x;
      row++;
    }
    const cy = y + row * ROW + ROW / 2;
    parts.push(
      `<g class="legend-item">${swatch(item, cx, cy)}<text x="${px(cx + SWATCH + 6)}" y="${px(cy + 4)}" font-size="${FONT}">${esc(item.label)}</text></g>`,
    );
    cx += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: (row + 1) * ROW + 4 };
}
