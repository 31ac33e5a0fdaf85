// SP (standard-training-phase) throughput, this engine against the PyTorch reference:
// trainStep (hard gates, straight-through, SGD momentum 0.9, wd 1e-4, lr 0.1) and evalStep
// (threshold 0.5) of SkipNet-38 and SkipNet-110 (cifar, recurrent gate, 10 classes,
// batch 128 of 32x32x3 uint8) at the same intra-op thread count on both sides.
//
// --arch imagenet measures the ImageNet models instead (default SkipNet-101, 1000 classes,
// batch 256 of 224x224x3 uint8, ImageNet normalisation, training only unless --only says
// otherwise) and adds an estimated time per ImageNet-1k epoch (1,281,167 images / the
// measured training images/s). --precisions fp32,bf16[,fp16] measures each autocast
// precision (PyTorch's AMP recipe on its side; fp16 with loss scaling, CUDA only) and
// --device cuda[:N] runs both sides on a GPU (cuDNN benchmark mode on both).
//
// Each measurement is its own child process: bench/native-bench.ts for this engine,
// bench/pytorch/bench_torch.py for the reference. Per configuration the two alternate
// (native, torch, native, torch, ...) and the median over rounds is reported, so that
// background load falls on both sides alike. Warm-up steps are not timed.
//
// Both sides compute every block in training (the gates only scale the residual), and
// both evaluate with the masked full-batch forward (a skipped block is computed and
// multiplied by 0), so the gate decisions on synthetic data do not change the work.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type BenchModule,
  benchDir,
  fmt,
  formatTable,
  type MachineInfo,
  machineInfo,
  median,
  packageRoot,
  positiveInt,
  runJsonChild,
  writeResults,
} from './common.js';
import { IMAGENET_TRAIN_IMAGES } from '../lib/presets.js';
import { type BenchArch, type BenchPrecision, FP16_LOSS_SCALE, type NativeBenchResult } from './native-bench.js';

type Mode = 'train' | 'eval';
type Side = 'native' | 'torch';

const IMAGENET_DEPTHS = [18, 34, 50, 101, 152];

interface TorchBenchResult {
  images_per_s: number;
  ms_per_step: number;
  threads: number;
  torch_version: string;
  depth: number;
  mode: Mode;
  batch: number;
  steps: number;
  device: string;
  precision?: BenchPrecision; // absent before --precision existed (fp32)
  cp: number;
  max_rss_mb?: number;
  device_name?: string; // CUDA only
  cuda_version?: string | null;
  cudnn_version?: number | null;
  cuda_max_memory_allocated_mb?: number;
}

interface RunEntry {
  images_per_s: number;
  ms_per_step: number;
  max_rss_mb: number | null;
  wall_s: number;
  load1_before: number; // 1-minute load average when the process started
  step_ms?: number[]; // native side only
  cuda_max_memory_mb?: number; // torch side on CUDA: torch.cuda.max_memory_allocated
}

interface SideSummary {
  ms_per_step: number; // median over rounds of the timed ms per step
  images_per_s: number; // batch * 1000 / ms_per_step
  best_images_per_s: number; // the least disturbed round
  spread: number; // slowest round's ms/step over the fastest's, minus 1
  max_rss_mb: number | null; // largest over rounds
  cp: number | null; // computation percentage the gates chose (last round); no effect on work
  threads: number | null;
  runs: RunEntry[];
  error?: string;
}

/** Estimated time per ImageNet-1k training epoch from the measured training throughput. */
interface EpochEstimate {
  images: number; // IMAGENET_TRAIN_IMAGES
  native_s: number | null; // images / native median images/s
  torch_s: number | null;
  basis: string; // what the estimate rests on, in words
}

interface ConfigResult {
  model: string;
  depth: number;
  mode: Mode;
  precision?: BenchPrecision; // absent in files before schema 3: fp32
  device?: string; // absent in files before schema 3: cpu
  warmup: number;
  steps: number;
  native: SideSummary | null;
  torch: SideSummary | null;
  ratio: number | null; // native / torch images per second (medians)
  ratio_best: number | null; // native / torch, best round of each
  epoch_estimate?: EpochEstimate; // arch imagenet, train mode
}

