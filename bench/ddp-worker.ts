// One measurement of bench/ddp.ts: SP training steps of a SkipNet on synthetic CIFAR-sized
// batches, either alone (WORLD_SIZE unset) or as one rank of a data-parallel group started by
// `skipnet launch` (lib/distributed/launcher.ts). The global batch is split evenly over the
// ranks; rank 0 times the steps (every step ends with the same collectives on every rank,
// so its clock is the group's) and prints one JSON line.
//
//   node --import tsx bench/ddp-worker.ts --depth 38 --batch 128 --threads 2 --steps 10 --warmup 3
import { parseArgs } from 'node:util';
import type { NativeBatch } from '../lib/binding-types.js';
import { rankFromEnv } from '../lib/distributed/rank.js';
import { createModel } from '../lib/model.js';
import { loadNative } from '../lib/native.js';
import { CIFAR_NORMALIZATION } from '../lib/train/normalization.js';

export interface DdpWorkerResult {
  world_size: number;
  overlap: boolean;
  threads: number;
  global_batch: number;
  /** From the median step: a few steps slowed by another process (this VM has CPU steal)
   *  do not move it; mean_ms_per_step keeps the plain average. */
  images_per_s: number;
  ms_per_step: number;
  mean_ms_per_step: number;
  step_ms: number[];
  /** Ranks only: median time of one all-reduce of as many bytes as the float32 gradient, the
   *  most that overlapping the gradient all-reduce with backward could hide per step. */
  allreduce_ms: number | null;
  gradient_mb: number;
  max_rss_mb: number;
  libtorch_version: string;
}

function synthetic(n: number, seed: number): NativeBatch {
  let s = seed >>> 0;
  const images = new Uint8Array(n * 32 * 32 * 3);
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    images[i] = s >>> 24;
  }
  const labels = new Int32Array(n).map((_, i) => (i * 7 + seed) % 10);
  return { images, labels, n, height: 32, width: 32, channels: 3 };
}

const { values } = parseArgs({
  options: {
    depth: { type: 'string', default: '38' },
    batch: { type: 'string', default: '128' },
    threads: { type: 'string', default: '1' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    'no-overlap': { type: 'boolean', default: false },
  },
});
const [depth, globalBatch, threads, steps, warmup] = [values.depth, values.batch, values.threads, values.steps, values.warmup].map(Number) as [
  number,
  number,
  number,
  number,
  number,
];
const ranks = rankFromEnv();
const world = ranks?.worldSize ?? 1;
const rank = ranks?.rank ?? 0;
if (globalBatch % world !== 0) throw new Error(`batch ${globalBatch} does not split over ${world} ranks`);

const model = createModel({
  arch: 'cifar',
  depth,
  gate: 'rnn',
  gateMode: 'hard',
  numClasses: 10,
  inChannels: 3,
  ...CIFAR_NORMALIZATION,
  device: 'cpu',
  threads,
  seed: 0,
});
try {
  if (ranks) await model.initDistributed({ overlap: !values['no-overlap'] });
  // Each rank its own samples; a few batches cycled, made up front (no loader cost).
  const batches = [0, 1, 2].map((k) => synthetic(globalBatch / world, 1000 * k + rank));
  const opt = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: false };
  for (let i = 0; i < warmup; i++) await model.trainStep(batches[i % 3]!, opt);
  if (ranks) await model.barrier(); // start the clocks together
  const stepMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await model.trainStep(batches[i % 3]!, opt);
    stepMs.push(performance.now() - t);
  }
  if (ranks) await model.barrier();
  const parameters = model.info().parameters;
  let allreduceMs: number | null = null;
  if (ranks) {
    const payload = new Float64Array(Math.ceil(parameters / 2)); // 8-byte values: the float32 gradient's bytes
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      await model.allReduce(payload);
      times.push(performance.now() - t);
    }
    allreduceMs = times.slice(1).sort((a, b) => a - b)[2]!; // median of 5 after one warm-up
  }
  const total = stepMs.reduce((a, b) => a + b, 0);
  const sorted = [...stepMs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const result: DdpWorkerResult = {
    world_size: world,
    overlap: !values['no-overlap'],
    threads,
    global_batch: globalBatch,
    images_per_s: (globalBatch * 1000) / medianMs,
    ms_per_step: medianMs,
    mean_ms_per_step: total / steps,
    step_ms: stepMs.map((v) => Math.round(v * 10) / 10),
    allreduce_ms: allreduceMs === null ? null : Math.round(allreduceMs * 100) / 100,
    gradient_mb: Math.round((parameters * 4) / 1e4) / 100,
    max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    libtorch_version: loadNative().versions().libtorch,
  };
  if (rank === 0) process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  model.dispose();
}
