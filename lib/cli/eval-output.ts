// The files `skipnet eval --out <dir>` writes, read back by `skipnet report`:
//   eval.json      metrics + per-class figures + histograms + the data source
//   routing.jsonl  one line per test image: which gated blocks it ran, its MACs, its prediction
//   per-class.csv  accuracy and computation per class
//   sweep.json/csv accuracy against computation over gate thresholds (with --sweep)
// Each file is written to a temporary name and renamed, so an interrupted eval never
// leaves a half-written file that a report would read as complete.

import fsp from 'node:fs/promises';
import path from 'node:path';
import type { DataSourceSpec } from '../data/types.js';
import type { EvalDetails, RoutingRecord } from '../train/eval-details.js';
import type { SweepPoint } from '../train/evaluate.js';
import type { EvalMetrics } from '../train/metrics.js';

export interface EvalHeader {
  checkpoint: string;
  step: number;
  dataset: string;
  threshold: number;
  source: DataSourceSpec;
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await fsp.writeFile(tmp, text);
  await fsp.rename(tmp, file);
}

function csv(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cell = (v: string | number) => (typeof v === 'number' ? String(v) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return rows.map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

export async function writeEvalFiles(
  dir: string,
  header: EvalHeader,
  metrics: EvalMetrics,
  details: EvalDetails,
  routing: readonly RoutingRecord[],
): Promise<string[]> {
  await fsp.mkdir(dir, { recursive: true });
  const { macsHistogram, blocksHistogram, perClass } = details;
  const evalJson = { ...header, ...metrics, macsPerImage: { ...metrics.macsPerImage }, macsHistogram, blocksHistogram, perClass };
  const files = {
    eval: path.join(dir, 'eval.json'),
    routing: path.join(dir, 'routing.jsonl'),
    perClass: path.join(dir, 'per-class.csv'),
  };
  await writeAtomic(files.eval, JSON.stringify(evalJson, null, 2) + '\n');
  await writeAtomic(files.routing, routing.map((r) => JSON.stringify(r)).join('\n') + '\n');
  await writeAtomic(
    files.perClass,
    csv([['label', 'name', 'n', 'top1', 'cp', 'macs_mean'], ...perClass.map((c) => [c.label, c.name, c.n, c.top1, c.cp, c.macsMean])]),
  );
  return Object.values(files);
}

export async function writeSweepFiles(dir: string, header: EvalHeader, points: readonly SweepPoint[]): Promise<string[]> {
  await fsp.mkdir(dir, { recursive: true });
  const json = path.join(dir, 'sweep.json');
  const table = path.join(dir, 'sweep.csv');
  await writeAtomic(json, JSON.stringify({ checkpoint: header.checkpoint, step: header.step, dataset: header.dataset, points }, null, 2) + '\n');
  await writeAtomic(
    table,
    csv([
      ['threshold', 'top1', 'top5', 'cp', 'flops_reduction', 'macs_mean'],
      ...points.map((p) => [p.threshold, p.top1, p.top5, p.cp, p.flopsReduction, p.macsMean]),
    ]),
  );
  return [json, table];
}
