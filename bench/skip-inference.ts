// `npm run bench -- skip --checkpoint <dir>`: does skipping save wall-clock time?
//
// For a trained SkipNet, on real test images, in one run:
//   (a) this engine, skipping execution (gated blocks run only on the samples that execute them)
//   (b) this engine, masked execution (every block computed, then masked: the reference's way)
//   (c) the plain ResNet of the same depth (no gates; the cost skipping has to beat)
//   (d) the PyTorch implementation in bench/pytorch, masked as the reference does it
// Throughput at batch 128 and latency at batch 1 (p50, p99). The computation percentage
// (CP) is measured on the whole test split first; the ideal speedup of (a) over (b) is
// 100 / CP (every block costing the same, as CP assumes), and the report says how much of
// it (a) reaches.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { NativeBatch, NativeModel } from '../lib/binding-types.js';
import { fullPass, openDataset } from '../lib/data/index.js';
import type { ImageDataset } from '../lib/data/types.js';
import { createModel } from '../lib/model.js';
import { loadNative } from '../lib/native.js';
import { loadCheckpoint, readCheckpointState, resolveCheckpointDir } from '../lib/train/checkpoint.js';
import { evaluateModel } from '../lib/train/evaluate.js';
import { ensureSharedFolder } from '../lib/train/shared-data.js';
import { type BenchModule, batchOf, fmt, formatTable, machineInfo, median, positiveInt, runJsonChild, writeResults } from './common.js';

const PYTHON = process.env.SKIPNET_PYTHON ?? '/usr/bin/python3';

interface Args {
  checkpoint: string;
  threshold: number;
  threads: number;
  batch: number;
  throughputSteps: number;
  latencySteps: number;
  rounds: number;
  write: boolean;
}

