// This package's ImageNet training pipeline, measured in a process of its own: encoded image
// files -> RandomResizedCrop(224) + horizontal flip (lib/data/encoded.ts)
// -> a batch of uint8 NHWC (what the trainer hands the native step), or, with --output float,
// also normalised into a float32 NCHW batch on the main thread (what torchvision's DataLoader
// returns). The counterpart of bench/pytorch/pipeline_torch.py; bench/pipeline.ts runs both.
//
//   UV_THREADPOOL_SIZE=2 node --import tsx bench/pipeline-ours.ts --root DIR --images 100 \
//       --batch 64 --samples 1024 --warmup 2 --threads 2 --output float --placement loader
//       [--in-flight N]   (files read at once; default 2N, the package's default for pool N)
//
// Placements (where the decoding runs), all with --threads N CPUs' worth of decode threads:
//   loader   the package's loader: files read on libuv's pool, then each batch's JPEGs decoded
//            and resized in one native call on N threads (lib/data/jpeg-batch.ts);
//   sharp    the loader with decoder 'sharp' (what it did before the native path): sharp
//            calls from the main thread, libuv's pool of N threads (UV_THREADPOOL_SIZE=N, set
//            by the parent), one libvips thread per image, 2N images in flight;
//   vips     sharp, one image at a time, parallel inside libvips (sharp.concurrency(N));
//   workers  N worker_threads, each reading, decoding (sharp) and normalising its images,
//            two in flight per worker; results are transferred to the main thread.
// Prints one JSON line.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { EncodedImageDataset } from '../lib/data/encoded.js';
import { listEncodedFolder } from '../lib/data/encoded-folder.js';
import { BatchLoader } from '../lib/data/loader.js';
import { mixSeed } from '../lib/data/rng.js';
import type { EncodedImageSource } from '../lib/data/types.js';
import { normaliseInto } from './normalise.js';

export type Placement = 'loader' | 'sharp' | 'vips' | 'workers';
export type Output = 'uint8' | 'float';

export interface OursPipelineResult {
  side: 'ours';
  placement: Placement;
  output: Output;
  threads: number;
  uv_threadpool_size: number;
  sharp_concurrency: number;
  in_flight: number;
  batch: number;
  images: number; // distinct files in the subset
  warmup_batches: number;
  timed_images: number;
  images_per_s: number;
  ms_per_batch: number;
  warmup_s: number; // from asking for the first batch to receiving the last warm-up batch
  max_rss_mb: number;
  main_cpu_s: number; // CPU time of the whole process during the timed part (all threads)
  // CPU time of the process (all threads) from the first batch asked to the last one received,
  // per image consumed (warm-up included; batches still in flight at the end count against it),
  // as pipeline_torch.py's
  cpu_ms_per_image: number;
  sharp: string;
  vips: string;
  node: string;
}

/** n indices spread evenly over 0..size-1 (k * size / n, floored): the same subset torchvision's side takes. */
export function evenIndices(size: number, n: number): number[] {
  const m = Math.min(size, n);
  return Array.from({ length: m }, (_, k) => Math.floor((k * size) / m));
}

function subset(src: EncodedImageSource, idx: number[]): EncodedImageSource {
  const labels = Int32Array.from(idx, (i) => src.labels[i]);
  return {
    name: `${src.name}-subset${idx.length}`,
    size: idx.length,
    numClasses: src.numClasses,
    classNames: src.classNames,
    labels,
    filePath: (i) => src.filePath(idx[i]),
  };
}