interface ReportData {
  benchmark: 'sp-throughput';
  schema: number;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: MachineInfo;
  loadAverageAtEnd: number[];
  versions: {
    libtorch: string | null;
    libtorchPath: string | null;
    torch: string | null;
    node: string;
    gpu?: string | null; // --device cuda: the torch side's device name, else nvidia-smi's
    cuda?: string | null; // the torch side's CUDA and cuDNN versions
    cudnn?: number | null;
    nvidiaSmi?: string | null;
  };
  settings: {
    quick: boolean;
    threads: number;
    batch: number;
    train: { warmup: number; steps: number };
    eval: { warmup: number; steps: number };
    rounds: number;
    python: string;
    [key: string]: unknown;
  };
  results: ConfigResult[];
  summary: {
    geomeanRatioTrain: number | null;
    geomeanRatioEval: number | null;
    /** The same per precision (schema 3). */
    byPrecision?: Record<string, { geomeanRatioTrain: number | null; geomeanRatioEval: number | null }>;
  };
  warnings: string[];
  note?: string; // added by hand to a saved file
}

const usage = `npm run bench -- sp [flags]

  --arch cifar|imagenet architecture (default cifar). imagenet: 224x224x3 input, ImageNet
                        normalisation, default depth 101, batch 256, 1000 classes, training only,
                        and an estimated time per ImageNet-1k epoch
  --precisions LIST     autocast precisions to measure, comma list of fp32, bf16, fp16 (default fp32;
                        fp16 needs --device cuda and uses dynamic loss scaling on both sides)
  --device D            cpu, cuda or cuda:N, both sides (default cpu)
  --only train|eval     measure only training or only evaluation (comma list allowed;
                        default train,eval for cifar, train for imagenet)
  --depths 38,110       SkipNet depths (cifar: 6n+2, default 38,110; imagenet: 18/34/50/101/152,
                        default 101); --depth is the same flag
  --classes N           classes (default 10 for cifar, 1000 for imagenet)
  --threads N           intra-op threads on both sides (default os.availableParallelism() = ${os.availableParallelism()})
  --warmup N            untimed warm-up steps per measurement (default 3)
  --steps N             timed training steps per measurement (default 8)
  --eval-warmup N       untimed warm-up steps for evaluation (default: --warmup)
  --eval-steps N        timed evaluation steps (default: 2 x --steps; an eval step is ~3x cheaper)
  --rounds N            native/torch alternations per configuration; the median is reported (default 2)
  --batch N             batch size (default 128 for cifar, 256 for imagenet)
  --seed N              weights and synthetic data seed (default 0)
  --quick               smoke run: 1 warm-up + 2 steps, depth 38 only (imagenet: 101 at batch 4),
                        1 round (flags given explicitly still win)
  --eval-execution mask|skip
                        engine evalStep execution (default mask: every block computed and masked, as the
                        reference does; skip: real skipping, whose work depends on the gate decisions,
                        so not a like-for-like comparison)
  --side native|torch   run one side only (default both)
  --python PATH         interpreter for bench_torch.py (default $SKIPNET_BENCH_PYTHON or /usr/bin/python3);
                        --device cuda needs one whose torch has CUDA
  --timeout S           stop a measurement process after S seconds (counted as a failure; default none)
  --no-write            do not write bench/results/*.json
  --out DIR             results folder (default bench/results)
  --report FILE         print the table of a saved result file again (nothing is measured)`;

export const description =
  'SP train/eval throughput of SkipNet-38/110 (rnn gate; --arch imagenet: SkipNet-101 and an ImageNet epoch estimate), this engine vs the PyTorch reference';
