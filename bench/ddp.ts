// Data-parallel scaling on this machine: SP training samples/s of one process against N
// processes (ranks over Gloo on 127.0.0.1, started by lib/distributed/launcher.ts, as
// `skipnet launch` does), at the same global batch.
//
// Four configurations, alternated round by round so background load falls on each alike:
//   1 x T  one process using every core (T = cores): what a plain run gets;
//   1 x t  one process with the threads one rank gets (t = cores / N): the per-rank baseline;
//   N x t  N ranks of t threads each, global batch split evenly, all-reduce overlapped with
//          backward, and the same without overlap (all-reduce after backward).
// Each measurement's rate comes from its median step time (this VM's CPU steal slows a few
// steps now and then), and the median over rounds is reported.
// Reported: speed-up of N x t over 1 x T, and scaling efficiency (N x t) / (N * (1 x t)),
// i.e. how much of N independent processes' throughput survives the gradient all-reduce and
// the smaller per-rank batch. Each measurement is its own process (bench/ddp-worker.ts).
import os from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { launch } from '../lib/distributed/launcher.js';
import type { DdpWorkerResult } from './ddp-worker.js';
import { type BenchModule, benchDir, fmt, formatTable, machineInfo, median, positiveInt, runJsonChild, writeResults } from './common.js';

const description = 'data-parallel SP training: samples/s and scaling efficiency of 1 vs N processes (Gloo, this machine)';
const usage = `npm run bench -- ddp [flags]

  --procs N             ranks of the data-parallel run (default 2)
  --threads N           threads of the single all-cores process (default os.availableParallelism() = ${os.availableParallelism()})
  --threads-per-proc N  threads of each rank and of the per-rank baseline (default threads / procs, at least 1)
  --depth D             SkipNet depth, cifar 6n+2 (default 38)
  --batch B             global batch (default 128; must split over the ranks)
  --steps N             timed steps per measurement (default 10)
  --warmup N            untimed steps first (default 3)
  --rounds N            alternations of the four configurations; medians reported (default 3)
  --quick               smoke run: depth 8, batch 16, 3 steps, 1 warm-up, 1 round
  --no-write            do not write bench/results/*.json
  --out DIR             results folder (default bench/results)`;

interface Measurement {
  label: string;
  procs: number;
  threads: number;
  overlap: boolean;
  runs: DdpWorkerResult[];
  images_per_s: number; // median over rounds
  ms_per_step: number;
  error?: string;
}

function workerArgs(s: Settings, threads: number, overlap = true): string[] {
  const args = ['--import', 'tsx', join(benchDir, 'ddp-worker.ts'), '--depth', String(s.depth), '--batch', String(s.batch), '--threads', String(threads), '--steps', String(s.steps), '--warmup', String(s.warmup)];
  return overlap ? args : [...args, '--no-overlap'];
}

async function single(s: Settings, threads: number): Promise<DdpWorkerResult> {
  const env = { ...process.env };
  for (const k of ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
  return (await runJsonChild<DdpWorkerResult>(process.execPath, workerArgs(s, threads), { label: `1 x ${threads}`, env })).value;
}

async function group(s: Settings, overlap: boolean): Promise<DdpWorkerResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const r = await launch({ nprocPerNode: s.procs, command: process.execPath, args: workerArgs(s, s.threadsPerProc, overlap), stdout: out, stderr: err, forwardSignals: true });
  const line = stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.exitCode !== 0 || !line) throw new Error(`${s.procs} x ${s.threadsPerProc}: exit ${r.exitCode}\n${stderr.trim().split('\n').slice(-15).join('\n')}`);
  return JSON.parse(line) as DdpWorkerResult;
}

type Settings = ReturnType<typeof parse>;

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      procs: { type: 'string' },
      threads: { type: 'string' },
      'threads-per-proc': { type: 'string' },
      depth: { type: 'string' },
      batch: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`ddp: unexpected argument(s) ${positionals.join(' ')}`);
  const quick = values.quick!;
  const procs = positiveInt('procs', values.procs, 2, 2);
  const threads = positiveInt('threads', values.threads, os.availableParallelism());
  const depth = positiveInt('depth', values.depth, quick ? 8 : 38, 8);
  if ((depth - 2) % 6 !== 0) throw new Error(`--depth ${depth} is not a cifar depth 6n+2`);
  const batch = positiveInt('batch', values.batch, quick ? 16 : 128);
  if (batch % procs !== 0) throw new Error(`--batch ${batch} must split evenly over ${procs} ranks`);
  return {
    help: values.help!,
    quick,
    procs,
    threads,
    threadsPerProc: positiveInt('threads-per-proc', values['threads-per-proc'], Math.max(1, Math.floor(threads / procs))),
    depth,
    batch,
    steps: positiveInt('steps', values.steps, quick ? 3 : 10),
    warmup: positiveInt('warmup', values.warmup, quick ? 1 : 3, 0),
    rounds: positiveInt('rounds', values.rounds, quick ? 1 : 3),
    write: !values['no-write'],
    out: values.out,
  };
}