interface Args {
  root: string;
  images: number;
  batch: number;
  samples: number;
  warmup: number;
  threads: number;
  output: Output;
  placement: Placement;
  seed: number;
  inFlight: number | null;
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      root: { type: 'string' },
      images: { type: 'string', default: '1000000000' },
      batch: { type: 'string', default: '64' },
      samples: { type: 'string', default: '1024' },
      warmup: { type: 'string', default: '2' },
      threads: { type: 'string', default: String(os.availableParallelism()) },
      output: { type: 'string', default: 'float' },
      placement: { type: 'string', default: 'loader' },
      seed: { type: 'string', default: '0' },
      'in-flight': { type: 'string' },
    },
    strict: true,
  });
  if (!values.root) throw new Error('pipeline-ours: --root is required');
  const int = (k: string, v: string, min: number) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new Error(`pipeline-ours: --${k} must be an integer >= ${min}, got '${v}'`);
    return x;
  };
  const output = values.output as Output;
  const placement = values.placement as Placement;
  if (output !== 'uint8' && output !== 'float') throw new Error(`pipeline-ours: --output takes uint8 or float`);
  if (!['loader', 'sharp', 'vips', 'workers'].includes(placement)) throw new Error('pipeline-ours: --placement takes loader, sharp, vips or workers');
  return {
    root: values.root,
    images: int('images', values.images!, 1),
    batch: int('batch', values.batch!, 1),
    samples: int('samples', values.samples!, 1),
    warmup: int('warmup', values.warmup!, 0),
    threads: int('threads', values.threads!, 1),
    output,
    placement,
    seed: int('seed', values.seed!, 0),
    inFlight: values['in-flight'] === undefined ? null : int('in-flight', values['in-flight'], 1),
  };
}

const CROP = 224;
const IMAGE_BYTES = CROP * CROP * 3;

/** Consumes batches until warmup + timed ones are done; returns timing. */
async function timeBatches(args: Args, nextBatch: () => Promise<unknown>) {
  const timedBatches = Math.max(1, Math.floor(args.samples / args.batch));
  const cpuAll = process.cpuUsage();
  const start = performance.now();
  for (let b = 0; b < args.warmup; b++) await nextBatch();
  const warmupS = args.warmup > 0 ? (performance.now() - start) / 1000 : NaN;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let b = 0; b < timedBatches; b++) await nextBatch();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const all = process.cpuUsage(cpuAll);
  const cpuMsPerImage = (all.user + all.system) / 1000 / ((args.warmup + timedBatches) * args.batch);
  return { timedBatches, seconds, warmupS, cpuS: (cpu.user + cpu.system) / 1e6, cpuMsPerImage };
}

async function runLoader(args: Args, src: EncodedImageSource, inFlight: number) {
  const decoder = args.placement === 'loader' ? 'auto' : 'sharp';
  const ds = new EncodedImageDataset(src, { concurrency: inFlight, decodeThreads: args.threads, decoder });
  const loader = new BatchLoader(ds, { batchSize: args.batch, seed: args.seed, augment: 'imagenet', dropLast: true, prefetch: 2 });
  const floats = args.output === 'float' ? new Float32Array(args.batch * IMAGE_BYTES) : null;
  return timeBatches(args, async () => {
    const b = await loader.next();
    if (floats) normaliseInto(b.images, b.n, b.height, b.width, floats);
  });
}

