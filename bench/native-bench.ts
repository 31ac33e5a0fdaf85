// Throughput of this engine's trainStep/evalStep: the counterpart of
// bench/pytorch/bench_torch.py, with the same work per step (uint8 NHWC batch in, /255 and
// per-channel normalisation, forward; in train mode mean CE + backward + SGD lr 0.1,
// momentum 0.9, wd 1e-4, no nesterov). Synthetic uint8 batches (32x32 for --arch cifar,
// 224x224 for --arch imagenet), a few made up front from a seeded generator and cycled, so
// no loader cost; normalised with that dataset's constants (lib/train/normalization.ts).
//
//   node --import tsx bench/native-bench.ts --depth 38 --mode train --threads 2 --steps 8 --warmup 3
//   node --import tsx bench/native-bench.ts --arch imagenet --depth 101 --batch 256 \
//       --device cuda --precision bf16 --steps 8 --warmup 3
//
// --precision bf16|fp16 sets the spec's autocast precision (fp16: CUDA only, with dynamic
// loss scaling at torch.cuda.amp.GradScaler's defaults, initial scale 65536 and growth
// interval 2000, as bench_torch.py uses). On CUDA the spec asks for cudnnBenchmark, as
// bench_torch.py sets torch.backends.cudnn.benchmark.
//
// Timing on CUDA: trainStep reads the loss (and the gate counts) back after the forward
// pass, which waits for the device, and then queues backward and the SGD update without
// waiting for them; the next step's read-back waits for them. So a step's returns are one
// step's device work apart, and the timed span, from the return of the last warm-up step to
// the return of the last timed one, covers exactly --steps steps of device work (the last
// step's queued backward is left out, the last warm-up step's is counted in). That needs at
// least one warm-up step, which --device cuda enforces. evalStep copies its results back at
// its end, so it is synchronous anyway.
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
import { LOSS_SCALING_DEFAULTS } from '../lib/config.js';
import { createModel } from '../lib/model.js';
import { loadNative } from '../lib/native.js';
import { computationPercentage } from '../lib/train/metrics.js';
import { CIFAR_NORMALIZATION, IMAGENET_NORMALIZATION } from '../lib/train/normalization.js';

export type BenchArch = 'cifar' | 'imagenet';
export type BenchPrecision = 'fp32' | 'bf16' | 'fp16';

/** GradScaler's defaults, for fp16 on both sides (the config's defaults too). */
export const FP16_LOSS_SCALE = LOSS_SCALING_DEFAULTS;

