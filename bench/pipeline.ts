// Data-pipeline throughput: this package's ImageNet training pipeline (encoded files ->
// RandomResizedCrop(224) + flip -> batch; JPEGs decoded and resized natively, one call per batch
// on N threads, lib/data/jpeg-batch.ts) against torchvision's
// ImageFolder + DataLoader(num_workers=N) with the same transforms, on the same files and the
// same number of cores; plus the CIFAR training pipeline (in-memory crop + flip into uint8
// batches) against what a SkipNet-38 training step consumes.
//
// ImageNet-style side by side, per dataset (the shared ImageNet sample: 100 full-size JPEGs;
// a subset of the shared Tiny ImageNet train images: 64x64 JPEGs) and output:
//   float  both sides end with a normalised float32 NCHW batch (torchvision: ToTensor +
//          Normalize in the workers; ours: normalised on the main thread after the batch);
//   uint8  both end with uint8 pixels (torchvision: PILToTensor; ours: the batch the trainer
//          hands the native step, which normalises there).
// Cores: ours runs with N native decode threads per batch (decodeThreads, UV_THREADPOOL_SIZE=N
// for file reads and sharp's fallback) plus the main thread; torchvision with num_workers=N
// worker processes plus its main process. Each measurement is a fresh child process
// (bench/pipeline-ours.ts, bench/pytorch/pipeline_torch.py); the sides alternate for --rounds
// rounds and the median per side is reported. Warm-up batches (torchvision's include starting
// its workers) are not timed; each file is read once before timing on both sides.
//
// Placement study (ours only, ImageNet sample, float): the package's 'loader' (native JPEG path)
// against the sharp alternatives it replaced, 'vips' (one image at a time, libvips threads
// inside it) and 'workers' (N worker_threads running sharp); see bench/pipeline-ours.ts.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BatchLoader } from '../lib/data/loader.js';
import { readImageFolder } from '../lib/data/folder.js';
import { sharedDataset } from '../lib/data/shared-datasets.js';
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
  resultsDir,
  runJsonChild,
  writeResults,
} from './common.js';
import type { OursPipelineResult, Output, Placement } from './pipeline-ours.js';

type DatasetName = 'imagenet-sample' | 'tiny-imagenet';
type Side = 'ours' | 'torchvision';

interface TorchPipelineResult {
  side: 'torchvision';
  output: Output;
  workers: number;
  images_per_s: number;
  ms_per_batch: number;
  warmup_s: number | null;
  timed_images: number;
  images: number;
  max_rss_mb: number;
  cpu_ms_per_image: number;
  torch_version: string;
  torchvision_version: string;
  pil_version: string;
  python: string;
}

interface RunEntry {
  images_per_s: number;
  ms_per_batch: number;
  warmup_s: number | null;
  max_rss_mb: number | null;
  cpu_ms_per_image: number | null; // every thread / worker process, per image (see the children)
  wall_s: number;
  load1_before: number;
}

interface SideSummary {
  images_per_s: number; // from the median ms per batch over rounds
  ms_per_batch: number;
  best_images_per_s: number;
  warmup_s: number | null; // median time of the warm-up batches; torchvision's includes starting its workers
  max_rss_mb: number | null; // ours: the whole process; torchvision: its main process only
  cpu_ms_per_image: number | null; // median; CPU time of all threads/processes per image: robust to other load
  runs: RunEntry[];
  error?: string;
}

interface PairResult {
  dataset: DatasetName;
  root: string;
  output: Output;
  images: number;
  samples: number;
  ours: SideSummary | null;
  torchvision: SideSummary | null;
  ratio: number | null; // ours / torchvision images per second
}

interface PlacementResult {
  dataset: DatasetName;
  placement: Placement;
  output: Output;
  summary: SideSummary | null;
  ratio_to_loader: number | null;
}

interface CifarResult {
  source: string;
  images: number;
  decodedFromCache: boolean;
  openS: number;
  batch: number;
  batches: number;
  augment: 'cifar';
  images_per_s: number;
  consumption: { model: string; images_per_s: number; threads: number | null; file: string } | null;
  ratio: number | null; // pipeline images/s over the training step's consumption
}

