// Learning rate as a pure function of the step, set before every optimizer step
// (nanoGPT's get_lr): nothing to save in a checkpoint but the step itself.

import type { ScheduleConfig } from '../config.js';

type Schedule = Pick<ScheduleConfig, 'kind' | 'steps' | 'milestones' | 'gamma' | 'warmupSteps' | 'warmup' | 'warmupLr'>;

/**
 * lr for 0-based step `step` (the step about to run).
 *
 * - warm-up, steps [0, warmupSteps):
 *   - linear: warmupLr + (baseLr - warmupLr) * (step + 1) / warmupSteps, so the last
 *     warm-up step already uses baseLr and no step runs at lr 0;
 *   - constant: warmupLr (the reference's --warm-up: 0.01 for the first 400 iterations).
 * - step: baseLr * gamma^k, k = number of milestones <= step (the reference switches at
 *   `_iter >= 32000`, so milestone steps use the decayed rate).
 * - cosine: baseLr * (1 + cos(pi * t)) / 2 with t = (step - warmupSteps) / (steps - warmupSteps),
 *   i.e. baseLr right after warm-up and 0 at `steps`.
 */
export function learningRate(step: number, schedule: Schedule, baseLr: number): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);

  if (step < schedule.warmupSteps) {
    if (schedule.warmup === 'constant') return schedule.warmupLr;
    return schedule.warmupLr + ((baseLr - schedule.warmupLr) * (step + 1)) / schedule.warmupSteps;
  }

  if (schedule.kind === 'step') {
    const passed = schedule.milestones.filter((m) => step >= m).length;
    return baseLr * schedule.gamma ** passed;
  }

  const span = schedule.steps - schedule.warmupSteps;
  const t = Math.min(1, (step - schedule.warmupSteps) / span);
  return (baseLr * (1 + Math.cos(Math.PI * t))) / 2;
}
