import { describe, expect, it } from 'vitest';
import { BatchLoader, fullPass } from '../../lib/data/loader.js';
import { MemoryDataset } from '../../lib/data/memory.js';
import type { Batch, ImageDataset } from '../../lib/data/types.js';

/** Image i holds i (little-endian, 4 bytes) in its first pixels, then a fill of i % 251 + 1. */
function indexed(n: number, h = 4, w = 4, c = 3, numClasses = 5): MemoryDataset {
  const ib = h * w * c;
  const pixels = new Uint8Array(n * ib);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    pixels.fill((i % 251) + 1, i * ib, (i + 1) * ib);
    pixels[i * ib] = i & 255;
    pixels[i * ib + 1] = (i >> 8) & 255;
    pixels[i * ib + 2] = (i >> 16) & 255;
    labels[i] = (i * 7) % numClasses;
  }
  return new MemoryDataset({ name: 'indexed', height: h, width: w, channels: c, classNames: ['a', 'b', 'c', 'd', 'e'].slice(0, numClasses), labels, pixels });
}

const idOf = (b: Batch, k: number): number => {
  const o = k * b.height * b.width * b.channels;
  return b.images[o] | (b.images[o + 1] << 8) | (b.images[o + 2] << 16);
};

async function collect(gen: AsyncGenerator<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of gen) out.push(b);
  return out;
}

/** Check a batch's images/labels are the dataset's entries named by indices; return the indices. */
function checkBatch(ds: MemoryDataset, b: Batch): number[] {
  expect(b.images.length).toBe(b.n * ds.imageBytes);
  expect(b.labels.length).toBe(b.n);
  expect(b.indices.length).toBe(b.n);
  for (let k = 0; k < b.n; k++) {
    const i = b.indices[k];
    if (idOf(b, k) !== i) throw new Error(`batch slot ${k}: image of ${idOf(b, k)}, index says ${i}`);
    if (b.labels[k] !== ds.labels[i]) throw new Error(`batch slot ${k}: label ${b.labels[k]} != ${ds.labels[i]}`);
  }
  return Array.from(b.indices);
}