interface ReportData {
  benchmark: 'pipeline';
  schema: number;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: MachineInfo;
  loadAverageAtEnd: number[];
  versions: Record<string, string | null>;
  settings: Record<string, unknown> & { quick: boolean; threads: number; batch: number; rounds: number };
  results: PairResult[];
  placements: PlacementResult[];
  cifar: CifarResult | null;
  warnings: string[];
  note?: string;
}

const DATASETS: Record<DatasetName, { archive: string; sub: string; images: number; samples: number; quickImages: number; quickSamples: number }> = {
  // 100 images, one per class: several epochs of them.
  'imagenet-sample': { archive: 'imagenet-sample-100', sub: '', images: 100, samples: 1024, quickImages: 100, quickSamples: 96 },
  // 20,200 images; an evenly spread subset keeps the run short.
  'tiny-imagenet': { archive: 'tiny-imagenet-200-train-100', sub: 'train', images: 4000, samples: 4096, quickImages: 400, quickSamples: 192 },
};

const usage = `npm run bench -- pipeline [flags]

  --threads N           decode threads: UV_THREADPOOL_SIZE for ours, num_workers for torchvision
                        (default os.availableParallelism() = ${os.availableParallelism()})
  --datasets a,b        imagenet-sample, tiny-imagenet (default both)
  --outputs a,b         float, uint8 (default both; --quick: float)
  --batch N             batch size (default 64; --quick 32)
  --samples N           timed images per measurement (default 1024 ImageNet sample, 4096 Tiny ImageNet)
  --images N            distinct files used per dataset (default 100 / 4000)
  --warmup N            untimed batches per measurement (default max(2, --threads))
  --rounds N            ours/torchvision alternations; the median is reported (default 2; --quick 1)
  --placements a,b      ours-only placement study on the ImageNet sample: loader, sharp, vips, workers
                        (default loader,sharp,vips,workers; --quick: none)
  --cifar-batches N     batches timed for the CIFAR pipeline (default 300; --quick 30); 0 skips it
  --quick               smoke run: tiny subsets, 1 round, float only, no placement study
  --side ours|torchvision  run one side only
  --python PATH         interpreter for pipeline_torch.py (default $SKIPNET_BENCH_PYTHON or /usr/bin/python3)
  --no-write            do not write bench/results/*.json
  --out DIR             results folder (default bench/results)
  --report FILE         print the table of a saved result file again (nothing is measured)`;

export const description = 'data pipeline images/s: ImageNet RandomResizedCrop pipeline vs torchvision DataLoader; CIFAR pipeline vs the training step';

function list<T extends string>(flag: string, text: string | undefined, fallback: T[], allowed: readonly T[]): T[] {
  if (text === undefined) return fallback;
  const out: T[] = [];
  for (const v of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!allowed.includes(v as T)) throw new Error(`--${flag} takes ${allowed.join(', ')}; got '${v}'`);
    if (!out.includes(v as T)) out.push(v as T);
  }
  return out;
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      threads: { type: 'string' },
      datasets: { type: 'string' },
      outputs: { type: 'string' },
      batch: { type: 'string' },
      samples: { type: 'string' },
      images: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      placements: { type: 'string' },
      'cifar-batches': { type: 'string' },
      quick: { type: 'boolean', default: false },
      side: { type: 'string' },
      python: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      out: { type: 'string' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`pipeline: unexpected argument(s) ${positionals.join(' ')}`);
  const quick = values.quick!;
  const threads = positiveInt('threads', values.threads, os.availableParallelism());
  const sides: Side[] = values.side === undefined ? ['ours', 'torchvision'] : [values.side as Side];
  if (!sides.every((s) => s === 'ours' || s === 'torchvision')) throw new Error(`--side takes ours or torchvision, got '${values.side}'`);
  return {
    help: values.help!,
    report: values.report,
    quick,
    threads,
    datasets: list<DatasetName>('datasets', values.datasets, ['imagenet-sample', 'tiny-imagenet'], ['imagenet-sample', 'tiny-imagenet']),
    outputs: list<Output>('outputs', values.outputs, quick ? ['float'] : ['float', 'uint8'], ['float', 'uint8']),
    batch: positiveInt('batch', values.batch, quick ? 32 : 64),
    samples: values.samples === undefined ? null : positiveInt('samples', values.samples, 1),
    images: values.images === undefined ? null : positiveInt('images', values.images, 1),
    // At least one batch per torchvision worker: its N workers start N batches at once, and a
    // shorter warm-up would let the timed part begin with batches already made.
    warmup: positiveInt('warmup', values.warmup, Math.max(quick ? 1 : 2, threads), 0),
    rounds: positiveInt('rounds', values.rounds, quick ? 1 : 2),
    placements: list<Placement>('placements', values.placements, quick ? [] : ['loader', 'sharp', 'vips', 'workers'], ['loader', 'sharp', 'vips', 'workers']),
    cifarBatches: positiveInt('cifar-batches', values['cifar-batches'], quick ? 30 : 300, 0),
    sides,
    python: values.python ?? process.env.SKIPNET_BENCH_PYTHON ?? '/usr/bin/python3',
    write: !values['no-write'],
    out: values.out,
  };
}

