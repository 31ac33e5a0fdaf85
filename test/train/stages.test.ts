// The SP -> HRL flow of the training loop, and exact resumption: a run stopped after N steps
// and resumed to N + M ends with the same weights, bit for bit, as an uninterrupted run.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, type RunConfigInput } from '../../lib/config.js';
import { decodeSafetensors } from '../../lib/safetensors.js';
import type { TrainEvent } from '../../lib/train/events.js';
import { train } from '../../lib/train/trainer.js';

const scratch = mkdtempSync(join(tmpdir(), 'skipnet-stages-'));

function config(name: string, extra: Partial<RunConfigInput>): ReturnType<typeof parseConfig> {
  return parseConfig({
    model: { arch: 'cifar', depth: 14, gate: 'rnn' },
    data: { source: { kind: 'synthetic', size: 256, testSize: 64, height: 16, width: 16, channels: 3, numClasses: 4 }, batchSize: 32, evalBatchSize: 64 },
    optimizer: { lr: 0.05 },
    schedule: { kind: 'cosine', steps: 12, warmupSteps: 0 },
    evalEvery: 6,
    logEvery: 3,
    threads: 2,
    seed: 3,
    outDir: join(scratch, name),
    ...extra,
  });
}

function weights(dir: string): Map<string, Buffer> {
  const { tensors } = decodeSafetensors(readFileSync(join(dir, 'last', 'weights.safetensors')));
  return new Map(tensors.map((t) => [t.name, Buffer.from(t.data)]));
}

async function stoppedAndResumed(cfg: ReturnType<typeof parseConfig>, stopAt: number) {
  const controller = new AbortController();
  await expect(
    train(cfg, { signal: controller.signal, onEvent: (e) => e.type === 'step' && e.step === stopAt && controller.abort() }),
  ).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  return train(cfg, { resume: cfg.outDir });
}