describe('BatchLoader', () => {
  const ds = indexed(103);

  it('visits every index exactly once per epoch, new order each epoch, same order for the same seed', async () => {
    const L = new BatchLoader(ds, { batchSize: 10, seed: 1 });
    expect(L.batchesPerEpoch).toBe(11);
    const orders: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const batches = await collect(L.epoch(e));
      expect(batches.length).toBe(11);
      expect(batches.map((b) => b.n)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
      const order = batches.flatMap((b) => checkBatch(ds, b));
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
      orders.push(order);
    }
    expect(orders[0]).not.toEqual(orders[1]);
    expect(orders[1]).not.toEqual(orders[2]);
    const again = (await collect(new BatchLoader(ds, { batchSize: 7, seed: 1 }).epoch(1))).flatMap((b) => Array.from(b.indices));
    expect(again).toEqual(orders[1]); // order depends on (seed, epoch), not on batch size
    const other = (await collect(new BatchLoader(ds, { batchSize: 10, seed: 2 }).epoch(1))).flatMap((b) => Array.from(b.indices));
    expect(other).not.toEqual(orders[1]);
    const ordered = (await collect(new BatchLoader(ds, { batchSize: 10, shuffle: false }).epoch(4))).flatMap((b) => Array.from(b.indices));
    expect(ordered).toEqual(Array.from({ length: 103 }, (_, i) => i));
  });

  it('next() continues across epochs and matches epoch()', async () => {
    const A = new BatchLoader(ds, { batchSize: 25, seed: 9, augment: 'cifar' });
    const B = new BatchLoader(ds, { batchSize: 25, seed: 9, augment: 'cifar', prefetch: 0 });
    expect(A.batchesPerEpoch).toBe(5);
    const viaEpoch = [...(await collect(B.epoch(0))), ...(await collect(B.epoch(1)))];
    expect(A.position).toEqual({ epoch: 0, batch: 0 });
    for (let t = 0; t < 10; t++) {
      const b = await A.next();
      const ref = viaEpoch[t];
      expect(Array.from(b.indices)).toEqual(Array.from(ref.indices));
      expect(Array.from(b.labels)).toEqual(Array.from(ref.labels));
      // Augmentation is deterministic per (seed, epoch, rank, batch), whatever the prefetch.
      expect(Buffer.compare(Buffer.from(b.images), Buffer.from(ref.images))).toBe(0);
    }
    expect(A.position).toEqual({ epoch: 2, batch: 0 });
    expect(A.dataWaitMs).toBeGreaterThanOrEqual(0);
    // Resuming from (epoch 1, batch 3) gives the same batches.
    const R = new BatchLoader(ds, { batchSize: 25, seed: 9, augment: 'cifar', startEpoch: 1, startBatch: 3 });
    expect(Array.from((await R.next()).indices)).toEqual(Array.from(viaEpoch[8].indices));
  });

  it('augments: same seed same bytes, images differ from the originals, labels untouched', async () => {
    const big = indexed(64, 8, 8, 3);
    const a = await new BatchLoader(big, { batchSize: 64, seed: 5, augment: 'cifar' }).buildBatch(0, 0);
    const b = new BatchLoader(big, { batchSize: 64, seed: 5, augment: 'cifar' }).buildBatchSync(0, 0);
    const c = await new BatchLoader(big, { batchSize: 64, seed: 5, augment: 'none' }).buildBatch(0, 0);
    expect(Buffer.compare(Buffer.from(a.images), Buffer.from(b.images))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.images), Buffer.from(c.images))).not.toBe(0);
    expect(Array.from(a.indices)).toEqual(Array.from(c.indices));
    expect(Array.from(a.labels)).toEqual(Array.from(c.labels));
    // Each augmented image holds only its own fill value and padding zeros (8x8 image, the id bytes aside).
    let zeros = 0;
    for (let k = 0; k < 64; k++) {
      const fillv = (a.indices[k] % 251) + 1;
      const img = a.images.subarray(k * 192, (k + 1) * 192);
      const id = [a.indices[k] & 255, (a.indices[k] >> 8) & 255, 0];
      for (const v of img) {
        if (v === 0) zeros++;
        else if (v !== fillv && !id.includes(v)) throw new Error(`unexpected byte ${v} in image ${a.indices[k]}`);
      }
    }
    expect(zeros).toBeGreaterThan(0);
  });

  it('shards like DistributedSampler: equal counts, disjoint, covering the epoch', async () => {
    for (const [n, world] of [
      [12, 3],
      [10, 3],
      [103, 4],
      [5, 8],
    ]) {
      const d = indexed(n);
      const perRank: number[][] = [];
      for (let rank = 0; rank < world; rank++) {
        const L = new BatchLoader(d, { batchSize: 3, seed: 11, rank, worldSize: world });
        expect(L.samplesPerEpoch).toBe(Math.ceil(n / world));
        const idx = (await collect(L.epoch(2))).flatMap((b) => checkBatch(d, b));
        expect(idx.length).toBe(Math.ceil(n / world));
        perRank.push(idx);
      }
      // torch's algorithm: the epoch permutation padded by wrap-around, rank r takes r, r+W, ...
      const perm = Array.from(new BatchLoader(d, { batchSize: 3, seed: 11 }).epochIndices(2));
      const total = Math.ceil(n / world) * world;
      const padded = Array.from({ length: total }, (_, t) => perm[t % n]);
      for (let rank = 0; rank < world; rank++) expect(perRank[rank]).toEqual(padded.filter((_, t) => t % world === rank));
      const all = perRank.flat();
      expect(new Set(all).size).toBe(n); // covers every sample
      if (n % world === 0) expect(all.length).toBe(n); // disjoint when no padding is needed
      else expect(all.length - n).toBe(total - n); // only the wrap-around padding repeats
    }
  });

  it('dropLast drops the incomplete last batch', async () => {
    const d = indexed(10);
    const keep = new BatchLoader(d, { batchSize: 4, shuffle: false });
    const drop = new BatchLoader(d, { batchSize: 4, shuffle: false, dropLast: true });
    expect(keep.batchesPerEpoch).toBe(3);
    expect(drop.batchesPerEpoch).toBe(2);
    expect((await collect(keep.epoch(0))).map((b) => b.n)).toEqual([4, 4, 2]);
    expect((await collect(drop.epoch(0))).map((b) => b.n)).toEqual([4, 4]);
    // Across epochs via next(): the dropped samples are skipped, epoch 1 starts at batch 0.
    const seen: number[] = [];
    for (let t = 0; t < 4; t++) seen.push((await drop.next()).n);
    expect(seen).toEqual([4, 4, 4, 4]);
    expect(drop.position).toEqual({ epoch: 2, batch: 0 });
    const sharded = new BatchLoader(d, { batchSize: 2, worldSize: 3, rank: 1, dropLast: true });
    expect(sharded.batchesPerEpoch).toBe(2); // 4 samples on this rank
    expect(() => new BatchLoader(d, { batchSize: 11, dropLast: true })).toThrow(/no batches/);
  });

  it('fullPass is ordered, unaugmented and includes the last partial batch', async () => {
    const batches = await collect(fullPass(ds, 40));
    expect(batches.map((b) => b.n)).toEqual([40, 40, 23]);
    const order = batches.flatMap((b) => checkBatch(ds, b));
    expect(order).toEqual(Array.from({ length: 103 }, (_, i) => i));
    for (const b of batches) for (let k = 0; k < b.n; k++) expect(b.images[k * ds.imageBytes + 5]).toBe((b.indices[k] % 251) + 1);
  });

  it('prepares batches ahead while the consumer is busy, and yields to the event loop while assembling', async () => {
    let reads = 0;
    const counting: ImageDataset = {
      ...ds,
      name: ds.name,
      size: ds.size,
      labels: ds.labels,
      classNames: ds.classNames,
      readImage: (i, out, off) => {
        reads++;
        ds.readImage(i, out, off);
      },
    };
    const L = new BatchLoader(counting, { batchSize: 10, prefetch: 2 });
    await L.next();
    await new Promise((r) => setTimeout(r, 50)); // the consumer "awaits a native step"
    expect(reads).toBe(30); // batch 0 plus two prefetched
    const before = L.dataWaitMs;
    await L.next();
    expect(L.dataWaitMs - before).toBeLessThan(20); // already built
    expect(L.dataWaitMs).toBeGreaterThanOrEqual(0);
    L.resetStats();
    expect(L.dataWaitMs).toBe(0);

    // A 512 x 64x64x3 batch (6 MiB) is assembled in chunks: a timer set before it fires in between.
    const big = indexed(512, 64, 64, 3);
    const B = new BatchLoader(big, { batchSize: 512, shuffle: false, prefetch: 0 });
    let ticked = false;
    setImmediate(() => (ticked = true));
    const pending = B.buildBatch(0, 0);
    let tickedBeforeDone = false;
    await pending.then(() => (tickedBeforeDone = ticked));
    expect(tickedBeforeDone).toBe(true);
  });

  it('validates its options', () => {
    expect(() => new BatchLoader(ds, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new BatchLoader(ds, { batchSize: 4, rank: 2, worldSize: 2 })).toThrow(/rank 2/);
    expect(() => new BatchLoader(ds, { batchSize: 4, augment: 'bogus' as never })).toThrow(/augmentation/);
    expect(() => new BatchLoader(ds, { batchSize: 4, startBatch: 99 })).toThrow(/startBatch/);
  });
});
