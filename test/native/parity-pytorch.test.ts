// Equality with the PyTorch implementation in bench/pytorch on identical weights: one
// training-mode forward/backward of SkipNet-38 (recurrent gate and FFGate-I), comparing
// logits, loss, gate probabilities, hard decisions and every parameter's gradient.
// In float32 both sides agree on the forward pass to ~1e-5, but a 38-layer network with
// batch-statistics BN amplifies rounding in some gradients to ~1e-2 relative (float32 vs
// float64 PyTorch differ as much), so the gradient comparison runs in float64, where
// any real difference in the algorithm would show and rounding does not.
// Needs Debian's python3-torch (the same LibTorch 1.13.1 build); skipped without it.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createModel } from '../../lib/model.js';
import { encodeSafetensors } from '../../lib/safetensors.js';
import { batch, scratch, spec, tensorsOf } from './helpers.js';

const PYTHON = process.env.SKIPNET_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch) console.warn(`[skip] PyTorch parity: ${PYTHON} cannot import torch (Debian: apt-get install python3-torch)`);

const models: Array<{ dispose(): void }> = [];
afterAll(() => models.forEach((m) => m.dispose()));

const cases = [
  ['rnn', 'float32'],
  ['ffgate1', 'float32'],
  ['rnn', 'float64'],
  ['ffgate1', 'float64'],
] as const;

describe.skipIf(!hasTorch).each(cases)('SkipNet-38 (%s, %s) against PyTorch', (gate, dtype) => {
  it('gives the same logits, loss, gate decisions and gradients (1e-4)', async () => {
    const s = spec({ depth: 38, gate, seed: 38, dtype });
    const model = createModel(s);
    models.push(model);
    const dir = join(scratch, `parity-${gate}-${dtype}`);
    execFileSync('mkdir', ['-p', dir]);
    const b = batch(99, 32);
    await model.saveWeights(join(dir, 'weights.safetensors'));
    const native = await model.inspectStep(b);
    writeFileSync(join(dir, 'native.safetensors'), native);
    const nativeGrads = [...tensorsOf(native).keys()].filter((k) => k.startsWith('grad.')).length;
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(s));
    writeFileSync(
      join(dir, 'batch.safetensors'),
      encodeSafetensors([
        { name: 'images', dtype: 'U8', shape: [b.n, b.height, b.width, b.channels], data: b.images },
        { name: 'labels', dtype: 'I32', shape: [b.n], data: new Uint8Array(b.labels.buffer) },
      ]),
    );
    const out = execFileSync(
      PYTHON,
      ['bench/pytorch/parity.py', '--spec', join(dir, 'spec.json'), '--weights', join(dir, 'weights.safetensors'),
        '--batch', join(dir, 'batch.safetensors'), '--native', join(dir, 'native.safetensors'), '--threads', '2'],
      { encoding: 'utf8', timeout: 300_000 },
    );
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.missing).toEqual([]);
    expect(r.unexpected ?? []).toEqual([]);
    expect(r.n_grads).toBe(nativeGrads);
    expect(r.masks_equal).toBe(true);
    expect(r.logits_maxabs).toBeLessThan(1e-4);
    expect(r.loss_abs).toBeLessThan(1e-4);
    expect(r.probs_maxabs).toBeLessThan(1e-4);
    if (dtype === 'float64') {
      expect(r.grad_maxabs).toBeLessThan(1e-4);
      // In fact equal to double rounding: any algorithmic difference would be far above this.
      expect(r.grad_rel_worst).toBeLessThan(1e-9);
      expect(r.logits_maxabs).toBeLessThan(1e-12);
    }
    console.log(`parity ${gate} ${dtype}: ${JSON.stringify(r)}`);
  });
});