export interface NativeBenchConfig {
  arch: BenchArch;
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
  /** 'cpu', 'cuda' or 'cuda:N'. */
  device: string;
  precision: BenchPrecision;
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
  arch: BenchArch;
  depth: number;
  gate: GateKind;
  mode: 'train' | 'eval';
  execution: 'mask' | 'skip' | null; // eval only
  batch: number;
  size: number;
  classes: number;
  steps: number;
  warmup: number;
  device: string;
  precision: BenchPrecision;
  cudnn_benchmark: boolean | null; // CUDA only
  loss_scale: number | null; // fp16: the scale after the last step
  skipped_steps: number; // fp16: timed steps whose gradients overflowed (no update, as GradScaler)
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
  const cuda = cfg.device !== 'cpu';
  if (cfg.precision === 'fp16' && !cuda) throw new Error("--precision fp16 needs a CUDA device (use bf16 on the CPU)");
  if (cuda && cfg.mode === 'train' && cfg.warmup < 1) {
    throw new Error('--device cuda needs --warmup >= 1 (see the timing note at the top of bench/native-bench.ts)');
  }
  const norm = cfg.arch === 'imagenet' ? IMAGENET_NORMALIZATION : CIFAR_NORMALIZATION;
  const spec: NativeModelSpec = {
    arch: cfg.arch,
    depth: cfg.depth,
    gate: cfg.gate,
    gateMode: 'hard',
    numClasses: cfg.classes,
    inChannels: 3,
    mean: [...norm.mean],
    std: [...norm.std],
    device: cfg.device,
    threads: cfg.threads,
    seed: cfg.seed,
    precision: cfg.precision,
    ...(cuda ? { cudnnBenchmark: true } : {}),
    ...(cfg.precision === 'fp16' ? { lossScale: { ...FP16_LOSS_SCALE } } : {}),
  };
  const versions = loadNative().versions();
  const model = createModel(spec);
  try {
    const info = model.info(cfg.size, cfg.size);
    const batches = syntheticBatches(4, cfg.batch, cfg.size, cfg.classes, cfg.seed);
    const opt = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: false };
    let lossScale: number | null = null;
    let skipped = 0;
    const step = async (i: number): Promise<Float64Array> => {
      const b = batches[i % batches.length]!;
      if (cfg.mode === 'train') {
        const r = await model.trainStep(b, opt);
        if (r.lossScale !== undefined) lossScale = r.lossScale;
        if (r.stepSkipped && i >= cfg.warmup) skipped++;
        return r.gateExec;
      }
      return (await model.evalStep(b, cfg.threshold, cfg.execution)).gateExec;
    };
    for (let i = 0; i < cfg.warmup; i++) await step(i);
    const stepMs: number[] = [];
    const cps: number[] = [];
    // On CUDA each step_ms is the time between two steps' returns, one step of device work
    // apart (see the note at the top); the total is what images/s comes from.
    const t0 = performance.now();
    let prev = t0;
    for (let i = 0; i < cfg.steps; i++) {
      const exec = await step(cfg.warmup + i);
      const now = performance.now();
      stepMs.push(now - prev);
      if (exec.length > 0) cps.push(computationPercentage(Array.from(exec, (e) => e / cfg.batch)));
      prev = performance.now();
    }
    const dt = (performance.now() - t0) / 1000;
    return {
      images_per_s: (cfg.batch * cfg.steps) / dt,
      ms_per_step: (1000 * dt) / cfg.steps,
      step_ms: stepMs.map((v) => Math.round(v * 10) / 10),
      threads: info.threads,
      libtorch_version: versions.libtorch,
      libtorch_path: versions.libtorchPath,
      arch: cfg.arch,
      depth: cfg.depth,
      gate: cfg.gate,
      mode: cfg.mode,
      execution: cfg.mode === 'eval' ? cfg.execution : null,
      batch: cfg.batch,
      size: cfg.size,
      classes: cfg.classes,
      steps: cfg.steps,
      warmup: cfg.warmup,
      device: cfg.device,
      precision: cfg.precision,
      cudnn_benchmark: cuda ? true : null,
      loss_scale: lossScale,
      skipped_steps: skipped,
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
      arch: { type: 'string' },
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
      device: { type: 'string' },
      precision: { type: 'string' },
    },
    strict: true,
  });
  const arch = values.arch ?? 'cifar';
  if (arch !== 'cifar' && arch !== 'imagenet') throw new Error(`--arch must be cifar or imagenet, got '${arch}'`);
  const imagenet = arch === 'imagenet';
  const precision = values.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16' && precision !== 'fp16') {
    throw new Error(`--precision must be fp32, bf16 or fp16, got '${precision}'`);
  }
  const device = values.device ?? 'cpu';
  if (!/^(cpu|cuda|cuda:\d+)$/.test(device)) throw new Error(`--device must be cpu, cuda or cuda:N, got '${device}'`);
  const depth = int(values.depth, imagenet ? 101 : 38, 'depth', 8);
  if (imagenet && ![18, 34, 50, 101, 152].includes(depth)) throw new Error(`--depth: imagenet depths are 18, 34, 50, 101, 152, got ${depth}`);
  const mode = values.mode ?? 'train';
  if (mode !== 'train' && mode !== 'eval') throw new Error(`--mode must be train or eval, got '${mode}'`);
  const gate = (values.gate ?? 'rnn') as GateKind;
  if (!['none', 'rnn', 'ffgate1', 'ffgate2'].includes(gate)) throw new Error(`--gate: unknown gate '${gate}'`);
  const threshold = values.threshold === undefined ? 0.5 : Number(values.threshold);
  const execution = values.execution ?? 'mask';
  if (execution !== 'mask' && execution !== 'skip') throw new Error(`--execution must be mask or skip, got '${execution}'`);
  const result = await measureNative({
    arch,
    depth,
    gate,
    mode,
    batch: int(values.batch, 128, 'batch', 1),
    // The ImageNet recurrent gate's pools assume 224x224 input.
    size: int(values.size, imagenet ? 224 : 32, 'size', 8),
    classes: int(values.classes, imagenet ? 1000 : 10, 'classes', 2),
    threads: int(values.threads, os.availableParallelism(), 'threads', 1),
    steps: int(values.steps, 8, 'steps', 1),
    warmup: int(values.warmup, 3, 'warmup', 0),
    seed: int(values.seed, 0, 'seed', 0),
    threshold,
    device,
    precision,
    execution,
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    // The message last as well: the parent (bench/sp-throughput.ts) reports stderr's tail.
    if (err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.stderr.write(`native-bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
