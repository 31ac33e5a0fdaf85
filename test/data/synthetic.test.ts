import { describe, expect, it } from 'vitest';
import { makeSynthetic } from '../../lib/data/synthetic.js';
import { openDataset } from '../../lib/data/open.js';
import { MemoryDataset } from '../../lib/data/memory.js';

describe('synthetic dataset', () => {
  const base = { height: 12, width: 12, channels: 3, numClasses: 6 };

  it('is deterministic for a seed, differs across seeds and splits', () => {
    const a = makeSynthetic({ ...base, size: 300, seed: 1 });
    const b = makeSynthetic({ ...base, size: 300, seed: 1 });
    const c = makeSynthetic({ ...base, size: 300, seed: 2 });
    const t = makeSynthetic({ ...base, size: 300, seed: 1, split: 'test' });
    expect(Buffer.compare(Buffer.from(a.pixels), Buffer.from(b.pixels))).toBe(0);
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Buffer.compare(Buffer.from(a.pixels), Buffer.from(c.pixels))).not.toBe(0);
    expect(Buffer.compare(Buffer.from(a.pixels), Buffer.from(t.pixels))).not.toBe(0);
    expect([a.size, a.height, a.width, a.channels, a.numClasses, a.classNames.length]).toEqual([300, 12, 12, 3, 6, 6]);
    const hist = new Array(6).fill(0);
    for (const l of a.labels) hist[l]++;
    expect(hist).toEqual(new Array(6).fill(50));
  });

  it('is learnable: a nearest-class-mean classifier fit on train is accurate on test', () => {
    for (const channels of [3, 1]) {
      const opts = { height: 16, width: 16, channels, numClasses: 10, seed: 7 };
      const train = makeSynthetic({ ...opts, size: 1000 });
      const test = makeSynthetic({ ...opts, size: 300, split: 'test' });
      const D = train.imageBytes;
      const means = Array.from({ length: 10 }, () => new Float64Array(D));
      const counts = new Array(10).fill(0);
      for (let i = 0; i < train.size; i++) {
        const img = train.image(i);
        const m = means[train.labels[i]];
        for (let k = 0; k < D; k++) m[k] += img[k];
        counts[train.labels[i]]++;
      }
      means.forEach((m, c) => m.forEach((v, k) => (m[k] = v / counts[c])));
      let correct = 0;
      for (let i = 0; i < test.size; i++) {
        const img = test.image(i);
        let best = -1;
        let bestD = Infinity;
        for (let c = 0; c < 10; c++) {
          let d = 0;
          for (let k = 0; k < D; k++) d += (img[k] - means[c][k]) ** 2;
          if (d < bestD) [bestD, best] = [d, c];
        }
        if (best === test.labels[i]) correct++;
      }
      // Chance is 10%; the classes are separable but not trivially so for a linear template.
      console.log(`synthetic nearest-mean accuracy, ${channels} channel(s): ${(correct / test.size).toFixed(3)}`);
      expect(correct / test.size).toBeGreaterThan(0.6);
    }
  });

  it('openDataset builds train/test from the synthetic spec', async () => {
    const spec = { kind: 'synthetic' as const, size: 50, testSize: 20, height: 8, width: 10, channels: 3, numClasses: 4 };
    const tr = await openDataset(spec, 'train', { seed: 3 });
    const te = await openDataset(spec, 'test', { seed: 3 });
    expect([tr.size, te.size, tr.height, tr.width, tr.channels, tr.numClasses]).toEqual([50, 20, 8, 10, 3, 4]);
    expect(tr).toBeInstanceOf(MemoryDataset);
    const again = await openDataset(spec, 'train', { seed: 3 });
    expect(Buffer.compare(Buffer.from((again as MemoryDataset).pixels), Buffer.from((tr as MemoryDataset).pixels))).toBe(0);
    await expect(openDataset(spec, 'val' as never)).rejects.toThrow(/split/);
    await expect(openDataset({ kind: 'nope' } as never, 'train')).rejects.toThrow(/unknown data source kind/);
  });
});
