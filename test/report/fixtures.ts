// Hand-written run folders for the report tests: an SP run, an HRL run started from its
// `last/` checkpoint (still running: no summary.json, a torn last metrics line) with a
// full eval/ folder, and a plain ResNet. The HRL run's eval.json points at a tiny
// synthetic test set, so the easy/hard figure has real pixels to show.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const GATED = 8; // SkipNet-20: 9 blocks, 8 gates
export const SYNTHETIC = { kind: 'synthetic', size: 8, testSize: 40, height: 8, width: 8, channels: 3, numClasses: 4 } as const;
export const FULL_MACS = 40_000_000;

type Json = Record<string, unknown>;

function config(over: { stage: 'sp' | 'hrl'; gate: string; outDir: string; init?: string; alpha?: number }): Json {
  return {
    stage: over.stage,
    hrl: { alpha: over.alpha ?? 0.1, beta: 1, gamma: 1, rlWeight: 0.01, reduction: 'sum', baseline: 'none', baselineMomentum: 0.9, sharpen: 1 },
    ...(over.init ? { init: over.init } : {}),
    model: { arch: 'cifar', depth: 20, gate: over.gate, gateMode: 'hard' },
    data: { source: SYNTHETIC, augment: 'none', normalization: 'auto', batchSize: 16, evalBatchSize: 40 },
    optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 0.0001, nesterov: false },
    schedule: { kind: 'cosine', steps: 100, milestones: [32000, 48000], gamma: 0.1, warmupSteps: 0, warmup: 'linear', warmupLr: 0 },
    evalEvery: 50,
    logEvery: 10,
    threshold: 0.5,
    device: 'cpu',
    threads: 1,
    seed: 0,
    outDir: over.outDir,
  };
}

function rates(p: number, m = GATED): number[] {
  return Array.from({ length: m }, (_, i) => Math.min(1, Math.max(0, p + 0.05 * (i - m / 2))));
}

function cpOf(r: number[]): number {
  return (100 * (1 + r.reduce((a, b) => a + b, 0))) / (r.length + 1);
}

function trainLine(step: number, steps: number, gated: boolean, p: number, shift = 0): Json {
  return {
    type: 'train', step, steps, lr: 0.1 * (1 - step / (steps + 1)), loss: 2.2 - step / 100 - shift / 40, acc: 20 + step / 2 + shift,
    gateExecRates: gated ? rates(p) : [], imgPerSec: 100, dataWaitMs: 0.1, elapsedSeconds: step * 0.5,
  };
}

function evalLine(step: number, steps: number, top1: number, gated: boolean, p: number): Json {
  const r = gated ? rates(p) : [];
  const cp = cpOf(r);
  return {
    type: 'eval', step, steps, n: 40, loss: 2 - step / 100, top1, top5: 99, gateExecRates: r, cp, flopsReduction: 100 - cp,
    macsPerImage: { mean: (FULL_MACS * cp) / 100, min: 1e7, p50: (FULL_MACS * cp) / 100, max: FULL_MACS },
    fullMacs: FULL_MACS, macsPercentOfFull: cp, best: true, seconds: 1,
  };
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(value, null, 2) + '\n');
}

async function writeLines(file: string, lines: unknown[], tail = ''): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n' + tail);
}

export interface FixtureRuns {
  root: string;
  sp: string;
  hrl: string;
  plain: string;
}

/** SP run: 100 steps, evaluated at 50 and 100, finished (summary.json, last/state.json). */
async function writeSpRun(dir: string): Promise<void> {
  await writeJson(path.join(dir, 'config.json'), config({ stage: 'sp', gate: 'rnn', outDir: 'runs/sp' }));
  const lines: Json[] = [];
  for (let s = 10; s <= 100; s += 10) {
    lines.push(trainLine(s, 100, true, 0.9 - s / 500));
    if (s % 50 === 0) lines.push(evalLine(s, 100, s === 50 ? 60 : 80, true, 0.9 - s / 500));
  }
  await writeLines(path.join(dir, 'metrics.jsonl'), lines);
  const last = evalLine(100, 100, 80, true, 0.7);
  await writeJson(path.join(dir, 'summary.json'), { ...last, type: undefined, steps: 100, wallSeconds: 61.5, bestTop1: 80 });
  await writeJson(path.join(dir, 'last', 'state.json'), { version: 1, step: 100 });
}