type Settings = ReturnType<typeof parse>;

function log(msg: string): void {
  process.stderr.write(`[pipeline] ${msg}\n`);
}

interface Job {
  root: string;
  images: number;
  samples: number;
  output: Output;
  placement: Placement;
}

async function measure(side: Side, s: Settings, job: Job) {
  const common = ['--root', job.root, '--images', String(job.images), '--batch', String(s.batch)];
  common.push('--samples', String(job.samples), '--warmup', String(s.warmup), '--output', job.output);
  if (side === 'ours') {
    const script = join(benchDir, 'pipeline-ours.ts');
    return runJsonChild<OursPipelineResult>(
      process.execPath,
      ['--import', 'tsx', script, ...common, '--threads', String(s.threads), '--placement', job.placement],
      {
        cwd: packageRoot,
        // The pool size must be set before the process first uses libuv's pool.
        env: { ...process.env, UV_THREADPOOL_SIZE: String(s.threads) },
        label: `ours ${job.placement} ${job.output}`,
      },
    );
  }
  const script = join(benchDir, 'pytorch', 'pipeline_torch.py');
  return runJsonChild<TorchPipelineResult>(s.python, [script, ...common, '--workers', String(s.threads)], {
    cwd: packageRoot,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
    label: `torchvision ${job.output}`,
  });
}

function summarise(batch: number, runs: RunEntry[]): SideSummary | null {
  if (runs.length === 0) return null;
  const ms = median(runs.map((r) => r.ms_per_batch));
  const first = runs.map((r) => r.warmup_s).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const rss = runs.map((r) => r.max_rss_mb).filter((v): v is number => v !== null);
  const cpu = runs.map((r) => r.cpu_ms_per_image).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return {
    images_per_s: (1000 * batch) / ms,
    ms_per_batch: ms,
    best_images_per_s: Math.max(...runs.map((r) => r.images_per_s)),
    warmup_s: first.length > 0 ? median(first) : null,
    max_rss_mb: rss.length > 0 ? Math.max(...rss) : null,
    cpu_ms_per_image: cpu.length > 0 ? median(cpu) : null,
    runs,
  };
}

const ratioOf = (a: number | undefined, b: number | undefined): number | null =>
  a && b && Number.isFinite(a) && Number.isFinite(b) ? a / b : null;

/** SkipNet-38's training images/s from the latest SP throughput result (this engine's side). */
async function trainingConsumption(warnings: string[]): Promise<CifarResult['consumption']> {
  const file = join(resultsDir, 'latest-sp-throughput.json');
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as {
      settings?: { threads?: number };
      results?: { model: string; mode: string; native?: { images_per_s?: number } | null }[];
    };
    const r = data.results?.find((x) => x.model === 'SkipNet-38' && x.mode === 'train');
    const ips = r?.native?.images_per_s;
    if (!ips) throw new Error('no SkipNet-38 train result on the native side');
    return { model: 'SkipNet-38', images_per_s: ips, threads: data.settings?.threads ?? null, file };
  } catch (e) {
    warnings.push(`no training-step consumption to compare the CIFAR pipeline with (${file}: ${(e as Error).message}); run \`npm run bench -- sp\``);
    return null;
  }
}

