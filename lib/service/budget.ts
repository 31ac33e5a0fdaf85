// Compute budgets: from "spend at most this fraction of the plain network's MACs" to a
// gate threshold. The threshold is a dial that trades accuracy for compute without
// retraining; how many MACs a threshold costs depends on the images, so it is measured
// on a calibration set, once per threshold of a fixed grid.

import type { Calibration, CalibrationPoint } from './types.js';

/**
 * The thresholds a budget can pick from. 0.5 is the trained operating point (a budget
 * never makes the model run more blocks than that); 1 skips every gated block
 * (p > 1 never holds), the cheapest the model can be.
 */
export const THRESHOLD_GRID: readonly number[] = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 1];

/**
 * The smallest grid threshold whose mean MACs on the calibration images fit the budget;
 * when none does (the budget is below what skipping every gated block costs), the
 * cheapest one.
 */
export function thresholdForBudget(calibration: Calibration, budget: number): CalibrationPoint {
  const points = [...calibration.points].sort((a, b) => a.threshold - b.threshold);
  for (const p of points) if (p.macsFraction <= budget + 1e-12) return p;
  return points.reduce((a, b) => (b.macsFraction < a.macsFraction ? b : a));
}