describe('stages and resumption', () => {
  it('SP: stopped at step 5 and resumed equals an uninterrupted run', async () => {
    await train(config('sp-full', {}));
    const resumed = await stoppedAndResumed(config('sp-split', {}), 5);
    expect(resumed.steps).toBe(12);
    const [a, b] = [weights(join(scratch, 'sp-full')), weights(join(scratch, 'sp-split'))];
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(Buffer.compare(v, b.get(k)!), k).toBe(0);
  });

  it('HRL from SP weights (--init), and its resumption is exact too', async () => {
    const hrl = { stage: 'hrl' as const, init: join(scratch, 'sp-full'), hrl: { alpha: 1, baseline: 'moving-average' as const }, optimizer: { lr: 0.01 } };
    const full = await train(config('hrl-full', hrl));
    expect(full.steps).toBe(12);
    await stoppedAndResumed(config('hrl-split', hrl), 7);
    const [a, b] = [weights(join(scratch, 'hrl-full')), weights(join(scratch, 'hrl-split'))];
    for (const [k, v] of a) expect(Buffer.compare(v, b.get(k)!), k).toBe(0);
    // It starts from the SP weights: with a vanishing learning rate it ends where SP ended.
    await train(config('hrl-still', { ...hrl, optimizer: { lr: 1e-12, weightDecay: 0 } }));
    const sp = new Float32Array(new Uint8Array(weights(join(scratch, 'sp-full')).get('fc.weight')!).buffer);
    const still = new Float32Array(new Uint8Array(weights(join(scratch, 'hrl-still')).get('fc.weight')!).buffer);
    expect(still.every((v, i) => Math.abs(v - sp[i]!) < 1e-6)).toBe(true);
  });

  it.each([
    [4, 0.9],
    [-4, 0.1],
  ])('HRL from SP with sharpen 0.01 and gateBiasShift %i starts its gates near sigmoid(shift)', async (shift, bound) => {
    const events: TrainEvent[] = [];
    const still = { optimizer: { lr: 1e-12, weightDecay: 0 }, schedule: { kind: 'cosine' as const, steps: 1, warmupSteps: 0 }, logEvery: 1 };
    const hrl = { stage: 'hrl' as const, init: join(scratch, 'sp-full'), hrl: { alpha: 0, sharpen: 0.01, gateBiasShift: shift }, ...still };
    await train(config(`hrl-shift${shift}`, hrl), { onEvent: (e) => events.push(e) });
    const first = events.find((e) => e.type === 'train');
    if (first?.type !== 'train') throw new Error('no train event');
    // 32 images x 5 gates sampled at p = sigmoid(+-4 + 0.01 * SP logit), about 0.98 or 0.02.
    const executed = first.gateExecRates.reduce((x, y) => x + y, 0) / first.gateExecRates.length;
    if (shift > 0) expect(executed).toBeGreaterThan(bound);
    else expect(executed).toBeLessThan(bound);
  });

  it('hrl.logitBound pulls saturated gates back to its limit; without it they stay saturated', async () => {
    // sharpen 0.01 and shift 8: every gate starts at z near 8 (p = 0.9997), where REINFORCE's
    // gradient of the logit has all but vanished. 12 steps, alpha 0, no weight decay.
    const bias = (dir: string) => new Float32Array(new Uint8Array(weights(dir).get('gate.proj.bias')!).buffer)[0]!;
    const start = 0.01 * bias(join(scratch, 'sp-full')) + 8;
    const run = async (name: string, logitBound?: { limit: number; side?: 'both' | 'execute' }, shift = 8) => {
      const hrl = { alpha: 0, sharpen: 0.01, gateBiasShift: shift, ...(logitBound ? { logitBound } : {}) };
      await train(config(name, { stage: 'hrl', init: join(scratch, 'sp-full'), hrl, optimizer: { lr: 0.01, weightDecay: 0 } }));
      return bias(join(scratch, name));
    };
    // The default weight 0.01: 5 gates x 32 images x 2 x 0.01 x (8 - 3) = 16 per step on the bias.
    expect(await run('hrl-bound', { limit: 3 })).toBeLessThan(start - 1);
    expect(Math.abs((await run('hrl-unbound')) - start)).toBeLessThan(0.1);
    expect(() => config('bad', { stage: 'hrl', hrl: { logitBound: { limit: 0 } } })).toThrow(/logitBound\.limit/);
    // Gates saturated shut (z near -8): 'both' pulls them up to the limit, 'execute' leaves them shut.
    const shut = start - 16;
    expect(await run('hrl-bound-shut', { limit: 3 }, -8)).toBeGreaterThan(shut + 1);
    expect(Math.abs((await run('hrl-bound-execute-shut', { limit: 3, side: 'execute' }, -8)) - shut)).toBeLessThan(0.1);
  });

  it('HRL with an execution target: alpha follows the executed fraction each step, and resumes exactly', async () => {
    const target = { rate: 0.3, alphaStep: 2 };
    const hrl = {
      stage: 'hrl' as const,
      init: join(scratch, 'sp-full'),
      hrl: { alpha: 0.5, executionTarget: target },
      optimizer: { lr: 0.01 },
      logEvery: 1,
    };
    const events: TrainEvent[] = [];
    await train(config('hrl-target-full', hrl), { onEvent: (e) => events.push(e) });
    const logged = events.filter((e) => e.type === 'train');
    expect(logged).toHaveLength(12);
    // logEvery 1: each train event holds one step's execution rates and the alpha after it.
    let alpha = 0.5;
    for (const e of logged) {
      const executed = e.gateExecRates.reduce((x, y) => x + y, 0) / e.gateExecRates.length;
      alpha = Math.max(0, alpha + target.alphaStep * (executed - target.rate));
      expect(e.alpha).toBeCloseTo(alpha, 12);
    }
    // SP left its gates executing most blocks: above the rate, alpha has to rise.
    expect(alpha).toBeGreaterThan(0.5);
    const state = JSON.parse(readFileSync(join(scratch, 'hrl-target-full', 'last', 'state.json'), 'utf8'));
    expect(state.hrlAlpha).toBeCloseTo(alpha, 12);

    await stoppedAndResumed(config('hrl-target-split', hrl), 5);
    const [a, b] = [weights(join(scratch, 'hrl-target-full')), weights(join(scratch, 'hrl-target-split'))];
    for (const [k, v] of a) expect(Buffer.compare(v, b.get(k)!), k).toBe(0);
  });

  it('stopAt ends a run early on the full schedule; resumed with a later stopAt it equals the uninterrupted run', async () => {
    // The execution-target run above, as two stages: its first 5 steps, then the remaining 7.
    const hrl = {
      stage: 'hrl' as const,
      init: join(scratch, 'sp-full'),
      hrl: { alpha: 0.5, executionTarget: { rate: 0.3, alphaStep: 2 } },
      optimizer: { lr: 0.01 },
      logEvery: 1,
    };
    const events: TrainEvent[] = [];
    const first = await train(config('hrl-stop', { ...hrl, stopAt: 5 }), { onEvent: (e) => events.push(e) });
    expect(first.steps).toBe(5);
    // Same learning rates and alphas as the 12-step run's first 5 steps: the schedule kept its length.
    const full = readFileSync(join(scratch, 'hrl-target-full', 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'train' && e.step <= 5);
    const logged = events.filter((e) => e.type === 'train');
    expect(logged.map((e) => [e.step, e.lr, e.alpha])).toEqual(full.map((e) => [e.step, e.lr, e.alpha]));
    expect(events.some((e) => e.type === 'eval' && e.step === 5)).toBe(true);

    await train(config('hrl-stop', { ...hrl, stopAt: 12 }), { resume: join(scratch, 'hrl-stop') });
    const [a, b] = [weights(join(scratch, 'hrl-target-full')), weights(join(scratch, 'hrl-stop'))];
    for (const [k, v] of a) expect(Buffer.compare(v, b.get(k)!), k).toBe(0);
    expect(() => config('bad', { stopAt: 13 })).toThrow(/stopAt: must be at most schedule\.steps \(12\), got 13/);
  });

  it('refuses an HRL execution target outside (0, 1)', () => {
    for (const rate of [0, 1, 1.5]) {
      expect(() => config('bad', { stage: 'hrl', hrl: { executionTarget: { rate } } })).toThrow(/executionTarget/);
    }
  });

  it.each([
    [{ sharpen: 0.01 }],
    [{ gateBiasShift: 2.2 }],
  ])('refuses %o on a feed-forward gate, naming the keys', (hrl) => {
    const model = { arch: 'cifar' as const, depth: 14, gate: 'ffgate1' as const };
    expect(() => config('bad', { stage: 'hrl', model, hrl })).toThrow(/hrl\.sharpen and hrl\.gateBiasShift .* model\.gate 'rnn' \(got 'ffgate1'\)/);
    expect(() => config('ok', { stage: 'hrl', model })).not.toThrow();
  });

  it('refuses HRL on a model without gates', () => {
    expect(() => config('bad', { stage: 'hrl', model: { arch: 'cifar', depth: 14, gate: 'none' } })).toThrow(/HRL stage trains gates/);
  });
});