async function run(argv: string[]): Promise<void> {
  const s = parse(argv);
  if (s.help) {
    process.stdout.write(usage + '\n');
    return;
  }
  const startedAt = new Date();
  const machine = machineInfo();
  const configs: Measurement[] = [
    { label: `1 process x ${s.threads} threads`, procs: 1, threads: s.threads, overlap: false, runs: [], images_per_s: NaN, ms_per_step: NaN },
    { label: `1 process x ${s.threadsPerProc} thread(s)`, procs: 1, threads: s.threadsPerProc, overlap: false, runs: [], images_per_s: NaN, ms_per_step: NaN },
    { label: `${s.procs} ranks x ${s.threadsPerProc} thread(s)`, procs: s.procs, threads: s.threadsPerProc, overlap: true, runs: [], images_per_s: NaN, ms_per_step: NaN },
    { label: `${s.procs} ranks x ${s.threadsPerProc}, no overlap`, procs: s.procs, threads: s.threadsPerProc, overlap: false, runs: [], images_per_s: NaN, ms_per_step: NaN },
  ];
  process.stdout.write(
    `ddp: SkipNet-${s.depth} (rnn gate) SP training, global batch ${s.batch}, ${s.steps} timed steps after ${s.warmup}, ` +
      `${s.rounds} round(s); ${machine.cpuModel}, ${machine.availableParallelism} CPUs, load ${machine.loadAverage.join(' ')}\n`,
  );
  for (let round = 0; round < s.rounds; round++) {
    for (const c of configs) {
      if (c.error) continue;
      try {
        const r = c.procs === 1 ? await single(s, c.threads) : await group(s, c.overlap);
        c.runs.push(r);
        process.stdout.write(`  round ${round + 1}: ${c.label.padEnd(30)} ${fmt(r.images_per_s)} images/s (${fmt(r.ms_per_step)} ms/step)\n`);
      } catch (e) {
        c.error = (e as Error).message;
        process.stdout.write(`  ${c.label}: failed: ${c.error}\n`);
      }
    }
  }
  for (const c of configs) {
    c.images_per_s = median(c.runs.map((r) => r.images_per_s));
    c.ms_per_step = median(c.runs.map((r) => r.ms_per_step));
  }
  const [all, perRank, ddp, noOverlap] = configs as [Measurement, Measurement, Measurement, Measurement];
  const speedup = ddp.images_per_s / all.images_per_s;
  const efficiency = ddp.images_per_s / (s.procs * perRank.images_per_s);
  const rows = [['configuration', 'images/s', 'ms/step', 'vs 1 x all threads']];
  for (const c of configs) rows.push([c.label, fmt(c.images_per_s), fmt(c.ms_per_step), fmt(c.images_per_s / all.images_per_s, 2)]);
  process.stdout.write(`\n${formatTable(rows, [false, true, true, true])}\n\n`);
  process.stdout.write(`  speed-up of ${s.procs} ranks over one all-threads process: ${fmt(speedup, 2)}x\n`);
  process.stdout.write(`  scaling efficiency (${s.procs} ranks / ${s.procs} x one ${s.threadsPerProc}-thread process): ${fmt(100 * efficiency)} %\n`);
  const allreduceMs = median(ddp.runs.map((r) => r.allreduce_ms ?? NaN).filter(Number.isFinite));
  const gradientMb = ddp.runs[0]?.gradient_mb ?? NaN;
  process.stdout.write(
    `  one all-reduce of the ${fmt(gradientMb, 2)} MB gradient: ${fmt(allreduceMs, 2)} ms = ${fmt((100 * allreduceMs) / ddp.ms_per_step, 2)} % of a step ` +
      `(the most that overlapping it with backward could save)\n`,
  );
  process.stdout.write(`  overlap with backward: ${fmt(100 * (ddp.images_per_s / noOverlap.images_per_s - 1), 1)} % more images/s than all-reducing after it\n`);
  const data = {
    benchmark: 'ddp',
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    loadAverageAtEnd: os.loadavg().map((v) => Math.round(v * 100) / 100),
    settings: { ...s, help: undefined, gate: 'rnn', backend: 'gloo', transport: 'tcp 127.0.0.1', optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 } },
    results: configs,
    summary: { speedup, efficiency, allreduceMs, gradientMb, allreduceShareOfStep: allreduceMs / ddp.ms_per_step, overlapGain: ddp.images_per_s / noOverlap.images_per_s - 1 },
  };
  if (s.write) process.stdout.write(`\n  results: ${await writeResults('ddp', data, startedAt, s.out)}\n`);
  if (configs.some((c) => c.error)) process.exitCode = 1;
}

const mod: BenchModule = { description, usage, run };
export default mod;
