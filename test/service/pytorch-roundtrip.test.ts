// safetensors both ways between skipnet and the PyTorch reference model
// (bench/pytorch/skipnet_ref.py): our saved weights load strictly into PyTorch and give
// our logits; weights PyTorch saves load into a Classifier and give PyTorch's logits.
// Needs /usr/bin/python3 with torch (Debian: python3-torch); skipped without it.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../lib/safetensors.js';
import { Classifier } from '../../lib/service/classifier.js';
import type { PredictResult } from '../../lib/service/types.js';
import { dir, savedModel, toBatch, variedImages } from './helpers.js';

const PYTHON = process.env.SKIPNET_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch) console.warn(`[skip] service PyTorch round trip: ${PYTHON} cannot import torch (Debian: apt-get install python3-torch)`);

const disposers: Array<{ dispose(): void }> = [];
afterAll(() => disposers.forEach((d) => d.dispose()));

function logitsOf(file: string): Float32Array {
  const t = decodeSafetensors(readFileSync(file)).tensors.find((x) => x.name === 'logits')!;
  return new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
}

function maxAbsDiff(results: PredictResult[], ref: Float32Array, classes: number): number {
  let worst = 0;
  results.forEach((r, s) => {
    for (let k = 0; k < classes; k++) worst = Math.max(worst, Math.abs(r.logits[k]! - ref[s * classes + k]!));
  });
  return worst;
}

describe.skipIf(!hasTorch)('safetensors round trip through PyTorch', () => {
  it.each(['rnn', 'ffgate1'] as const)('depth 20 (%s): ours -> PyTorch and PyTorch -> ours give the same logits (1e-4)', async (gate) => {
    const where = dir(`torch-${gate}`);
    const saved = await savedModel(where, { depth: 20, gate, seed: 31 }, 1);
    disposers.push(saved.model);
    const images = variedImages(8, 8);
    const b = toBatch(images);
    writeFileSync(join(where, 'spec.json'), JSON.stringify(saved.spec));
    writeFileSync(
      join(where, 'images.safetensors'),
      encodeSafetensors([{ name: 'images', dtype: 'U8', shape: [b.n, b.height, b.width, b.channels], data: b.images }]),
    );
    const out = execFileSync(
      PYTHON,
      [
        'test/service/torch_roundtrip.py',
        '--spec', join(where, 'spec.json'),
        '--weights', saved.file,
        '--images', join(where, 'images.safetensors'),
        '--logits', join(where, 'ours_in_torch.safetensors'),
        '--seed', '1234',
        '--make', join(where, 'theirs.safetensors'),
        '--make-logits', join(where, 'theirs_logits.safetensors'),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    console.log(`torch round trip ${gate}: ${out.trim()}`);
    const counts = JSON.parse(out.trim().split('\n').pop()!) as { executed_ours: number[]; executed_theirs: number[] };
    // Some gated block runs on some images and not on others: real per-image skipping is compared.
    expect([...counts.executed_ours, ...counts.executed_theirs].some((n) => n > 0 && n < 8)).toBe(true);

    // ours -> PyTorch
    const ours = await Classifier.load(saved.file, { threads: 2 });
    disposers.push(ours);
    const ourResults = await ours.predict(images);
    const torchLogits = logitsOf(join(where, 'ours_in_torch.safetensors'));
    expect(torchLogits.length).toBe(8 * 10);
    expect(maxAbsDiff(ourResults, torchLogits, 10)).toBeLessThan(1e-4);

    // PyTorch -> ours (spec from the file's metadata, different seed and BN statistics)
    const theirs = await Classifier.load(join(where, 'theirs.safetensors'), { threads: 2 });
    disposers.push(theirs);
    expect(theirs.spec.seed).toBe(1234);
    const theirResults = await theirs.predict(images);
    const theirLogits = logitsOf(join(where, 'theirs_logits.safetensors'));
    expect(maxAbsDiff(theirResults, theirLogits, 10)).toBeLessThan(1e-4);
    // The two models really differ (the comparison is not trivially true).
    expect(maxAbsDiff(theirResults, torchLogits, 10)).toBeGreaterThan(1e-2);
  });
});