export { usage };

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      arch: { type: 'string' },
      precisions: { type: 'string' },
      device: { type: 'string' },
      classes: { type: 'string' },
      timeout: { type: 'string' },
      only: { type: 'string' },
      depths: { type: 'string' },
      depth: { type: 'string' },
      threads: { type: 'string' },
      warmup: { type: 'string' },
      steps: { type: 'string' },
      'eval-warmup': { type: 'string' },
      'eval-steps': { type: 'string' },
      rounds: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
      quick: { type: 'boolean', default: false },
      side: { type: 'string' },
      'eval-execution': { type: 'string' },
      python: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      out: { type: 'string' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`sp: unexpected argument(s) ${positionals.join(' ')}`);
  const quick = values.quick!;
  const arch = (values.arch ?? 'cifar') as BenchArch;
  if (arch !== 'cifar' && arch !== 'imagenet') throw new Error(`--arch takes cifar or imagenet, got '${values.arch}'`);
  const imagenet = arch === 'imagenet';
  const device = values.device ?? 'cpu';
  if (!/^(cpu|cuda|cuda:\d+)$/.test(device)) throw new Error(`--device takes cpu, cuda or cuda:N, got '${device}'`);
  const precisions: BenchPrecision[] = [];
  for (const p of (values.precisions ?? 'fp32').split(',').map((x) => x.trim()).filter(Boolean)) {
    if (p !== 'fp32' && p !== 'bf16' && p !== 'fp16') throw new Error(`--precisions takes fp32, bf16 and/or fp16, got '${p}'`);
    if (p === 'fp16' && device === 'cpu') throw new Error('--precisions fp16 needs --device cuda (use bf16 on the CPU)');
    if (!precisions.includes(p)) precisions.push(p);
  }
  if (precisions.length === 0) throw new Error('--precisions: give at least one of fp32, bf16, fp16');
  const modes: Mode[] = [];
  for (const m of (values.only ?? (imagenet ? 'train' : 'train,eval')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (m !== 'train' && m !== 'eval') throw new Error(`--only takes train and/or eval, got '${m}'`);
    if (!modes.includes(m)) modes.push(m);
  }
  if (values.depths !== undefined && values.depth !== undefined) throw new Error('give --depths or --depth, not both');
  const depthText = values.depths ?? values.depth ?? (imagenet ? '101' : quick ? '38' : '38,110');
  const depths = depthText.split(',').map((s) => {
    const d = Number(s.trim());
    if (imagenet) {
      if (!IMAGENET_DEPTHS.includes(d)) throw new Error(`--depths: ${s} is not an imagenet depth (${IMAGENET_DEPTHS.join(', ')})`);
    } else if (!Number.isInteger(d) || d < 8 || (d - 2) % 6 !== 0) {
      throw new Error(`--depths: ${s} is not a cifar depth 6n+2`);
    }
    return d;
  });
  const sides: Side[] = values.side === undefined ? ['native', 'torch'] : [values.side as Side];
  if (!sides.every((s) => s === 'native' || s === 'torch')) throw new Error(`--side takes native or torch, got '${values.side}'`);
  const evalExecution = values['eval-execution'] ?? 'mask';
  if (evalExecution !== 'mask' && evalExecution !== 'skip') {
    throw new Error(`--eval-execution takes mask or skip, got '${evalExecution}'`);
  }
  const warmup = positiveInt('warmup', values.warmup, quick ? 1 : 3, 0);
  // On CUDA the engine's trainStep is timed from one step's loss read-back to the next, which
  // needs a warm-up step before the clock starts (bench/native-bench.ts).
  if (device !== 'cpu' && warmup < 1) throw new Error('--device cuda needs --warmup >= 1');
  const steps = positiveInt('steps', values.steps, quick ? 2 : 8);
  return {
    help: values.help!,
    report: values.report,
    quick,
    modes,
    depths,
    sides,
    evalExecution: evalExecution as 'mask' | 'skip',
    threads: positiveInt('threads', values.threads, os.availableParallelism()),
    warmup,
    steps,
    evalWarmup: positiveInt('eval-warmup', values['eval-warmup'], warmup, 0),
    evalSteps: positiveInt('eval-steps', values['eval-steps'], quick ? steps : 2 * steps),
    rounds: positiveInt('rounds', values.rounds, quick ? 1 : 2),
    batch: positiveInt('batch', values.batch, imagenet ? (quick ? 4 : 256) : 128),
    arch,
    imageSize: imagenet ? 224 : 32, // the ImageNet recurrent gate's pools assume 224x224
    classes: positiveInt('classes', values.classes, imagenet ? 1000 : 10, 2),
    device,
    precisions,
    timeoutS: positiveInt('timeout', values.timeout, 0, 0),
    seed: positiveInt('seed', values.seed, 0, 0),
    python: values.python ?? process.env.SKIPNET_BENCH_PYTHON ?? '/usr/bin/python3',
    write: !values['no-write'],
    out: values.out,
  };
}

type Settings = ReturnType<typeof parse>;

function log(msg: string): void {
  process.stderr.write(`[sp] ${msg}\n`);
}

