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
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type BenchModule,
  benchDir,
  fmt,
  formatTable,
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

interface SideSummary {
  images_per_s: number; // median over rounds
  ms_per_step: number; // median over rounds
  max_rss_mb: number | null; // largest over rounds
  cp: number | null; // mean computation percentage seen (gate decisions), last round
  threads: number | null;
  runs: Array<{
    images_per_s: number;
    ms_per_step: number;
    max_rss_mb: number | null;
    wall_s: number;
    load1_before: number; // 1-minute load average when the process started
    step_ms?: number[];
  }>;
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
  ratio: number | null; // native / torch images per second
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
  --side native|torch   run one side only (default both)
  --python PATH         interpreter for bench_torch.py (default $SKIPNET_BENCH_PYTHON or /usr/bin/python3)
  --no-write            do not write bench/results/*.json
  --out DIR             results folder (default bench/results)`;

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
      python: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      out: { type: 'string' },
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
  const warmup = positiveInt('warmup', values.warmup, quick ? 1 : 3, 0);
  const steps = positiveInt('steps', values.steps, quick ? 2 : 8);
  return {
    help: values.help!,
    quick,
    modes,
    depths,
    sides,
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
    return runJsonChild<NativeBenchResult>(process.execPath, ['--import', 'tsx', script, ...common], {
      cwd: packageRoot,
      label: `native SkipNet-${depth} ${mode}`,
    });
  }
  const script = join(benchDir, 'pytorch', 'bench_torch.py');
  return runJsonChild<TorchBenchResult>(s.python, [script, '--arch', 'cifar', '--gate-mode', 'hard', '--classes', '10', ...common], {
    cwd: packageRoot,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    label: `torch SkipNet-${depth} ${mode}`,
  });
}

function summarise(runs: SideSummary['runs'], last: { cp: number; threads: number } | null): SideSummary | null {
  if (runs.length === 0) return null;
  const rss = runs.map((r) => r.max_rss_mb).filter((v): v is number => v !== null);
  return {
    images_per_s: median(runs.map((r) => r.images_per_s)),
    ms_per_step: median(runs.map((r) => r.ms_per_step)),
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

export async function run(argv: string[]): Promise<void> {
  const s = parse(argv);
  if (s.help) {
    process.stdout.write(usage + '\n');
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
  if (s.threads > machine.availableParallelism) warnings.push(`--threads ${s.threads} exceeds the ${machine.availableParallelism} CPUs available`);

  for (const depth of s.depths) {
    for (const mode of s.modes) {
      const runs: Record<Side, SideSummary['runs']> = { native: [], torch: [] };
      const last: Record<Side, { cp: number; threads: number } | null> = { native: null, torch: null };
      const errors: Partial<Record<Side, string>> = {};
      for (let round = 0; round < s.rounds; round++) {
        for (const side of s.sides) {
          if (errors[side]) continue;
          try {
            const load1 = Math.round(os.loadavg()[0]! * 100) / 100;
            const { value, wallMs } = await measure(side, s, depth, mode);
            const entry: SideSummary['runs'][number] = {
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
      const native = summarise(runs.native, last.native);
      const torch = summarise(runs.torch, last.torch);
      if (native && errors.native) native.error = errors.native;
      if (torch && errors.torch) torch.error = errors.torch;
      results.push({
        model: `SkipNet-${depth}`,
        depth,
        mode,
        warmup: mode === 'train' ? s.warmup : s.evalWarmup,
        steps: mode === 'train' ? s.steps : s.evalSteps,
        native: native ?? (errors.native ? ({ error: errors.native } as unknown as SideSummary) : null),
        torch: torch ?? (errors.torch ? ({ error: errors.torch } as unknown as SideSummary) : null),
        ratio: native?.images_per_s && torch?.images_per_s ? native.images_per_s / torch.images_per_s : null,
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
      `the machine was busy (1-min load ${machine.loadAverage[0]} at start, ${loadAtEnd[0]} at the end, ${machine.availableParallelism} CPUs): ` +
        'absolute numbers are unreliable, ratios less so',
    );
  }
  const ratios = (mode: Mode) => results.filter((r) => r.mode === mode && r.ratio !== null).map((r) => r.ratio!);
  const summary = { geomeanRatioTrain: geomean(ratios('train')), geomeanRatioEval: geomean(ratios('eval')) };

  // ---- report ----
  const rows: string[][] = [
    ['model', 'mode', 'native img/s', 'PyTorch img/s', 'ratio', 'native ms/step', 'PyTorch ms/step', 'native RSS MB', 'PyTorch RSS MB', 'CP% n/t'],
  ];
  for (const r of results) {
    rows.push([
      r.model,
      r.mode,
      fmt(r.native?.images_per_s),
      fmt(r.torch?.images_per_s),
      r.ratio === null ? '-' : r.ratio.toFixed(3),
      fmt(r.native?.ms_per_step, 0),
      fmt(r.torch?.ms_per_step, 0),
      fmt(r.native?.max_rss_mb, 0),
      fmt(r.torch?.max_rss_mb, 0),
      `${fmt(r.native?.cp, 0)}/${fmt(r.torch?.cp, 0)}`,
    ]);
  }
  const out: string[] = [];
  out.push('');
  out.push('SP throughput: this engine (LibTorch addon) vs PyTorch reference');
  out.push(
    `  CPU ${machine.cpuModel}; ${machine.logicalCpus} logical CPUs` +
      (machine.physicalCores !== null ? `, ${machine.physicalCores} physical cores` : '') +
      `; threads used ${s.threads} (both sides); load avg at start ${machine.loadAverage.join(' ')}, at end ${loadAtEnd.join(' ')}`,
  );
  out.push(
    `  LibTorch ${libtorch?.version ?? '?'} (${libtorch?.path ?? '?'}); torch ${torchVersion ?? '?'} (${s.python}); Node ${machine.node}`,
  );
  out.push(
    `  batch ${s.batch}, 32x32x3 uint8, rnn gate, 10 classes; train ${s.warmup} warm-up + ${s.steps} timed steps, ` +
      `eval ${s.evalWarmup} + ${s.evalSteps}; median of ${s.rounds} alternating round(s)${s.quick ? ' [quick]' : ''}`,
  );
  out.push('');
  out.push(formatTable(rows, [false, false, true, true, true, true, true, true, true, true]));
  out.push('');
  out.push('  ratio = native / PyTorch images per second (>1: this engine is faster). RSS = peak of the measuring process.');
  if (summary.geomeanRatioTrain !== null || summary.geomeanRatioEval !== null) {
    out.push(`  geometric mean ratio: train ${fmt(summary.geomeanRatioTrain, 3)}, eval ${fmt(summary.geomeanRatioEval, 3)}`);
  }
  for (const w of warnings) out.push(`  warning: ${w}`);
  process.stdout.write(out.join('\n') + '\n');

  if (s.write) {
    const data = {
      benchmark: 'sp-throughput',
      schema: 1,
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
      summary,
      warnings,
    };
    const file = await writeResults('sp-throughput', data, startedAt, s.out);
    process.stdout.write(`\n  results: ${file}\n`);
  }
  if (results.some((r) => (r.native as { error?: string } | null)?.error || (r.torch as { error?: string } | null)?.error)) {
    process.exitCode = 1;
  }
}

const mod: BenchModule = { description, usage, run };
export default mod;