/** HRL run from sp/last, 60 steps so far; eval/ written by `skipnet eval --out --sweep`. */
async function writeHrlRun(dir: string, evalSource: unknown): Promise<void> {
  await writeJson(path.join(dir, 'config.json'), config({ stage: 'hrl', gate: 'rnn', outDir: 'runs/hrl', init: 'runs/sp/last', alpha: 0.5 }));
  const lines: Json[] = [];
  for (let s = 10; s <= 60; s += 10) {
    lines.push(trainLine(s, 100, true, 0.6 - s / 500));
    if (s === 30) lines.push({ type: 'checkpoint', step: 30, name: 'last' }); // an unknown type: ignored
  }
  lines.push(evalLine(60, 100, 75, true, 0.5));
  await writeLines(path.join(dir, 'metrics.jsonl'), lines, '{"type":"train","step":70,"lo'); // being written

  const n = SYNTHETIC.testSize;
  const routing = Array.from({ length: n }, (_, i) => {
    const executed = Array.from({ length: GATED }, (_, g) => ((i * 7 + g * 3) % 5 < 2 + (i % 3) ? '1' : '0')).join('');
    const blocks = 1 + [...executed].filter((c) => c === '1').length;
    const label = i % 4;
    const pred = i % 5 === 0 ? (label + 1) % 4 : label;
    return { i, label, pred, correct: pred === label, blocks, executed, macs: 5e6 * blocks };
  });
  const gateExecRates = Array.from({ length: GATED }, (_, g) => routing.filter((r) => r.executed[g] === '1').length / n);
  const cp = cpOf(gateExecRates);
  const macs = routing.map((r) => r.macs);
  const blocksHistogram = Array.from({ length: GATED + 2 }, (_, k) => routing.filter((r) => r.blocks === k).length);
  const lo = Math.min(...macs);
  const hi = Math.max(...macs);
  const bins = 10;
  const edges = Array.from({ length: bins + 1 }, (_, k) => lo + ((hi - lo) * k) / bins);
  const counts = new Array(bins).fill(0);
  for (const m of macs) counts[Math.min(bins - 1, Math.floor(((m - lo) / (hi - lo)) * bins))]++;
  const mean = macs.reduce((a, b) => a + b, 0) / n;
  await writeJson(path.join(dir, 'eval', 'eval.json'), {
    checkpoint: path.join(dir, 'last'), step: 60, dataset: 'synthetic-test', threshold: 0.5, n, loss: 0.9,
    top1: 77.5, top5: 100, gateExecRates, cp, flopsReduction: 100 - cp,
    macsPerImage: { mean, min: lo, p50: mean, max: hi }, fullMacs: FULL_MACS, macsPercentOfFull: (100 * mean) / FULL_MACS,
    macsHistogram: { edges, counts }, blocksHistogram,
    perClass: [0, 1, 2, 3].map((label) => ({ label, name: `class${label}`, n: 10, top1: 80, cp, macsMean: mean })),
    source: evalSource,
  });
  await writeLines(path.join(dir, 'eval', 'routing.jsonl'), routing);
  await writeJson(path.join(dir, 'eval', 'sweep.json'), {
    points: [0.7, 0.3, 0.5].map((t) => ({ threshold: t, top1: 70 + 10 * (0.7 - t), top5: 100, cp: cp + 40 * (0.5 - t), flopsReduction: 100 - cp - 40 * (0.5 - t), macsMean: mean * (1 + (0.5 - t)) })),
  });
}

/** Plain ResNet-20: no gates, finished. */
async function writePlainRun(dir: string): Promise<void> {
  await writeJson(path.join(dir, 'config.json'), config({ stage: 'sp', gate: 'none', outDir: 'runs/plain' }));
  const lines: Json[] = [];
  for (let s = 10; s <= 100; s += 10) lines.push(trainLine(s, 100, false, 0, 6));
  lines.push(evalLine(100, 100, 82, false, 0));
  await writeLines(path.join(dir, 'metrics.jsonl'), lines);
  const { type: _type, ...last } = evalLine(100, 100, 82, false, 0);
  await writeJson(path.join(dir, 'summary.json'), { ...last, steps: 100, wallSeconds: 40 });
}

/** The three runs under `<root>/runs/`, as `skipnet train --out runs/<name>` run from `<root>` leaves them. */
export async function writeFixtureRuns(root: string, opts: { evalSource?: unknown } = {}): Promise<FixtureRuns> {
  const runs = { root, sp: path.join(root, 'runs', 'sp'), hrl: path.join(root, 'runs', 'hrl'), plain: path.join(root, 'runs', 'plain') };
  await writeSpRun(runs.sp);
  await writeHrlRun(runs.hrl, opts.evalSource ?? SYNTHETIC);
  await writePlainRun(runs.plain);
  return runs;
}

/** A tiny RFC 4180 reader for the tests (the report's fields have no embedded newlines). */
export function parseCsv(text: string): Array<Record<string, string>> {
  const [head, ...rows] = text.trim().split('\n').map((line) => {
    const cells: string[] = [];
    let cur = '';
    let quoted = false;
    for (let k = 0; k < line.length; k++) {
      const c = line[k]!;
      if (quoted) {
        if (c === '"' && line[k + 1] === '"') (cur += '"'), k++;
        else if (c === '"') quoted = false;
        else cur += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') cells.push(cur), (cur = '');
      else cur += c;
    }
    cells.push(cur);
    return cells;
  });
  return rows.map((r) => Object.fromEntries(head!.map((h, k) => [h, r[k] ?? ''])));
}
