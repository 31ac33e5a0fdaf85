// HRL's execution target (not in the reference): instead of a fixed skip reward alpha, alpha
// follows the executed fraction towards a chosen rate. This is dual ascent on the constraint
// "executed <= rate" of the reward-maximisation problem: alpha is the constraint's multiplier,
// raised while the sampled actions execute more than the rate allows and lowered (never below
// 0) while they execute less, so the compute is chosen rather than found by trying alphas. It
// cannot make the policy stop between the jumps of its routing (on the CIFAR-10 reproduction
// one dropped block at alpha 1, six at 1.25): there the executed fraction falls past the rate.

export interface AlphaTarget {
  /** The executed fraction of (image, gated block) pairs to hold. */
  rate: number;
  /** Change of alpha per step for a unit gap between executed fraction and rate. */
  alphaStep: number;
  /**
   * The same while the step executed less than the rate; alphaStep when absent. The policy drops
   * blocks in a cascade (on the CIFAR-10 reproduction, 0.99 to 0.53 executed within 100 steps at
   * alphaStep 0.005, which lowers alpha by only 0.001 a step meanwhile); a larger step down takes
   * alpha off while gates are still in transit, so the returns can pull them back open.
   */
  alphaStepDown?: number;
}

/** Fraction of (image, gated block) pairs a step executed, from its per-gate execution counts. */
export function executedFraction(gateExec: ArrayLike<number>, images: number): number {
  if (gateExec.length === 0 || images <= 0) return 0;
  let executed = 0;
  for (let i = 0; i < gateExec.length; i++) executed += gateExec[i]!;
  return executed / (gateExec.length * images);
}

/** The next step's alpha after a step that executed `executed` of its pairs. */
export function nextAlpha(alpha: number, executed: number, target: AlphaTarget): number {
  const gap = executed - target.rate;
  const step = gap < 0 ? (target.alphaStepDown ?? target.alphaStep) : target.alphaStep;
  return Math.max(0, alpha + step * gap);
}