async function measure(side: Side, s: Settings, depth: number, mode: Mode, precision: BenchPrecision) {
  const warmup = mode === 'train' ? s.warmup : s.evalWarmup;
  const steps = mode === 'train' ? s.steps : s.evalSteps;
  const common = ['--arch', s.arch, '--depth', String(depth), '--gate', 'rnn', '--mode', mode, '--batch', String(s.batch)];
  common.push('--size', String(s.imageSize), '--classes', String(s.classes), '--device', s.device, '--precision', precision);
  common.push('--threads', String(s.threads), '--steps', String(steps), '--warmup', String(warmup), '--seed', String(s.seed));
  const label = `${side} SkipNet-${depth} ${mode} ${precision}`;
  const timeoutMs = s.timeoutS > 0 ? 1000 * s.timeoutS : undefined;
  if (side === 'native') {
    const script = join(benchDir, 'native-bench.ts');
    const extra = mode === 'eval' ? ['--execution', s.evalExecution] : [];
    return runJsonChild<NativeBenchResult>(process.execPath, ['--import', 'tsx', script, ...common, ...extra], {
      cwd: packageRoot,
      label,
      timeoutMs,
    });
  }
  const script = join(benchDir, 'pytorch', 'bench_torch.py');
  return runJsonChild<TorchBenchResult>(s.python, [script, '--gate-mode', 'hard', ...common], {
    cwd: packageRoot,
    // Single-threaded OpenBLAS on both sides, as lib/native.ts sets it for this engine.
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? '1' },
    label,
    timeoutMs,
  });
}

/** nvidia-smi's view of the GPUs (name, memory, driver), best effort. */
function nvidiaSmi(): string | null {
  try {
    const text = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return text.trim().split('\n').join('; ') || null;
  } catch {
    return null;
  }
}

function epochEstimate(r: Pick<ConfigResult, 'native' | 'torch'>, basis: string): EpochEstimate {
  const secs = (ips: number | undefined) => (ips && Number.isFinite(ips) && ips > 0 ? IMAGENET_TRAIN_IMAGES / ips : null);
  return { images: IMAGENET_TRAIN_IMAGES, native_s: secs(r.native?.images_per_s), torch_s: secs(r.torch?.images_per_s), basis };
}

function epochBasis(st: { batch: number; threads: number; device?: unknown }, precision: string): string {
  return (
    `estimate: ${IMAGENET_TRAIN_IMAGES.toLocaleString('en-US')} images / the median measured training images/s of ` +
    `synthetic 224x224 batches at batch ${st.batch}, ${st.threads} threads, device ${String(st.device ?? 'cpu')}, ${precision}; ` +
    'no data loading, evaluation or checkpointing'
  );
}

/** Images per second with enough digits to tell small CPU rates apart (0.452, 4.52, 45.2). */
function rate(v: number | null | undefined): string {
  return fmt(v, v !== null && v !== undefined && Math.abs(v) < 1 ? 3 : v !== null && v !== undefined && Math.abs(v) < 10 ? 2 : 1);
}

/** 5400 -> "1.50 h (90 min)"; 300 -> "5.0 min". */
function duration(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return '-';
  if (secs >= 3600) return `${(secs / 3600).toFixed(2)} h (${Math.round(secs / 60).toLocaleString('en-US')} min)`;
  if (secs >= 60) return `${(secs / 60).toFixed(1)} min`;
  return `${secs.toFixed(0)} s`;
}

function summarise(batch: number, runs: RunEntry[], last: { cp: number; threads: number } | null): SideSummary | null {
  if (runs.length === 0) return null;
  const rss = runs.map((r) => r.max_rss_mb).filter((v): v is number => v !== null);
  // The median is taken on time per step (for an even count: the mean of the middle two,
  // which weighs rounds by their time) and images/s derived from it, so the two agree.
  const ms = median(runs.map((r) => r.ms_per_step));
  const times = runs.map((r) => r.ms_per_step);
  return {
    ms_per_step: ms,
    images_per_s: (1000 * batch) / ms,
    best_images_per_s: Math.max(...runs.map((r) => r.images_per_s)),
    spread: Math.max(...times) / Math.min(...times) - 1,
    max_rss_mb: rss.length > 0 ? Math.max(...rss) : null,
    cp: last?.cp ?? null,
    threads: last?.threads ?? null,
    runs,
  };
}

function geomean(values: number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  return v.length === 0 ? null : Math.exp(v.reduce((a, x) => a + Math.log(x), 0) / v.length);
}

