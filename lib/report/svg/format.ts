// Numbers as SVG coordinates and as axis labels.

import { formatCount } from '../../cli/format.js';

/** A coordinate with at most two decimals: smaller files, same picture. */
export function px(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** A tick label with as many decimals as the tick step needs; large values as 83.3M. */
export function tickLabel(v: number, step: number): string {
  if (Math.abs(v) >= 1e4 || (step >= 1e3 && v !== 0)) return formatCount(v);
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  const s = v.toFixed(step % 1 === 0 ? 0 : decimals + (Math.abs((step * 10 ** decimals) % 1) > 1e-9 ? 1 : 0));
  return s === '-0' ? '0' : s;
}
