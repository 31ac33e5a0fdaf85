// Many concurrent callers: every request gets exactly its own answer, the work is packed
// into few native calls, and never two of them run at once on the model.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalStepResult, NativeBatch } from '../../lib/binding-types.js';
import { Classifier } from '../../lib/service/classifier.js';
import type { ImageInput, PredictResult, RawImage } from '../../lib/service/types.js';
import { dir, savedModel, variedImages } from './helpers.js';

const disposers: Array<{ dispose(): void }> = [];
afterAll(() => disposers.forEach((d) => d.dispose()));

/** Wraps clf.model.evalStep: counts calls and the most ever in flight at once. */
function instrument(clf: Classifier) {
  const counts = { calls: 0, images: 0, inFlight: 0, maxInFlight: 0, thresholds: new Set<number>() };
  const model = clf.model as unknown as { evalStep(b: NativeBatch, t: number, e?: 'skip' | 'mask'): Promise<EvalStepResult> };
  const original = model.evalStep.bind(model);
  model.evalStep = async (b, t, e) => {
    counts.calls++;
    counts.images += b.n;
    counts.thresholds.add(t);
    counts.inFlight++;
    counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
    try {
      return await original(b, t, e);
    } finally {
      counts.inFlight--;
    }
  };
  return counts;
}

describe('concurrent predict', () => {
  let clf: Classifier;
  const images = variedImages(42, 40);
  const baseline = new Map<string, PredictResult>(); // `${threshold}:${index}` -> sequential single-image answer

  beforeAll(async () => {
    const saved = await savedModel(dir('conc'), { depth: 20, gate: 'rnn', seed: 21 });
    disposers.push(saved.model);
    clf = await Classifier.load(saved.file, { threads: 2 });
    disposers.push(clf);
    for (const threshold of [0.5, 0.7]) {
      for (let i = 0; i < images.length; i++) baseline.set(`${threshold}:${i}`, await clf.predict(images[i]!, { threshold }));
    }
  });

  it('300 requests from 6 callers: each gets the sequential answer, in far fewer native calls', async () => {
    const counts = instrument(clf);
    interface Asked {
      idx: number[];
      threshold: number;
      single: boolean;
      promise: Promise<PredictResult | PredictResult[]>;
    }
    const asked: Asked[] = [];
    const caller = async (c: number) => {
      const threshold = c % 3 === 2 ? 0.7 : 0.5;
      for (let j = 0; j < 50; j++) {
        const k = c * 50 + j;
        if (j % 4 === 3) {
          // a small array of 2..4 images
          const idx = Array.from({ length: 2 + (k % 3) }, (_, m) => (k * 7 + m * 13) % images.length);
          const opts = j % 8 === 7 ? {} : { threshold }; // {} = the default threshold 0.5
          asked.push({ idx, threshold: j % 8 === 7 ? 0.5 : threshold, single: false, promise: clf.predict(idx.map((i) => images[i]!), opts) });
        } else {
          const i = (k * 11) % images.length;
          asked.push({ idx: [i], threshold, single: true, promise: clf.predict(images[i]!, { threshold }) });
        }
        // Callers interleave: some yield to the event loop, some wait a moment.
        if (j % 5 === 4) await new Promise((r) => setImmediate(r));
        if (j % 17 === 16) await new Promise((r) => setTimeout(r, 1 + (c % 3)));
      }
    };
    await Promise.all([0, 1, 2, 3, 4, 5].map(caller));
    expect(asked).toHaveLength(300);
    let compared = 0;
    for (const a of asked) {
      const got = await a.promise;
      const list = a.single ? [got as PredictResult] : (got as PredictResult[]);
      expect(Array.isArray(got)).toBe(!a.single);
      expect(list).toHaveLength(a.idx.length);
      list.forEach((r, m) => {
        const want = baseline.get(`${a.threshold}:${a.idx[m]}`)!;
        expect(r.threshold).toBe(a.threshold);
        expect(r.label).toBe(want.label);
        expect(r.executedBlocks).toEqual(want.executedBlocks);
        expect(r.macs).toBe(want.macs);
        for (let k = 0; k < 10; k++) expect(Math.abs(r.probabilities[k]! - want.probabilities[k]!)).toBeLessThan(1e-5);
        compared++;
      });
    }
    const totalImages = asked.reduce((n, a) => n + a.idx.length, 0);
    console.log(`300 requests (${totalImages} images) -> ${counts.calls} native calls, at most ${counts.maxInFlight} in flight`);
    expect(compared).toBe(totalImages);
    expect(counts.images).toBe(totalImages);
    expect(counts.maxInFlight).toBe(1);
    expect(counts.calls).toBeLessThan(60);
    expect(counts.calls).toBeGreaterThanOrEqual(Math.ceil(totalImages / 32));
    expect([...counts.thresholds].sort()).toEqual([0.5, 0.7]);
    expect(clf.stats().nativeCalls).toBeGreaterThanOrEqual(counts.calls);
  });

  it('a corrupt image among concurrent requests fails alone', async () => {
    const png = (im: RawImage) => sharp(im.pixels, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
    const inputs: ImageInput[] = [];
    for (let i = 0; i < 20; i++) inputs.push(i % 2 ? await png(images[i]!) : images[i]!);
    const bad = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]); // a JPEG that stops after its marker
    const all = await Promise.allSettled([...inputs.slice(0, 10).map((x) => clf.predict(x)), clf.predict(bad), ...inputs.slice(10).map((x) => clf.predict(x))]);
    const rejected = all.flatMap((r, i) => (r.status === 'rejected' ? [[i, r.reason]] : []));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]![0]).toBe(10);
    expect((rejected[0]![1] as { code: string }).code).toBe('ERR_DATA');
    expect((rejected[0]![1] as Error).message).toMatch(/cannot decode the image/);
    all.forEach((r, i) => {
      if (i === 10) return;
      const src = i < 10 ? i : i - 1;
      expect((r as PromiseFulfilledResult<PredictResult>).value.label).toBe(baseline.get(`0.5:${src}`)!.label);
    });
  });
});