function ratioOf(a: number | undefined, b: number | undefined): number | null {
  return a && b && Number.isFinite(a) && Number.isFinite(b) ? a / b : null;
}

function summary(results: ConfigResult[]): ReportData['summary'] {
  const of = (rs: ConfigResult[]) => {
    const ratios = (mode: Mode) => rs.filter((r) => r.mode === mode && r.ratio !== null).map((r) => r.ratio!);
    return { geomeanRatioTrain: geomean(ratios('train')), geomeanRatioEval: geomean(ratios('eval')) };
  };
  const byPrecision: NonNullable<ReportData['summary']['byPrecision']> = {};
  for (const r of results) {
    const p = r.precision ?? 'fp32';
    byPrecision[p] ??= of(results.filter((x) => (x.precision ?? 'fp32') === p));
  }
  return { ...of(results), byPrecision };
}

// 3: per-configuration precision and device, ImageNet epoch estimates, settings.arch/device/precisions.
const SCHEMA = 3;

/** Summaries recomputed from the per-round numbers a result file keeps (older files too). */
export function resummarise(data: ReportData): ReportData {
  const side = (x: SideSummary | null): SideSummary | null => {
    if (!x?.runs?.length) return x;
    const again = summarise(data.settings.batch, x.runs, null)!;
    return { ...again, cp: x.cp, threads: x.threads, ...(x.error ? { error: x.error } : {}) };
  };
  const results = data.results.map((r) => {
    const native = side(r.native);
    const torch = side(r.torch);
    const again: ConfigResult = {
      ...r,
      native,
      torch,
      ratio: ratioOf(native?.images_per_s, torch?.images_per_s),
      ratio_best: ratioOf(native?.best_images_per_s, torch?.best_images_per_s),
    };
    if (r.epoch_estimate) again.epoch_estimate = epochEstimate(again, r.epoch_estimate.basis);
    return again;
  });
  return { ...data, schema: SCHEMA, results, summary: summary(results) };
}