/** The worker_threads placement: a continuous stream of samples, batches completed in order. */
async function runWorkers(args: Args, src: EncodedImageSource) {
  const url = new URL('./pipeline-thread.ts', import.meta.url).href;
  // tsx's loader hooks do not reach worker threads; register them inside each worker.
  const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  const workers = Array.from({ length: args.threads }, () => new Worker(code, { eval: true }));
  const perWorker = 2;
  // The same permutations and per-sample seeds as the loader.
  const loader = new BatchLoader(new EncodedImageDataset(src), { batchSize: args.batch, seed: args.seed, augment: 'imagenet', dropLast: true });
  const perEpoch = loader.batchesPerEpoch;
  const bytesPer = args.output === 'float' ? IMAGE_BYTES * 4 : IMAGE_BYTES;
  let nextSample = 0;
  let consumed = 0; // batches handed to the consumer
  const open = new Map<number, { buf: Uint8Array; done: number; resolve?: () => void; finished: Promise<void> }>();
  const batchOf = (b: number) => {
    let e = open.get(b);
    if (!e) {
      let resolve!: () => void;
      const finished = new Promise<void>((r) => (resolve = r));
      e = { buf: new Uint8Array(args.batch * bytesPer), done: 0, resolve, finished };
      open.set(b, e);
    }
    return e;
  };
  const totalBatches = args.warmup + Math.max(1, Math.floor(args.samples / args.batch));
  const inFlight = new Array<number>(workers.length).fill(0);
  let failure: Error | null = null;
  const dispatch = (w: number): void => {
    // Like the loader's prefetch of 2: samples of at most 3 batches past the consumer are in work.
    const limit = Math.min(totalBatches, consumed + 3) * args.batch;
    while (inFlight[w] < perWorker && nextSample < limit) {
      const s = nextSample++;
      const b = Math.floor(s / args.batch);
      const k = s % args.batch;
      const epoch = Math.floor(b / perEpoch);
      const i = loader.epochIndices(epoch)[(b % perEpoch) * args.batch + k];
      batchOf(b);
      inFlight[w]++;
      workers[w].postMessage({ s, file: src.filePath(i), seed: mixSeed(args.seed, 0xa06, epoch, 0, b % perEpoch, k), float: args.output === 'float' });
    }
  };
  workers.forEach((worker, w) => {
    worker.on('message', (m: { s: number; data?: ArrayBuffer; error?: string }) => {
      inFlight[w]--;
      if (m.error) failure ??= new Error(m.error);
      const b = Math.floor(m.s / args.batch);
      const e = batchOf(b);
      if (m.data) e.buf.set(new Uint8Array(m.data), (m.s % args.batch) * bytesPer);
      if (++e.done === args.batch) e.resolve!();
      dispatch(w);
    });
    worker.on('error', (err) => {
      failure ??= err;
      for (const e of open.values()) e.resolve!(); // wake the consumer, which then throws
    });
  });
  workers.forEach((_, w) => dispatch(w));
  try {
    return await timeBatches(args, async () => {
      const e = batchOf(consumed);
      await e.finished;
      if (failure) throw failure;
      open.delete(consumed++);
      workers.forEach((_, w) => dispatch(w));
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export async function measure(args: Args): Promise<OursPipelineResult> {
  const uv = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  sharp.concurrency(args.placement === 'vips' ? args.threads : 1);
  const listed = await listEncodedFolder(args.root);
  const src = subset(listed, evenIndices(listed.size, args.images));
  // Read each file once up front so that every placement (and torchvision) starts from the page cache.
  for (let i = 0; i < src.size; i++) readFileSync(src.filePath(i));
  const inFlight = args.inFlight ?? (args.placement === 'vips' ? 1 : args.placement === 'workers' ? 2 * args.threads : 2 * uv);
  const t = args.placement === 'workers' ? await runWorkers(args, src) : await runLoader(args, src, inFlight);
  const timed = t.timedBatches * args.batch;
  return {
    side: 'ours',
    placement: args.placement,
    output: args.output,
    threads: args.threads,
    uv_threadpool_size: uv,
    sharp_concurrency: sharp.concurrency(),
    in_flight: inFlight,
    batch: args.batch,
    images: src.size,
    warmup_batches: args.warmup,
    timed_images: timed,
    images_per_s: timed / t.seconds,
    ms_per_batch: (1000 * t.seconds) / t.timedBatches,
    warmup_s: t.warmupS,
    max_rss_mb: process.resourceUsage().maxRSS / 1024,
    main_cpu_s: t.cpuS,
    cpu_ms_per_image: t.cpuMsPerImage,
    sharp: sharp.versions.sharp ?? '?',
    vips: sharp.versions.vips,
    node: process.version,
  };
}

if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  measure(parse(process.argv.slice(2)))
    .then((r) => process.stdout.write(JSON.stringify(r) + '\n'))
    .catch((err: unknown) => {
      process.stderr.write(`pipeline-ours: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
}
