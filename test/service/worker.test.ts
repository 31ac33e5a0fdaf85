// The Classifier inside a worker_thread: the addon keeps per-environment state, so a worker
// can load its own model and predict, and gets the same answers as the main thread.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { Classifier } from '../../lib/service/classifier.js';
import { dir, savedModel, variedImages } from './helpers.js';

const disposers: Array<{ dispose(): void }> = [];
afterAll(() => disposers.forEach((d) => d.dispose()));

function runWorker(data: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const w = new Worker(fileURLToPath(new URL('./fixtures/predict-worker.mjs', import.meta.url)), { workerData: data, execArgv: [] });
    let message: unknown;
    w.once('message', (m) => (message = m));
    w.once('error', reject);
    w.once('exit', (code) => (message ? resolve(message) : reject(new Error(`worker exited with code ${code} and no answer`))));
  });
}

describe('worker_threads', () => {
  it('loads a Classifier in a worker and predicts the same as the main thread', async () => {
    const saved = await savedModel(dir('worker'), { depth: 20, gate: 'rnn', seed: 5 }, 1);
    disposers.push(saved.model);
    const images = variedImages(77, 6);
    const main = await Classifier.load(saved.file, { threads: 1 });
    disposers.push(main);
    const expected = await main.predict(images);

    const reply = await runWorker({
      classifierModule: new URL('../../lib/service/classifier.ts', import.meta.url).href,
      weights: saved.file,
      images,
    });
    expect(reply.error).toBeUndefined();
    expect(reply.ok).toBe(true);
    expect(reply.threadId).toBeGreaterThan(0);
    expect(reply.results).toHaveLength(images.length);
    reply.results.forEach((r: { label: number; probabilities: number[]; executedBlocks: number[] }, i: number) => {
      expect(r.label).toBe(expected[i]!.label);
      expect(r.executedBlocks).toEqual(expected[i]!.executedBlocks);
      r.probabilities.forEach((p, k) => expect(Math.abs(p - expected[i]!.probabilities[k]!)).toBeLessThan(1e-5));
    });
    expect(reply.batchLabels).toEqual(expected.map((r) => r.label));
    // The six concurrent requests in the worker shared native calls too.
    expect(reply.stats.nativeCalls).toBeLessThanOrEqual(3);
  });
});
