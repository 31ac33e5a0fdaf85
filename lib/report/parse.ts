// Raw JSON (config.json, metrics.jsonl lines, summary.json, eval/*) to the report's
// typed views. Nothing here throws on an odd value: a field of the wrong type reads as
// absent, so files from older or newer versions still give whatever they can.

import type { MacsStats } from '../train/metrics.js';
import type { ClassResult, EvalFile, EvalPoint, RoutingRecord, RunConfigView, SweepPoint, TrainPoint } from './types.js';

type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function numArray(v: unknown): number[] {
  return Array.isArray(v) ? v.map((x) => num(x) ?? 0) : [];
}

function field(o: unknown, key: string): unknown {
  return isObject(o) ? o[key] : undefined;
}

function macsStats(v: unknown): MacsStats | null {
  const mean = num(field(v, 'mean'));
  if (mean === null) return null;
  return { mean, min: num(field(v, 'min')) ?? mean, p50: num(field(v, 'p50')) ?? mean, max: num(field(v, 'max')) ?? mean };
}

export function parseConfig(raw: Obj): RunConfigView {
  const model = field(raw, 'model');
  const stage = field(raw, 'stage') === 'hrl' ? 'hrl' : 'sp';
  return {
    stage,
    alpha: num(field(field(raw, 'hrl'), 'alpha')),
    init: str(field(raw, 'init')),
    arch: str(field(model, 'arch')) ?? 'cifar',
    depth: num(field(model, 'depth')) ?? 0,
    gate: str(field(model, 'gate')) ?? 'rnn',
    threshold: num(field(raw, 'threshold')) ?? 0.5,
    source: field(field(raw, 'data'), 'source') ?? null,
    outDir: str(field(raw, 'outDir')),
    raw,
  };
}

export function parseTrainLine(o: Obj): TrainPoint | null {
  const step = num(o.step);
  if (step === null) return null;
  return {
    step,
    lr: num(o.lr),
    loss: num(o.loss),
    acc: num(o.acc),
    gateExecRates: numArray(o.gateExecRates),
    imgPerSec: num(o.imgPerSec),
    elapsedSeconds: num(o.elapsedSeconds),
  };
}

/** An 'eval' line, summary.json or eval.json: the same metric names in all three. */
export function parseEvalPoint(o: Obj): EvalPoint {
  return {
    step: num(o.step) ?? num(o.steps),
    loss: num(o.loss),
    top1: num(o.top1),
    top5: num(o.top5),
    gateExecRates: numArray(o.gateExecRates),
    cp: num(o.cp),
    flopsReduction: num(o.flopsReduction),
    macsPerImage: macsStats(o.macsPerImage),
    fullMacs: num(o.fullMacs),
    macsPercentOfFull: num(o.macsPercentOfFull),
  };
}

function parseClass(v: unknown): ClassResult | null {
  const label = num(field(v, 'label'));
  if (label === null) return null;
  return {
    label,
    name: str(field(v, 'name')) ?? String(label),
    n: num(field(v, 'n')) ?? 0,
    top1: num(field(v, 'top1')) ?? 0,
    cp: num(field(v, 'cp')) ?? 0,
    macsMean: num(field(v, 'macsMean')) ?? 0,
  };
}

export function parseEvalFile(o: Obj): EvalFile {
  const hist = o.macsHistogram;
  const edges = numArray(field(hist, 'edges'));
  const counts = numArray(field(hist, 'counts'));
  return {
    ...parseEvalPoint(o),
    checkpoint: str(o.checkpoint),
    dataset: str(o.dataset),
    threshold: num(o.threshold),
    n: num(o.n),
    macsHistogram: counts.length > 0 && edges.length === counts.length + 1 ? { edges, counts } : null,
    blocksHistogram: Array.isArray(o.blocksHistogram) ? numArray(o.blocksHistogram) : null,
    perClass: Array.isArray(o.perClass) ? o.perClass.map(parseClass).filter((c): c is ClassResult => c !== null) : [],
    source: o.source ?? null,
  };
}

export function parseRoutingRecord(v: unknown): RoutingRecord | null {
  const i = num(field(v, 'i'));
  const blocks = num(field(v, 'blocks'));
  if (i === null || blocks === null) return null;
  const label = num(field(v, 'label')) ?? -1;
  const pred = num(field(v, 'pred')) ?? -1;
  const correct = field(v, 'correct');
  return {
    i,
    label,
    pred,
    correct: typeof correct === 'boolean' ? correct : label === pred,
    blocks,
    executed: str(field(v, 'executed')) ?? '',
    macs: num(field(v, 'macs')) ?? 0,
  };
}

export function parseSweep(o: unknown): SweepPoint[] {
  const points = field(o, 'points');
  if (!Array.isArray(points)) return [];
  const out: SweepPoint[] = [];
  for (const p of points) {
    const threshold = num(field(p, 'threshold'));
    const top1 = num(field(p, 'top1'));
    const cp = num(field(p, 'cp'));
    if (threshold === null || top1 === null || cp === null) continue;
    out.push({
      threshold,
      top1,
      top5: num(field(p, 'top5')),
      cp,
      flopsReduction: num(field(p, 'flopsReduction')),
      macsMean: num(field(p, 'macsMean')),
    });
  }
  return out.sort((a, b) => a.threshold - b.threshold);
}
