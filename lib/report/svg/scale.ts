// Linear scales and "nice" tick values (1, 2, 2.5, 5 times a power of ten), so that axes
// read 0, 20, 40... rather than 3.7, 17.9...

export interface Ticks {
  /** The domain widened to whole steps. */
  min: number;
  max: number;
  step: number;
  values: number[];
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10) * mag;
}

/**
 * About `count` ticks covering [min, max]; a zero-width domain is widened around its value.
 * `minStep` keeps steps whole for counts (no "2.5 images").
 */
export function niceTicks(min: number, max: number, count = 5, minStep = 0): Ticks {
  if (!Number.isFinite(min) || !Number.isFinite(max)) [min, max] = [0, 1];
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    [min, max] = [min - pad, max + pad];
  }
  const step = Math.max(niceStep(max - min, count), minStep);
  // The epsilon keeps 100.00000001 (floating-point noise) from adding a whole step.
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const values: number[] = [];
  for (let k = 0; lo + k * step <= hi + step * 1e-9; k++) values.push(Number((lo + k * step).toPrecision(12)));
  return { min: lo, max: hi, step, values };
}

export type Scale = (v: number) => number;

/** Maps [d0, d1] onto [r0, r1] (r0 > r1 for a y axis that grows upward). */
export function linearScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** Data extent of some numbers, ignoring non-finite ones; null when there are none. */
export function extent(values: Iterable<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}
