// Throughput of this engine's trainStep/evalStep: the counterpart of
// bench/pytorch/bench_torch.py, with the same work per step (uint8 NHWC batch in, /255 and
// per-channel normalisation, forward; in train mode mean CE + backward + SGD lr 0.1,
// momentum 0.9, wd 1e-4, no nesterov). Synthetic CIFAR-sized uint8 batches, a few made
// up front from a seeded generator and cycled, so no loader cost.
//
//   node --import tsx bench/native-bench.ts --depth 38 --mode train --threads 2 --steps 8 --warmup 3
//
// Evaluation defaults to --execution mask (every block computed, then masked), which is
// what the reference does; --execution skip measures the engine's real skipping, whose
// work depends on the gate decisions.
//
// Prints one JSON line (fields named as bench_torch.py's where they mean the same). The
// SP throughput benchmark (bench/sp-throughput.ts) runs this file as a child process, one
// process per measurement, just as it runs bench_torch.py.
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { GateKind, NativeBatch, NativeModelSpec } from '../lib/binding-types.js';
import { createModel } from '../lib/model.js';
import { loadNative } from '../lib/native.js';
import { computationPercentage } from '../lib/train/metrics.js';
import { CIFAR_NORMALIZATION } from '../lib/train/normalization.js';

export interface NativeBenchConfig {
  depth: number;
  gate: GateKind;
  mode: 'train' | 'eval';
  batch: number;
  size: number;
  classes: number;
  threads: number;
  steps: number;
  warmup: number;
  seed: number;
  threshold: number;
  /** evalStep execution: 'mask' computes every block and masks, like the reference
   *  (bench_torch.py); 'skip' runs gated blocks only on the samples that execute them. */
  execution: 'mask' | 'skip';
}

export interface NativeBenchResult {
  images_per_s: number;
  ms_per_step: number;
  step_ms: number[];
  threads: number;
  libtorch_version: string;
  libtorch_path: string;
  arch: 'cifar';
  depth: number;
  gate: GateKind;
  mode: 'train' | 'eval';
  execution: 'mask' | 'skip' | null; // eval only
  batch: number;
  steps: number;
  warmup: number;
  device: 'cpu';
  cp: number;
  parameters: number;
  max_rss_mb: number;
}

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` batches of uniform uint8 pixels (NHWC) and uniform labels, the same for a given seed. */
export function syntheticBatches(count: number, n: number, size: number, classes: number, seed: number): NativeBatch[] {
  const next = rng(seed);
  const out: NativeBatch[] = [];
  for (let b = 0; b < count; b++) {
    const images = new Uint8Array(n * size * size * 3);
    for (let i = 0; i < images.length; i++) images[i] = (next() * 256) | 0;
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) labels[i] = (next() * classes) | 0;
    out.push({ images, labels, n, height: size, width: size, channels: 3 });
  }
  return out;
}

export async function measureNative(cfg: NativeBenchConfig): Promise<NativeBenchResult> {
  const spec: NativeModelSpec = {
    arch: 'cifar',
    depth: cfg.depth,
    gate: cfg.gate,
    gateMode: 'hard',
    numClasses: cfg.classes,
    inChannels: 3,
    mean: CIFAR_NORMALIZATION.mean,
    std: CIFAR_NORMALIZATION.std,
    device: 'cpu',
    threads: cfg.threads,
    seed: cfg.seed,
  };
  const versions = loadNative().versions();
  const model = createModel(spec);
  try {
    const info = model.info(cfg.size, cfg.size);
    const batches = syntheticBatches(4, cfg.batch, cfg.size, cfg.classes, cfg.seed);
    const opt = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: false };
    const step = async (i: number): Promise<Float64Array> => {
      const b = batches[i % batches.length]!;
      if (cfg.mode === 'train') return (await model.trainStep(b, opt)).gateExec;
      return (await model.evalStep(b, cfg.threshold, cfg.execution)).gateExec;
    };
    for (let i = 0; i < cfg.warmup; i++) await step(i);
    const stepMs: number[] = [];
    const cps: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < cfg.steps; i++) {
      const s0 = performance.now();
      const exec = await step(cfg.warmup + i);
      stepMs.push(performance.now() - s0);
      if (exec.length > 0) cps.push(computationPercentage(Array.from(exec, (e) => e / cfg.batch)));
    }
    const dt = (performance.now() - t0) / 1000;
    return {
      images_per_s: (cfg.batch * cfg.steps) / dt,
      ms_per_step: (1000 * dt) / cfg.steps,
      step_ms: stepMs.map((v) => Math.round(v * 10) / 10),
      threads: info.threads,
      libtorch_version: versions.libtorch,
      libtorch_path: versions.libtorchPath,
      arch: 'cifar',
      depth: cfg.depth,
      gate: cfg.gate,
      mode: cfg.mode,
      execution: cfg.mode === 'eval' ? cfg.execution : null,
      batch: cfg.batch,
      steps: cfg.steps,
      warmup: cfg.warmup,
      device: 'cpu',
      cp: cps.length > 0 ? cps.reduce((a, b) => a + b, 0) / cps.length : 100,
      parameters: info.parameters,
      // process-wide peak; this file runs one measurement per process, so it is this one's
      max_rss_mb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    model.dispose();
  }
}

function int(v: string | undefined, fallback: number, name: string, min: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      depth: { type: 'string' },
      gate: { type: 'string' },
      mode: { type: 'string' },
      batch: { type: 'string' },
      size: { type: 'string' },
      classes: { type: 'string' },
      threads: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      seed: { type: 'string' },
      threshold: { type: 'string' },
      execution: { type: 'string' },
    },
    strict: true,
  });
  const mode = values.mode ?? 'train';
  if (mode !== 'train' && mode !== 'eval') throw new Error(`--mode must be train or eval, got '${mode}'`);
  const gate = (values.gate ?? 'rnn') as GateKind;
  if (!['none', 'rnn', 'ffgate1', 'ffgate2'].includes(gate)) throw new Error(`--gate: unknown gate '${gate}'`);
  const threshold = values.threshold === undefined ? 0.5 : Number(values.threshold);
  const execution = values.execution ?? 'mask';
  if (execution !== 'mask' && execution !== 'skip') throw new Error(`--execution must be mask or skip, got '${execution}'`);
  const result = await measureNative({
    depth: int(values.depth, 38, 'depth', 8),
    gate,
    mode,
    batch: int(values.batch, 128, 'batch', 1),
    size: int(values.size, 32, 'size', 8),
    classes: int(values.classes, 10, 'classes', 2),
    threads: int(values.threads, os.availableParallelism(), 'threads', 1),
    steps: int(values.steps, 8, 'steps', 1),
    warmup: int(values.warmup, 3, 'warmup', 0),
    seed: int(values.seed, 0, 'seed', 0),
    threshold,
    execution,
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`native-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
