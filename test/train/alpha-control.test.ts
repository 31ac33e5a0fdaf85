// HRL's execution target moves alpha by dual ascent; alphaStepDown makes the step asymmetric.
import { describe, expect, it } from 'vitest';
import { executedFraction, nextAlpha } from '../../lib/train/alpha-control.js';
import { RunConfigSchema } from '../../lib/config.js';

describe('execution-target alpha control', () => {
  it('counts the executed fraction over every (image, gated block) pair', () => {
    expect(executedFraction([4, 2, 0], 4)).toBeCloseTo(0.5, 15);
    expect(executedFraction([], 4)).toBe(0);
  });

  it('steps up by alphaStep and down by alphaStepDown, never below 0', () => {
    const target = { rate: 0.7, alphaStep: 0.005, alphaStepDown: 0.1 };
    expect(nextAlpha(1, 0.9, target)).toBeCloseTo(1 + 0.005 * 0.2, 15);
    expect(nextAlpha(1, 0.5, target)).toBeCloseTo(1 - 0.1 * 0.2, 15);
    expect(nextAlpha(0.01, 0.5, target)).toBe(0);
    // Without alphaStepDown the step is the same both ways.
    const symmetric = { rate: 0.7, alphaStep: 0.005 };
    expect(nextAlpha(1, 0.5, symmetric)).toBeCloseTo(1 - 0.005 * 0.2, 15);
  });

  it('validates alphaStepDown as a positive number', () => {
    const base = { data: { source: { kind: 'synthetic' } }, stage: 'hrl', model: { gate: 'rnn' } };
    const parse = (alphaStepDown: number) =>
      RunConfigSchema.safeParse({ ...base, hrl: { executionTarget: { rate: 0.7, alphaStepDown } } });
    expect(parse(0.1).success).toBe(true);
    const bad = parse(0);
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toMatch(/alphaStepDown/);
  });
});