export function render(data: ReportData): string {
  const { machine, settings: st, versions: v } = data;
  const rows: string[][] = [
    [
      'model',
      'mode',
      'precision',
      'device',
      'native img/s',
      'PyTorch img/s',
      'ratio',
      'ratio best',
      'native ms/step',
      'PyTorch ms/step',
      'native RSS MB',
      'PyTorch RSS MB',
      'CP% n/t',
    ],
  ];
  for (const r of data.results) {
    rows.push([
      r.model,
      r.mode,
      r.precision ?? 'fp32',
      r.device ?? String(st.device ?? 'cpu'),
      rate(r.native?.images_per_s),
      rate(r.torch?.images_per_s),
      r.ratio === null ? '-' : r.ratio.toFixed(3),
      r.ratio_best === null || r.ratio_best === undefined ? '-' : r.ratio_best.toFixed(3),
      fmt(r.native?.ms_per_step, 0),
      fmt(r.torch?.ms_per_step, 0),
      fmt(r.native?.max_rss_mb, 0),
      fmt(r.torch?.max_rss_mb, 0),
      `${fmt(r.native?.cp, 0)}/${fmt(r.torch?.cp, 0)}`,
    ]);
  }
  const out: string[] = [];
  out.push('');
  out.push(`SP throughput: this engine (LibTorch addon) vs PyTorch reference (${data.startedAt})`);
  out.push(
    `  CPU ${machine.cpuModel}; ${machine.logicalCpus} logical CPUs` +
      (machine.physicalCores !== null ? `, ${machine.physicalCores} physical cores` : '') +
      `; threads used ${st.threads} (both sides); load avg at start ${machine.loadAverage.join(' ')}, ` +
      `at end ${data.loadAverageAtEnd.join(' ')}`,
  );
  out.push(`  LibTorch ${v.libtorch ?? '?'} (${v.libtorchPath ?? '?'}); torch ${v.torch ?? '?'} (${st.python}); Node ${v.node}`);
  const device = String(st.device ?? 'cpu');
  if (device !== 'cpu') {
    out.push(
      `  device ${device}: GPU ${v.gpu ?? '?'}; CUDA ${v.cuda ?? '?'}, cuDNN ${v.cudnn ?? '?'} (torch side); ` +
        `cuDNN benchmark mode on both sides; nvidia-smi: ${v.nvidiaSmi ?? '-'}`,
    );
  }
  const size = Number(st.imageSize ?? 32);
  const modes = (st.modes as Mode[] | undefined) ?? ['train', 'eval'];
  const timing = [
    modes.includes('train') ? `train ${st.train.warmup} warm-up + ${st.train.steps} timed steps` : null,
    modes.includes('eval') ? `eval ${st.eval.warmup} + ${st.eval.steps} (engine execution ${String(st.evalExecution ?? 'mask')})` : null,
  ].filter(Boolean);
  out.push(
    `  ${String(st.arch ?? 'cifar')} arch, batch ${st.batch} of ${size}x${size}x3 uint8, rnn gate, ${String(st.classes ?? 10)} classes; ` +
      `${timing.join(', ')}; median of ${st.rounds} alternating round(s)${st.quick ? ' [quick]' : ''}; ` +
      `${data.durationS} s in all`,
  );
  out.push('');
  out.push(formatTable(rows, [false, false, false, false, true, true, true, true, true, true, true, true, true]));
  out.push('');
  out.push('  ratio = native / PyTorch images per second (>1: this engine is faster), from the median ms/step over rounds;');
  out.push("  ratio best = the same from each side's fastest round. RSS = peak of the measuring process.");
  const spreads = data.results
    .flatMap((r) => [r.native?.spread, r.torch?.spread])
    .filter((x): x is number => typeof x === 'number');
  if (spreads.length > 0 && st.rounds > 1) {
    out.push(`  largest round-to-round spread of one side (slowest/fastest - 1): ${fmt(100 * Math.max(...spreads), 0)}%`);
  }
  const sm = data.summary;
  const byPrecision = Object.entries(sm.byPrecision ?? {});
  if (byPrecision.length > 1) {
    for (const [p, g] of byPrecision) {
      out.push(`  geometric mean ratio, ${p}: train ${fmt(g.geomeanRatioTrain, 3)}, eval ${fmt(g.geomeanRatioEval, 3)}`);
    }
  } else if (sm.geomeanRatioTrain !== null || sm.geomeanRatioEval !== null) {
    out.push(`  geometric mean ratio: train ${fmt(sm.geomeanRatioTrain, 3)}, eval ${fmt(sm.geomeanRatioEval, 3)}`);
  }
  const epochs = data.results.filter((r) => r.epoch_estimate);
  if (epochs.length > 0) {
    out.push('');
    out.push(
      `  Estimated time per ImageNet-1k training epoch (${IMAGENET_TRAIN_IMAGES.toLocaleString('en-US')} images / the measured ` +
        'training images/s above):',
    );
    const erows: string[][] = [['model', 'precision', 'device', 'this engine', 'PyTorch', 'PyTorch / this engine']];
    for (const r of epochs) {
      const e = r.epoch_estimate!;
      erows.push([
        r.model,
        r.precision ?? 'fp32',
        r.device ?? device,
        duration(e.native_s),
        duration(e.torch_s),
        e.native_s && e.torch_s ? (e.torch_s / e.native_s).toFixed(3) : '-',
      ]);
    }
    out.push(
      formatTable(erows, [false, false, false, true, true, true])
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n'),
    );
    out.push(
      `  These are estimates from the measured step throughput at batch ${st.batch} and ${st.threads} thread(s) on ${device} ` +
        '(synthetic data: no data loading, evaluation or checkpointing), not timed epochs.',
    );
  }
  for (const w of data.warnings) out.push(`  warning: ${w}`);
  if (data.note) out.push(`  note: ${data.note}`);
  return out.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<void> {
  const s = parse(argv);
  if (s.help) {
    process.stdout.write(usage + '\n');
    return;
  }
  if (s.report) {
    const saved = JSON.parse(await readFile(s.report, 'utf8')) as ReportData;
    if (saved.benchmark !== 'sp-throughput') throw new Error(`${s.report} is not an sp-throughput result file`);
    process.stdout.write(render(resummarise(saved)));
    return;
  }
  const startedAt = new Date();
  const machine = machineInfo();
  let libtorch: { version: string; path: string } | null = null;
  let torchVersion: string | null = null;
  let gpu: string | null = null;
  let cuda: string | null = null;
  let cudnn: number | null = null;
  const warnings: string[] = [];
  const results: ConfigResult[] = [];

  log(
    `arch ${s.arch}, device ${s.device}, precisions ${s.precisions.join('/')}, threads ${s.threads}, batch ${s.batch} of ` +
      `${s.imageSize}x${s.imageSize}, ${s.classes} classes, train ${s.warmup}+${s.steps} steps, eval ${s.evalWarmup}+${s.evalSteps} steps, ` +
      `${s.rounds} round(s), depths ${s.depths.join('/')}, modes ${s.modes.join('/')}, sides ${s.sides.join('/')}` +
      (s.quick ? ' (quick)' : ''),
  );
  const smi = s.device === 'cpu' ? null : nvidiaSmi();
  if (smi) log(`nvidia-smi: ${smi}`);
  if (s.evalExecution === 'skip' && s.modes.includes('eval')) {
    warnings.push('eval ran with --eval-execution skip: the engine skipped blocks, the reference computed all of them');
  }
  if (s.threads > machine.availableParallelism) {
    warnings.push(`--threads ${s.threads} exceeds the ${machine.availableParallelism} CPUs available`);
  }

  // A side that fails once is not run again for that configuration; the others still run.
  // A side without CUDA (this build of the addon, or the interpreter's torch) is not run again at all.
  const unavailable: Partial<Record<Side, string>> = {};
  for (const depth of s.depths) {
    for (const precision of s.precisions) {
      for (const mode of s.modes) {
        const cfg = `SkipNet-${depth} ${mode} ${precision}`;
        const runs: Record<Side, RunEntry[]> = { native: [], torch: [] };
        const last: Record<Side, { cp: number; threads: number } | null> = { native: null, torch: null };
        const errors: Partial<Record<Side, string>> = {};
        for (let round = 0; round < s.rounds; round++) {
          for (const side of s.sides) {
            if (errors[side]) continue;
            if (unavailable[side]) {
              errors[side] = `not run: ${unavailable[side]}`;
              continue;
            }
            try {
              const load1 = Math.round(os.loadavg()[0]! * 100) / 100;
              const { value, wallMs } = await measure(side, s, depth, mode, precision);
              const entry: RunEntry = {
                images_per_s: value.images_per_s,
                ms_per_step: value.ms_per_step,
                max_rss_mb: value.max_rss_mb ?? null,
                wall_s: Math.round(wallMs / 100) / 10,
                load1_before: load1,
              };
              if (side === 'native') {
                const v = value as NativeBenchResult;
                entry.step_ms = v.step_ms;
                libtorch ??= { version: v.libtorch_version, path: v.libtorch_path };
                if (v.skipped_steps > 0) {
                  warnings.push(`native ${cfg}: ${v.skipped_steps} timed step(s) overflowed in fp16 and skipped the update`);
                }
              } else {
                const v = value as TorchBenchResult;
                torchVersion ??= v.torch_version;
                gpu ??= v.device_name ?? null;
                cuda ??= v.cuda_version ?? null;
                cudnn ??= v.cudnn_version ?? null;
                if (v.cuda_max_memory_allocated_mb !== undefined) entry.cuda_max_memory_mb = Math.round(v.cuda_max_memory_allocated_mb);
              }
              if (value.threads !== s.threads) {
                warnings.push(`${side} ${cfg} ran with ${value.threads} threads, not ${s.threads}`);
              }
              runs[side].push(entry);
              last[side] = { cp: value.cp, threads: value.threads };
              log(
                `${cfg} round ${round + 1}/${s.rounds} ${side.padEnd(6)} ${rate(value.images_per_s)} img/s ` +
                  `(${fmt(value.ms_per_step, 0)} ms/step, RSS ${fmt(value.max_rss_mb ?? null, 0)} MB, process ${fmt(wallMs / 1000)} s, ` +
                  `load ${load1})`,
              );
            } catch (err) {
              errors[side] = err instanceof Error ? err.message : String(err);
              const lines = errors[side]!.split('\n').filter((l) => l.trim());
              const cause = lines.length > 1 ? `: ${lines[lines.length - 1]!.trim()}` : '';
              warnings.push(`${side} ${cfg} failed: ${lines[0] ?? ''}${cause}`);
              log(`${cfg} ${side} FAILED:\n${errors[side]}`);
              if (s.device !== 'cpu' && /no usable CUDA|CUDA device\(s\) are visible/.test(errors[side]!)) {
                unavailable[side] = `no CUDA on the ${side === 'native' ? "engine's" : "PyTorch"} side (${lines[lines.length - 1]!.trim()})`;
              }
            }
          }
        }
        const sideResult = (side: Side): SideSummary | null => {
          const r = summarise(s.batch, runs[side], last[side]);
          const error = errors[side];
          if (!error) return r;
          return r ? { ...r, error } : ({ error, runs: [] } as unknown as SideSummary);
        };
        const native = sideResult('native');
        const torch = sideResult('torch');
        const result: ConfigResult = {
          model: `SkipNet-${depth}`,
          depth,
          mode,
          precision,
          device: s.device,
          warmup: mode === 'train' ? s.warmup : s.evalWarmup,
          steps: mode === 'train' ? s.steps : s.evalSteps,
          native,
          torch,
          ratio: ratioOf(native?.images_per_s, torch?.images_per_s),
          ratio_best: ratioOf(native?.best_images_per_s, torch?.best_images_per_s),
        };
        if (s.arch === 'imagenet' && mode === 'train') {
          result.epoch_estimate = epochEstimate(result, epochBasis(s, precision));
          log(
            `${cfg}: estimated ImageNet-1k epoch (from the measured img/s) native ${duration(result.epoch_estimate.native_s)}, ` +
              `torch ${duration(result.epoch_estimate.torch_s)}`,
          );
        }
        results.push(result);
      }
    }
  }

  const finishedAt = new Date();
  const loadAtEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);
  // OpenMP pools spin at barriers: with as many threads as CPUs, any other busy process
  // slows a step down by far more than its share of the machine.
  const busy = Math.max(machine.loadAverage[0]!, loadAtEnd[0]!);
  if (s.device === 'cpu' && busy > 1.25 * machine.availableParallelism) {
    warnings.push(
      `the machine was busy (1-min load ${machine.loadAverage[0]} at start, ${loadAtEnd[0]} at the end, ` +
        `${machine.availableParallelism} CPUs): absolute numbers are unreliable, ratios less so`,
    );
  }

  const data: ReportData = {
    benchmark: 'sp-throughput',
    schema: SCHEMA,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    machine,
    loadAverageAtEnd: loadAtEnd,
    versions: {
      libtorch: libtorch?.version ?? null,
      libtorchPath: libtorch?.path ?? null,
      torch: torchVersion,
      node: machine.node,
      ...(s.device === 'cpu' ? {} : { gpu: gpu ?? smi?.split(',')[0] ?? null, cuda, cudnn, nvidiaSmi: smi }),
    },
    settings: {
      quick: s.quick,
      threads: s.threads,
      batch: s.batch,
      imageSize: s.imageSize,
      channels: 3,
      classes: s.classes,
      arch: s.arch,
      device: s.device,
      precisions: s.precisions,
      normalization: s.arch === 'imagenet' ? 'imagenet' : 'cifar',
      cudnnBenchmark: s.device === 'cpu' ? null : true,
      fp16LossScale: s.precisions.includes('fp16') ? { ...FP16_LOSS_SCALE } : null,
      gate: 'rnn',
      gateMode: 'hard',
      evalThreshold: 0.5,
      evalExecution: s.evalExecution,
      optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: false },
      train: { warmup: s.warmup, steps: s.steps },
      eval: { warmup: s.evalWarmup, steps: s.evalSteps },
      rounds: s.rounds,
      seed: s.seed,
      depths: s.depths,
      modes: s.modes,
      sides: s.sides,
      python: s.python,
    },
    results,
    summary: summary(results),
    warnings,
  };
  process.stdout.write(render(data));
  if (s.write) {
    // The CPU CIFAR run keeps its file names (bench/pipeline.ts reads latest-sp-throughput.json
    // for SkipNet-38's CPU training rate); other runs get their own, e.g.
    // sp-throughput-imagenet-cuda-<host>-<date>.json and latest-sp-throughput-imagenet-cuda.json.
    const suffix = [s.arch === 'imagenet' ? 'imagenet' : '', s.device === 'cpu' ? '' : s.device.replace(':', '')].filter(Boolean);
    const file = await writeResults(['sp-throughput', ...suffix].join('-'), data, startedAt, s.out);
    process.stdout.write(`\n  results: ${file}\n`);
  }
  if (results.length === 0 || results.some((r) => r.native?.error || r.torch?.error)) {
    process.exitCode = 1;
  }
}

const mod: BenchModule = { description, usage, run };
export default mod;
