// `npm run bench -- hrl --checkpoint <dir> [--checkpoint <dir> ...]`: what does an HRL
// step gain from not computing the blocks that its sampled actions skip?
//
// For each trained SkipNet, on real training images, in one run: the HRL step (forward
// with actions sampled from the gates, backward of CE + REINFORCE, SGD step) with
//   mask: every block computed for the whole batch, then masked (the reference's way)
//   skip: each gated block computed only on the samples whose action executes it
// The learning rate is 0, so every timed step sees the same policy and the two modes
// sample the same actions (same seeds). The ideal speedup is the ratio of conv MACs
// (forward; backward scales alike): full computation over what the sampled actions need.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { HrlArgs, ModelInfo, NativeBatch, NativeModel } from '../lib/binding-types.js';
import { openDataset } from '../lib/data/index.js';
import type { ImageDataset } from '../lib/data/types.js';
import { createModel } from '../lib/model.js';
import { loadNative } from '../lib/native.js';
import { loadCheckpoint, readCheckpointState, resolveCheckpointDir } from '../lib/train/checkpoint.js';
import { ensureSharedFolder } from '../lib/train/shared-data.js';
import { type BenchModule, batchOf, fmt, formatTable, machineInfo, median, positiveInt, writeResults } from './common.js';

interface Args {
  checkpoints: string[];
  threads: number;
  batch: number;
  steps: number;
  rounds: number;
  alpha: number;
  write: boolean;
}

function parseArgs(argv: string[]): Args | null {
  const checkpoints: string[] = [];
  argv.forEach((v, i) => v === '--checkpoint' && argv[i + 1] && checkpoints.push(argv[i + 1]!));
  if (checkpoints.length === 0) return null;
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    checkpoints,
    threads: positiveInt('--threads', get('--threads'), availableParallelism()),
    batch: positiveInt('--batch', get('--batch'), 128),
    steps: positiveInt('--steps', get('--steps'), 6),
    rounds: positiveInt('--rounds', get('--rounds'), 2),
    alpha: Number(get('--alpha') ?? 0.1),
    write: !argv.includes('--no-write'),
  };
}

/** Conv MACs per image of a step whose gated blocks ran at these rates (gates included). */
function macsAt(info: ModelInfo, execRates: number[]): number {
  let macs = info.stemMacs + info.blockMacs[0]!;
  execRates.forEach((r, g) => (macs += info.gateMacs[g]! + r * info.blockMacs[g + 1]! + (1 - r) * info.skipMacs[g + 1]!));
  return macs;
}

interface ModeTiming {
  msPerStep: number[];
  execRates: number[]; // mean over the timed steps, per gated block
}

async function timeMode(model: NativeModel, batches: NativeBatch[], a: Args, execution: 'mask' | 'skip'): Promise<ModeTiming> {
  const sgd = { lr: 0, momentum: 0.9, weightDecay: 0, nesterov: false };
  const hrl = (seed: number): HrlArgs => ({ alpha: a.alpha, beta: 1, gamma: 1, rlWeight: 0.01, reduction: 'sum', baseline: 'none', execution, sampleSeed: seed });
  await model.hrlStep(batches[0]!, sgd, hrl(999)); // warm-up
  const msPerStep: number[] = [];
  let exec: number[] = [];
  for (let s = 0; s < batches.length; s++) {
    const t = performance.now();
    const r = await model.hrlStep(batches[s]!, sgd, hrl(s));
    msPerStep.push(performance.now() - t);
    exec = Array.from(r.gateExec, (c, g) => (exec[g] ?? 0) + c / r.n / batches.length);
  }
  return { msPerStep, execRates: exec };
}

async function run(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  if (!a) {
    process.stdout.write('[hrl] skipped: needs trained SkipNets, --checkpoint <dir> (repeatable; e.g. runs of `skipnet train`)\n');
    return;
  }
  const results = [];
  const rows: string[][] = [['checkpoint', 'exec %', 'mask ms/step', 'skip ms/step', 'speedup', 'ideal', '% of ideal']];
  for (const checkpoint of a.checkpoints) {
    const dir = await resolveCheckpointDir(checkpoint);
    const state = await readCheckpointState(dir);
    if (state.modelSpec.gate === 'none') throw new Error(`hrl: ${dir} has no gates`);
    await ensureSharedFolder(state.config.data.source);
    const train = await openDataset(state.config.data.source, 'train');
    const model = createModel({ ...state.modelSpec, threads: a.threads, device: 'cpu' });
    await loadCheckpoint(dir, model, { optimizer: false });
    const info = model.info(train.height, train.width);
    const batches = Array.from({ length: a.steps }, (_, i) => batchOf(train, i * a.batch, a.batch));
    const timings: Record<'mask' | 'skip', ModeTiming[]> = { mask: [], skip: [] };
    for (let r = 0; r < a.rounds; r++) {
      // Fresh weights each round: lr 0 leaves them alone, but BN running statistics move.
      await loadCheckpoint(dir, model, { optimizer: false });
      timings.mask.push(await timeMode(model, batches, a, 'mask'));
      await loadCheckpoint(dir, model, { optimizer: false });
      timings.skip.push(await timeMode(model, batches, a, 'skip'));
    }
    model.dispose();
    const mask = median(timings.mask.flatMap((t) => t.msPerStep));
    const skip = median(timings.skip.flatMap((t) => t.msPerStep));
    const execRates = timings.skip[0]!.execRates;
    const execPercent = (100 * execRates.reduce((x, y) => x + y, 0)) / Math.max(1, execRates.length);
    const full = macsAt(info, execRates.map(() => 1));
    const ideal = full / macsAt(info, execRates);
    const speedup = mask / skip;
    rows.push([dir, fmt(execPercent, 1), fmt(mask, 1), fmt(skip, 1), `${fmt(speedup, 2)}x`, `${fmt(ideal, 2)}x`, fmt((100 * speedup) / ideal, 0)]);
    results.push({ checkpoint: dir, step: state.step, alpha: state.config.hrl.alpha, stage: state.config.stage, execRates, execPercent, maskMsPerStep: mask, skipMsPerStep: skip, speedup, ideal, timings });
    process.stdout.write(`[hrl] ${dir}: mask ${fmt(mask, 1)} ms, skip ${fmt(skip, 1)} ms per step\n`);
  }
  const lines = [
    `HRL step, full computation (mask) vs skipping the blocks the sampled actions skip (skip)`,
    `  ${machineInfo().cpuModel}; threads ${a.threads}; batch ${a.batch}; ${a.steps} steps x ${a.rounds} round(s), medians; LibTorch ${loadNative().versions().libtorch}`,
    `  exec % = share of gated blocks the sampled actions ran; ideal = conv MACs of the full step / MACs the actions need`,
    '',
    formatTable(rows, [false, true, true, true, true, true, true]),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (a.write) {
    const path = await writeResults('hrl-step', { machine: machineInfo(), args: a, versions: loadNative().versions(), results });
    process.stdout.write(`\n  results: ${path}\n`);
  }
}

const mod: BenchModule = {
  description: 'HRL step with and without computing the blocks that sampled actions skip (bench/hrl-step.ts; needs --checkpoint)',
  usage: 'npm run bench -- hrl --checkpoint <dir> [--checkpoint <dir> ...] [--threads N] [--batch 128] [--steps 6] [--rounds 2] [--no-write]',
  run,
};
export default mod;
