// Real data end to end: a small SkipNet trained briefly on the CIFAR-10 JPEG copy in
// ../shared/datasets (decoded with sharp, through the TypeScript loader and the native
// engine) must reach at least 45% top-1 on the full 10,000-image test split.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config.js';
import { sharedArchive, sharedDataset } from '../../lib/data/index.js';
import { train } from '../../lib/train/trainer.js';

const archive = sharedArchive('cifar10-jpeg');
if (!archive) console.warn('[skip] CIFAR-10 real-data training: ../shared/datasets/cifar10-jpeg.tar.gz is absent');

describe.skipIf(!archive)('SP training on real CIFAR-10 (JPEG copy)', () => {
  it('reaches at least 45% top-1 on the test split and reports computation', async () => {
    const root = await sharedDataset('cifar10-jpeg');
    const config = parseConfig({
      model: { arch: 'cifar', depth: 20, gate: 'rnn', gateMode: 'hard' },
      data: { source: { kind: 'folder', root }, augment: 'none', batchSize: 128, evalBatchSize: 500 },
      optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: false },
      schedule: { kind: 'cosine', steps: 400, warmupSteps: 20 },
      evalEvery: 500,
      logEvery: 50,
      seed: 1,
      outDir: mkdtempSync(join(tmpdir(), 'skipnet-cifar-')),
    });
    const summary = await train(config);
    console.log(`CIFAR-10 SkipNet-20, 400 steps: ${JSON.stringify(summary)}`);
    expect(summary.top1).toBeGreaterThanOrEqual(45);
    expect(summary.cp).toBeGreaterThan(100 / 9); // block 0 always runs
    expect(summary.cp).toBeLessThanOrEqual(100);
    expect(summary.gateExecRates).toHaveLength(8);
  }, 1_800_000);
});