function parseArgs(argv: string[]): Args | null {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const checkpoint = get('--checkpoint');
  if (!checkpoint) return null;
  const threshold = Number(get('--threshold') ?? 0.5);
  if (!(threshold >= 0 && threshold <= 1)) throw new Error('skip: --threshold must be in [0, 1]');
  return {
    threshold,
    checkpoint,
    threads: positiveInt('--threads', get('--threads'), availableParallelism()),
    batch: positiveInt('--batch', get('--batch'), 128),
    throughputSteps: positiveInt('--steps', get('--steps'), 8),
    latencySteps: positiveInt('--latency-steps', get('--latency-steps'), 200),
    rounds: positiveInt('--rounds', get('--rounds'), 2),
    write: !argv.includes('--no-write'),
  };
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface Timing {
  msPerBatch: number; // median over timed calls of a batch of `batch`
  imagesPerS: number;
  p50: number; // batch-1 latency
  p99: number;
  macs: number; // mean MACs per image over the timed batch-1 calls
}

async function timeEngine(model: NativeModel, ds: ImageDataset, a: Args, execution: 'skip' | 'mask'): Promise<Timing> {
  const big = Array.from({ length: a.throughputSteps }, (_, i) => batchOf(ds, i * a.batch, a.batch));
  await model.evalStep(big[0]!, a.threshold, execution); // warm-up
  const batchMs: number[] = [];
  for (const b of big) {
    const t = performance.now();
    await model.evalStep(b, a.threshold, execution);
    batchMs.push(performance.now() - t);
  }
  const singles = Array.from({ length: a.latencySteps }, (_, i) => batchOf(ds, i, 1));
  for (let i = 0; i < 5; i++) await model.evalStep(singles[i]!, a.threshold, execution);
  const latency: number[] = [];
  let macs = 0;
  for (const s of singles) {
    const t = performance.now();
    const r = await model.evalStep(s, a.threshold, execution);
    latency.push(performance.now() - t);
    macs += r.macs[0]!;
  }
  const msPerBatch = median(batchMs);
  return { msPerBatch, imagesPerS: (1000 * a.batch) / msPerBatch, p50: percentile(latency, 50), p99: percentile(latency, 99), macs: macs / singles.length };
}

interface TorchOut {
  ms_per_step: number;
  step_ms: number[];
  threads: number;
  torch_version: string;
}

async function timeTorch(depth: number, size: number, classes: number, a: Args): Promise<Timing> {
  const common = ['bench/pytorch/bench_torch.py', '--arch', 'cifar', '--depth', String(depth), '--gate', 'rnn', '--mode', 'eval',
    '--threads', String(a.threads), '--size', String(size), '--classes', String(classes)];
  // The same single-threaded OpenBLAS as this engine uses (lib/native.ts), for both sides alike.
  const env = { ...process.env, OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? '1' };
  const big = await runJsonChild<TorchOut>(PYTHON, [...common, '--batch', String(a.batch), '--steps', String(a.throughputSteps), '--warmup', '1'], { label: 'torch batch', env });
  const one = await runJsonChild<TorchOut>(PYTHON, [...common, '--batch', '1', '--steps', String(a.latencySteps), '--warmup', '5'], { label: 'torch batch 1', env });
  const msPerBatch = median(big.value.step_ms);
  return { msPerBatch, imagesPerS: (1000 * a.batch) / msPerBatch, p50: percentile(one.value.step_ms, 50), p99: percentile(one.value.step_ms, 99), macs: Number.NaN };
}

async function run(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  if (!a) {
    process.stdout.write('[skip] skipped: needs a trained model, --checkpoint <dir> (e.g. a run of `skipnet train`)\n');
    return;
  }
  const dir = await resolveCheckpointDir(a.checkpoint);
  const state = await readCheckpointState(dir);
  const spec = { ...state.modelSpec, threads: a.threads, device: 'cpu' };
  if (spec.arch !== 'cifar' || spec.gate !== 'rnn' || spec.inChannels !== 3) {
    throw new Error('skip: this benchmark compares CIFAR-style SkipNets with the recurrent gate on 3-channel images');
  }
  await ensureSharedFolder(state.config.data.source);
  const test = await openDataset(state.config.data.source, 'test');
  const skipnet = createModel(spec);
  await loadCheckpoint(dir, skipnet, { optimizer: false });
  const plain = createModel({ ...spec, gate: 'none' });

  process.stdout.write(`[skip] measuring CP of ${dir} on ${test.size} test images...\n`);
  const metrics = await evaluateModel(skipnet, test, { threshold: a.threshold, batchSize: 500, data: { fullPass } });
  const cp = metrics.cp;
  process.stdout.write(`[skip] top-1 ${fmt(metrics.top1, 2)} %, CP ${fmt(cp, 2)} %, MACs/image ${fmt(metrics.macsPerImage.mean / 1e6, 2)}M\n`);

  const rounds: Record<string, Timing[]> = { skip: [], mask: [], plain: [], torch: [] };
  for (let r = 0; r < a.rounds; r++) {
    rounds.skip!.push(await timeEngine(skipnet, test, a, 'skip'));
    rounds.mask!.push(await timeEngine(skipnet, test, a, 'mask'));
    rounds.plain!.push(await timeEngine(plain, test, a, 'mask'));
    rounds.torch!.push(await timeTorch(spec.depth, test.height, spec.numClasses, a));
    process.stdout.write(`[skip] round ${r + 1}/${a.rounds} done\n`);
  }
  const pick = (k: string) => {
    const t = rounds[k]!;
    return { msPerBatch: median(t.map((x) => x.msPerBatch)), p50: median(t.map((x) => x.p50)), p99: median(t.map((x) => x.p99)) };
  };
  const S = pick('skip'), M = pick('mask'), P = pick('plain'), T = pick('torch');
  const ideal = 100 / cp;
  const rows = [
    ['(a) skipping', S, 'this engine, gated blocks run only where executed'],
    ['(b) masked', M, 'this engine, every block computed then masked'],
    ['(c) plain ResNet', P, `ResNet-${spec.depth}, no gates`],
    ['(d) PyTorch masked', T, 'bench/pytorch reference, masked as the official code'],
  ] as const;
  const table = formatTable(
    [
      ['execution', `img/s @${a.batch}`, `ms/batch`, 'p50 ms @1', 'p99 ms @1', 'what'],
      ...rows.map(([name, t, what]) => [name, fmt((1000 * a.batch) / t.msPerBatch, 1), fmt(t.msPerBatch, 1), fmt(t.p50, 2), fmt(t.p99, 2), what]),
    ],
    [false, true, true, true, true, false],
  );
  const speedBatch = M.msPerBatch / S.msPerBatch;
  const speedOne = M.p50 / S.p50;
  const lines = [
    `Skipping inference: ${dir}`,
    `  ${machineInfo().cpuModel}; threads ${a.threads}; LibTorch ${loadNative().versions().libtorch}; ${a.rounds} round(s), medians`,
    `  test split, gate threshold ${a.threshold}: top-1 ${fmt(metrics.top1, 2)} %, CP ${fmt(cp, 2)} % -> ideal speedup of (a) over (b) ${fmt(ideal, 2)}x`,
    '',
    table,
    '',
    `  (a) over (b): ${fmt(speedBatch, 2)}x at batch ${a.batch} (${fmt((100 * speedBatch) / ideal, 0)} % of ideal), ` +
      `${fmt(speedOne, 2)}x at batch 1 p50 (${fmt((100 * speedOne) / ideal, 0)} % of ideal)`,
    `  (a) over (d): ${fmt(T.msPerBatch / S.msPerBatch, 2)}x at batch ${a.batch}, ${fmt(T.p50 / S.p50, 2)}x at batch 1 p50`,
    `  (a) over (c): ${fmt(P.msPerBatch / S.msPerBatch, 2)}x at batch ${a.batch}, ${fmt(P.p50 / S.p50, 2)}x at batch 1 p50`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (a.write) {
    const path = await writeResults('skip-inference', { checkpoint: dir, spec, metrics, cp, ideal, args: a, rounds, summary: { skip: S, mask: M, plain: P, torch: T } });
    process.stdout.write(`\n  results: ${path}\n`);
  }
  skipnet.dispose();
  plain.dispose();
}

const mod: BenchModule = {
  description: 'skipping vs masked vs plain vs PyTorch inference of a trained SkipNet on real test images',
  usage: 'npm run bench -- skip --checkpoint <dir> [--threshold 0.5] [--threads N] [--batch 128] [--steps 8] [--latency-steps 200] [--rounds 2] [--no-write]',
  run,
};
export default mod;
