// SP (standard-training-phase) throughput, this engine against the PyTorch reference:
// trainStep (hard gates, straight-through, SGD momentum 0.9, wd 1e-4, lr 0.1) and evalStep
// (threshold 0.5) of SkipNet-38 and SkipNet-110 (cifar, recurrent gate, 10 classes,
// batch 128 of 32x32x3 uint8) at the same intra-op thread count on both sides.
//
// Each measurement is its own child process: bench/native-bench.ts for this engine,
// bench/pytorch/bench_torch.py for the reference. Per configuration the two alternate
// (native, torch, native, torch, ...) and the median over rounds is reported, so that
// background load falls on both sides alike. Warm-up steps are not timed.
//
// Both sides compute every block in training (the gates only scale the residual), and
// both evaluate with the masked full-batch forward (a skipped block is computed and
// multiplied by 0), so the gate decisions on synthetic data do not change the work.
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
import type { NativeBenchResult } from './native-bench.js';

type Mode = 'train' | 'eval';
type Side = 'native' | 'torch';

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
  cp: number;
  max_rss_mb?: number;
}

interface RunEntry {
  images_per_s: number;
  ms_per_step: number;
  max_rss_mb: number | null;
  wall_s: number;
  load1_before: number; // 1-minute load average when the process started
  step_ms?: number[]; // native side only
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

interface ConfigResult {
  model: string;
  depth: number;
  mode: Mode;
  warmup: number;
  steps: number;
  native: SideSummary | null;
  torch: SideSummary | null;
  ratio: number | null; // native / torch images per second (medians)
  ratio_best: number | null; // native / torch, best round of each
}

interface ReportData {
  benchmark: 'sp-throughput';
  schema: number;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: MachineInfo;
  loadAverageAtEnd: number[];
  versions: { libtorch: string | null; libtorchPath: string | null; torch: string | null; node: string };
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
  summary: { geomeanRatioTrain: number | null; geomeanRatioEval: number | null };
  warnings: string[];
  note?: string; // added by hand to a saved file
}

const usage = `npm run bench -- sp [flags]

  --only train|eval     measure only training or only evaluation (comma list allowed)
  --depths 38,110       SkipNet depths (cifar: 6n+2); default 38,110
  --threads N           intra-op threads on both sides (default os.availableParallelism() = ${os.availableParallelism()})
  --warmup N            untimed warm-up steps per measurement (default 3)
  --steps N             timed training steps per measurement (default 8)
  --eval-warmup N       untimed warm-up steps for evaluation (default: --warmup)
  --eval-steps N        timed evaluation steps (default: 2 x --steps; an eval step is ~3x cheaper)
  --rounds N            native/torch alternations per configuration; the median is reported (default 2)
  --batch N             batch size (default 128)
  --seed N              weights and synthetic data seed (default 0)
  --quick               smoke run: 1 warm-up + 2 steps, depth 38 only, 1 round (flags given explicitly still win)
  --eval-execution mask|skip
                        engine evalStep execution (default mask: every block computed and masked, as the
                        reference does; skip: real skipping, whose work depends on the gate decisions,
                        so not a like-for-like comparison)
  --side native|torch   run one side only (default both)
  --python PATH         interpreter for bench_torch.py (default $SKIPNET_BENCH_PYTHON or /usr/bin/python3)
  --no-write            do not write bench/results/*.json
  --out DIR             results folder (default bench/results)
  --report FILE         print the table of a saved result file again (nothing is measured)`;

export const description = 'SP train/eval throughput of SkipNet-38/110 (rnn gate), this engine vs the PyTorch reference';
export { usage };

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      depths: { type: 'string' },
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
  const modes: Mode[] = [];
  for (const m of (values.only ?? 'train,eval').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (m !== 'train' && m !== 'eval') throw new Error(`--only takes train and/or eval, got '${m}'`);
    if (!modes.includes(m)) modes.push(m);
  }
  const depths = (values.depths ?? (quick ? '38' : '38,110')).split(',').map((s) => {
    const d = Number(s.trim());
    if (!Number.isInteger(d) || d < 8 || (d - 2) % 6 !== 0) throw new Error(`--depths: ${s} is not a cifar depth 6n+2`);
    return d;
  });
  const sides: Side[] = values.side === undefined ? ['native', 'torch'] : [values.side as Side];
  if (!sides.every((s) => s === 'native' || s === 'torch')) throw new Error(`--side takes native or torch, got '${values.side}'`);
  const evalExecution = values['eval-execution'] ?? 'mask';
  if (evalExecution !== 'mask' && evalExecution !== 'skip') {
    throw new Error(`--eval-execution takes mask or skip, got '${evalExecution}'`);
  }
  const warmup = positiveInt('warmup', values.warmup, quick ? 1 : 3, 0);
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
    batch: positiveInt('batch', values.batch, 128),
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

async function measure(side: Side, s: Settings, depth: number, mode: Mode) {
  const warmup = mode === 'train' ? s.warmup : s.evalWarmup;
  const steps = mode === 'train' ? s.steps : s.evalSteps;
  const common = ['--depth', String(depth), '--gate', 'rnn', '--mode', mode, '--batch', String(s.batch)];
  common.push('--threads', String(s.threads), '--steps', String(steps), '--warmup', String(warmup), '--seed', String(s.seed));
  if (side === 'native') {
    const script = join(benchDir, 'native-bench.ts');
    const extra = mode === 'eval' ? ['--execution', s.evalExecution] : [];
    return runJsonChild<NativeBenchResult>(process.execPath, ['--import', 'tsx', script, ...common, ...extra], {
      cwd: packageRoot,
      label: `native SkipNet-${depth} ${mode}`,
    });
  }
  const script = join(benchDir, 'pytorch', 'bench_torch.py');
  return runJsonChild<TorchBenchResult>(s.python, [script, '--arch', 'cifar', '--gate-mode', 'hard', '--classes', '10', ...common], {
    cwd: packageRoot,
    // Single-threaded OpenBLAS on both sides, as lib/native.ts sets it for this engine.
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? '1' },
    label: `torch SkipNet-${depth} ${mode}`,
  });
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
  const ratios = (mode: Mode) => results.filter((r) => r.mode === mode && r.ratio !== null).map((r) => r.ratio!);
  return { geomeanRatioTrain: geomean(ratios('train')), geomeanRatioEval: geomean(ratios('eval')) };
}