/** The CIFAR training pipeline as the trainer runs it: in-memory images, crop + flip into uint8 batches. */
async function measureCifar(s: Settings, warnings: string[]): Promise<CifarResult | null> {
  const root = await sharedDataset('cifar10-jpeg');
  if (!root) {
    warnings.push('CIFAR pipeline skipped: ../shared/datasets/cifar10-jpeg.tar.gz not found');
    return null;
  }
  const t0 = performance.now();
  const ds = await readImageFolder(root, 'train'); // decode cache: one file read after the first open
  const openS = (performance.now() - t0) / 1000;
  const batch = 128;
  const loader = new BatchLoader(ds, { batchSize: batch, seed: 0, augment: 'cifar', dropLast: true, prefetch: 2 });
  for (let b = 0; b < 3; b++) await loader.next();
  const t1 = performance.now();
  for (let b = 0; b < s.cifarBatches; b++) await loader.next();
  const seconds = (performance.now() - t1) / 1000;
  const ips = (s.cifarBatches * batch) / seconds;
  const consumption = await trainingConsumption(warnings);
  return {
    source: root,
    images: ds.size,
    decodedFromCache: (ds as { fromCache?: boolean }).fromCache ?? false,
    openS: Math.round(openS * 10) / 10,
    batch,
    batches: s.cifarBatches,
    augment: 'cifar',
    images_per_s: ips,
    consumption,
    ratio: consumption ? ips / consumption.images_per_s : null,
  };
}

export function render(data: ReportData): string {
  const { machine, settings: st, versions: v } = data;
  const out: string[] = [''];
  out.push(`Data pipeline throughput (${data.startedAt})`);
  out.push(
    `  CPU ${machine.cpuModel}; ${machine.logicalCpus} logical CPUs` +
      (machine.physicalCores !== null ? `, ${machine.physicalCores} physical cores` : '') +
      `; load avg at start ${machine.loadAverage.join(' ')}, at end ${data.loadAverageAtEnd.join(' ')}`,
  );
  out.push(
    `  ours: sharp ${v.sharp ?? '?'} / libvips ${v.vips ?? '?'}, UV_THREADPOOL_SIZE=${st.threads}, sharp.concurrency(1), Node ${v.node}; ` +
      `torchvision ${v.torchvision ?? '?'} (torch ${v.torch ?? '?'}, PIL ${v.pil ?? '?'}), num_workers=${st.threads}`,
  );
  out.push(
    `  RandomResizedCrop(224) + flip, batch ${st.batch}, ${st.warmupBatches} warm-up batch(es) untimed, ` +
      `median of ${st.rounds} alternating round(s)${st.quick ? ' [quick]' : ''}; ${data.durationS} s in all`,
  );
  out.push('');
  const rows: string[][] = [
    ['dataset', 'output', 'files', 'timed', 'ours img/s', 'torchvision img/s', 'ratio', 'ours CPU ms/img', 'tv CPU ms/img', 'ours warm-up s', 'tv warm-up s'],
  ];
  for (const r of data.results) {
    rows.push([
      r.dataset,
      r.output,
      String(r.images),
      String(r.samples),
      fmt(r.ours?.images_per_s),
      fmt(r.torchvision?.images_per_s),
      r.ratio === null ? '-' : r.ratio.toFixed(2),
      fmt(r.ours?.cpu_ms_per_image, 2),
      fmt(r.torchvision?.cpu_ms_per_image, 2),
      fmt(r.ours?.warmup_s, 2),
      fmt(r.torchvision?.warmup_s, 2),
    ]);
  }
  out.push(formatTable(rows, [false, false, true, true, true, true, true, true, true, true, true]));
  out.push('  ratio = ours / torchvision images per second (>1: ours is faster). float: both end in a normalised float32');
  out.push('  NCHW batch; uint8: both end in uint8 pixels (ours: the batch the trainer hands the native step).');
  out.push('  CPU ms/img: CPU time of every thread (ours) or process (torchvision: main + workers) per image, warm-up included;');
  out.push('  it depends less on other load than img/s does.');
  if (data.placements.length > 0) {
    out.push('');
    out.push('  Where ours runs the work (ImageNet sample, float):');
    const prow: string[][] = [['placement', 'img/s', 'vs loader', 'warm-up s']];
    for (const p of data.placements) {
      prow.push([p.placement, fmt(p.summary?.images_per_s), p.ratio_to_loader === null ? '-' : p.ratio_to_loader.toFixed(2), fmt(p.summary?.warmup_s, 2)]);
    }
    out.push(formatTable(prow, [false, true, true, true]).replace(/^/gm, '  '));
    out.push('  loader: the package\'s loader (native libjpeg-turbo decode + Pillow-exact resize, N threads per batch);');
    out.push('  vips: sharp, one image at a time, libvips threads inside it; workers: worker_threads running sharp.');
  }
  const c = data.cifar;
  if (c) {
    out.push('');
    out.push(
      `  CIFAR-10 training pipeline (in memory, crop 4 px padding + flip, uint8 batches of ${c.batch}): ${fmt(c.images_per_s, 0)} images/s ` +
        `on the main thread` +
        (c.consumption
          ? `; a ${c.consumption.model} training step consumes ${fmt(c.consumption.images_per_s)} images/s` +
            (c.consumption.threads !== null ? ` at ${c.consumption.threads} threads` : '') +
            ` -> ${fmt(c.ratio, 0)}x headroom`
          : ''),
    );
    out.push(`  (${c.images} images from ${c.decodedFromCache ? 'the decode cache' : 'a fresh decode'}, opened in ${c.openS} s)`);
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
    if (saved.benchmark !== 'pipeline') throw new Error(`${s.report} is not a pipeline result file`);
    process.stdout.write(render(saved));
    return;
  }
  const startedAt = new Date();
  const machine = machineInfo();
  const warnings: string[] = [];
  const versions: Record<string, string | null> = { node: process.version, sharp: null, vips: null, torch: null, torchvision: null, pil: null, python: null };
  if (s.threads > machine.availableParallelism) warnings.push(`--threads ${s.threads} exceeds the ${machine.availableParallelism} CPUs available`);

  const record = (value: OursPipelineResult | TorchPipelineResult, wallMs: number, load1: number): RunEntry => {
    if (value.side === 'ours') {
      versions.sharp ??= value.sharp;
      versions.vips ??= value.vips;
    } else {
      versions.torch ??= value.torch_version;
      versions.torchvision ??= value.torchvision_version;
      versions.pil ??= value.pil_version;
      versions.python ??= value.python;
      if (value.workers !== s.threads) warnings.push(`torchvision ran with ${value.workers} workers, not ${s.threads}`);
    }
    return {
      images_per_s: value.images_per_s,
      ms_per_batch: value.ms_per_batch,
      warmup_s: value.warmup_s,
      max_rss_mb: value.max_rss_mb ?? null,
      cpu_ms_per_image: value.cpu_ms_per_image ?? null,
      wall_s: Math.round(wallMs / 100) / 10,
      load1_before: load1,
    };
  };

  const results: PairResult[] = [];
  const placements: PlacementResult[] = [];
  const roots: Partial<Record<DatasetName, string>> = {};
  for (const name of s.datasets) {
    const d = DATASETS[name];
    const extracted = await sharedDataset(d.archive);
    if (!extracted) {
      warnings.push(`${name} skipped: ../shared/datasets/${d.archive}.tar.gz not found`);
      continue;
    }
    const root = d.sub ? join(extracted, d.sub) : extracted;
    roots[name] = root;
    const images = s.images ?? (s.quick ? d.quickImages : d.images);
    const samples = s.samples ?? (s.quick ? d.quickSamples : d.samples);
    for (const output of s.outputs) {
      const runs: Record<Side, RunEntry[]> = { ours: [], torchvision: [] };
      const errors: Partial<Record<Side, string>> = {};
      for (let round = 0; round < s.rounds; round++) {
        for (const side of s.sides) {
          if (errors[side]) continue;
          try {
            const load1 = Math.round(os.loadavg()[0]! * 100) / 100;
            const { value, wallMs } = await measure(side, s, { root, images, samples, output, placement: 'loader' });
            runs[side].push(record(value, wallMs, load1));
            log(`${name} ${output} round ${round + 1}/${s.rounds} ${side.padEnd(11)} ${fmt(value.images_per_s)} img/s (warm-up ${fmt(value.warmup_s, 2)} s, load ${load1})`);
          } catch (err) {
            errors[side] = err instanceof Error ? err.message : String(err);
            warnings.push(`${side} ${name} ${output} failed: ${errors[side]!.split('\n')[0]}`);
            log(`${name} ${output} ${side} FAILED:\n${errors[side]}`);
          }
        }
      }
      const side = (x: Side): SideSummary | null => {
        const r = summarise(s.batch, runs[x]);
        return errors[x] ? ({ ...(r ?? { runs: [] }), error: errors[x] } as SideSummary) : r;
      };
      const ours = side('ours');
      const tv = side('torchvision');
      results.push({ dataset: name, root, output, images, samples, ours, torchvision: tv, ratio: ratioOf(ours?.images_per_s, tv?.images_per_s) });
    }
  }

  // Placement study: ours only, ImageNet sample, float output.
  const sampleRoot = roots['imagenet-sample'] ?? (s.placements.length > 0 ? await sharedDataset('imagenet-sample-100') : null);
  if (s.placements.length > 0 && sampleRoot && s.sides.includes('ours')) {
    const d = DATASETS['imagenet-sample'];
    const images = s.images ?? d.images;
    const samples = s.samples ?? d.samples;
    const runs = new Map<Placement, RunEntry[]>(s.placements.map((p) => [p, []]));
    const reuse = results.find((r) => r.dataset === 'imagenet-sample' && r.output === 'float' && r.ours && !r.ours.error);
    for (let round = 0; round < s.rounds; round++) {
      for (const placement of s.placements) {
        if (placement === 'loader' && reuse) continue; // measured above
        try {
          const load1 = Math.round(os.loadavg()[0]! * 100) / 100;
          const { value, wallMs } = await measure('ours', s, { root: sampleRoot, images, samples, output: 'float', placement });
          runs.get(placement)!.push(record(value, wallMs, load1));
          log(`placement ${placement} round ${round + 1}/${s.rounds} ${fmt(value.images_per_s)} img/s (load ${load1})`);
        } catch (err) {
          warnings.push(`placement ${placement} failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
        }
      }
    }
    const pool = reuse?.ours ?? summarise(s.batch, runs.get('loader') ?? []);
    for (const placement of s.placements) {
      const summary = placement === 'loader' ? pool : summarise(s.batch, runs.get(placement)!);
      placements.push({ dataset: 'imagenet-sample', placement, output: 'float', summary, ratio_to_loader: ratioOf(summary?.images_per_s, pool?.images_per_s) });
    }
  }

  const cifar = s.cifarBatches > 0 ? await measureCifar(s, warnings) : null;
  if (cifar) log(`CIFAR pipeline ${fmt(cifar.images_per_s, 0)} img/s (ratio to training ${fmt(cifar.ratio, 0)})`);

  const finishedAt = new Date();
  const loadAtEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);
  // Only the load before the first measurement says something about other work: during the
  // run the benchmark's own threads (N decode threads, libvips helpers, main threads) count too.
  if (machine.loadAverage[0]! > 0.5 * machine.availableParallelism) {
    warnings.push(
      `the machine was busy before the run (1-min load ${machine.loadAverage[0]}, ${machine.availableParallelism} CPUs): ` +
        'absolute numbers are unreliable, the alternating ratios and CPU ms/img less so',
    );
  }
  const data: ReportData = {
    benchmark: 'pipeline',
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    machine,
    loadAverageAtEnd: loadAtEnd,
    versions,
    settings: {
      quick: s.quick,
      threads: s.threads,
      ours: { decodeThreads: s.threads, uvThreadpoolSize: s.threads, inFlight: 2 * s.threads, prefetchBatches: 2, interpolation: 'Pillow bilinear (native, bit-identical)' },
      torchvision: { numWorkers: s.threads, interpolation: 'PIL bilinear', python: s.python },
      transform: { crop: 224, scale: [0.08, 1], ratio: [3 / 4, 4 / 3], flip: 0.5, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      batch: s.batch,
      warmupBatches: s.warmup,
      rounds: s.rounds,
      datasets: s.datasets,
      outputs: s.outputs,
      placements: s.placements,
      sides: s.sides,
      cifarBatches: s.cifarBatches,
    },
    results,
    placements,
    cifar,
    warnings,
  };
  process.stdout.write(render(data));
  if (s.write) {
    const file = await writeResults('pipeline', data, startedAt, s.out);
    process.stdout.write(`\n  results: ${file}\n`);
  }
  if (results.some((r) => r.ours?.error || r.torchvision?.error)) process.exitCode = 1;
}

const mod: BenchModule = { description, usage, run };
export default mod;