const SCHEMA = 2;

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
    return {
      ...r,
      native,
      torch,
      ratio: ratioOf(native?.images_per_s, torch?.images_per_s),
      ratio_best: ratioOf(native?.best_images_per_s, torch?.best_images_per_s),
    };
  });
  return { ...data, schema: SCHEMA, results, summary: summary(results) };
}

export function render(data: ReportData): string {
  const { machine, settings: st, versions: v } = data;
  const rows: string[][] = [
    [
      'model',
      'mode',
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
      fmt(r.native?.images_per_s),
      fmt(r.torch?.images_per_s),
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
  out.push(
    `  batch ${st.batch}, 32x32x3 uint8, rnn gate, 10 classes; train ${st.train.warmup} warm-up + ${st.train.steps} timed steps, ` +
      `eval ${st.eval.warmup} + ${st.eval.steps} (engine execution ${String(st.evalExecution ?? 'mask')}); median of ${st.rounds} alternating round(s)${st.quick ? ' [quick]' : ''}; ` +
      `${data.durationS} s in all`,
  );
  out.push('');
  out.push(formatTable(rows, [false, false, true, true, true, true, true, true, true, true, true]));
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
  if (sm.geomeanRatioTrain !== null || sm.geomeanRatioEval !== null) {
    out.push(`  geometric mean ratio: train ${fmt(sm.geomeanRatioTrain, 3)}, eval ${fmt(sm.geomeanRatioEval, 3)}`);
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
  const warnings: string[] = [];
  const results: ConfigResult[] = [];

  log(
    `threads ${s.threads}, batch ${s.batch}, train ${s.warmup}+${s.steps} steps, eval ${s.evalWarmup}+${s.evalSteps} steps, ` +
      `${s.rounds} round(s), depths ${s.depths.join('/')}, modes ${s.modes.join('/')}, sides ${s.sides.join('/')}` +
      (s.quick ? ' (quick)' : ''),
  );
  if (s.evalExecution === 'skip' && s.modes.includes('eval')) {
    warnings.push('eval ran with --eval-execution skip: the engine skipped blocks, the reference computed all of them');
  }
  if (s.threads > machine.availableParallelism) {
    warnings.push(`--threads ${s.threads} exceeds the ${machine.availableParallelism} CPUs available`);
  }

  for (const depth of s.depths) {
    for (const mode of s.modes) {
      const runs: Record<Side, RunEntry[]> = { native: [], torch: [] };
      const last: Record<Side, { cp: number; threads: number } | null> = { native: null, torch: null };
      const errors: Partial<Record<Side, string>> = {};
      for (let round = 0; round < s.rounds; round++) {
        for (const side of s.sides) {
          if (errors[side]) continue;
          try {
            const load1 = Math.round(os.loadavg()[0]! * 100) / 100;
            const { value, wallMs } = await measure(side, s, depth, mode);
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
            } else {
              torchVersion ??= (value as TorchBenchResult).torch_version;
            }
            if (value.threads !== s.threads) {
              warnings.push(`${side} SkipNet-${depth} ${mode} ran with ${value.threads} threads, not ${s.threads}`);
            }
            runs[side].push(entry);
            last[side] = { cp: value.cp, threads: value.threads };
            log(
              `SkipNet-${depth} ${mode} round ${round + 1}/${s.rounds} ${side.padEnd(6)} ${fmt(value.images_per_s)} img/s ` +
                `(${fmt(value.ms_per_step, 0)} ms/step, RSS ${fmt(value.max_rss_mb ?? null, 0)} MB, process ${fmt(wallMs / 1000)} s, ` +
                `load ${load1})`,
            );
          } catch (err) {
            errors[side] = err instanceof Error ? err.message : String(err);
            warnings.push(`${side} SkipNet-${depth} ${mode} failed: ${errors[side]!.split('\n')[0]}`);
            log(`SkipNet-${depth} ${mode} ${side} FAILED:\n${errors[side]}`);
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
      results.push({
        model: `SkipNet-${depth}`,
        depth,
        mode,
        warmup: mode === 'train' ? s.warmup : s.evalWarmup,
        steps: mode === 'train' ? s.steps : s.evalSteps,
        native,
        torch,
        ratio: ratioOf(native?.images_per_s, torch?.images_per_s),
        ratio_best: ratioOf(native?.best_images_per_s, torch?.best_images_per_s),
      });
    }
  }

  const finishedAt = new Date();
  const loadAtEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);
  // OpenMP pools spin at barriers: with as many threads as CPUs, any other busy process
  // slows a step down by far more than its share of the machine.
  const busy = Math.max(machine.loadAverage[0]!, loadAtEnd[0]!);
  if (busy > 1.25 * machine.availableParallelism) {
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
    versions: { libtorch: libtorch?.version ?? null, libtorchPath: libtorch?.path ?? null, torch: torchVersion, node: machine.node },
    settings: {
      quick: s.quick,
      threads: s.threads,
      batch: s.batch,
      imageSize: 32,
      channels: 3,
      classes: 10,
      arch: 'cifar',
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
    const file = await writeResults('sp-throughput', data, startedAt, s.out);
    process.stdout.write(`\n  results: ${file}\n`);
  }
  if (results.length === 0 || results.some((r) => r.native?.error || r.torch?.error)) {
    process.exitCode = 1;
  }
}

const mod: BenchModule = { description, usage, run };
export default mod;
