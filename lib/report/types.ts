// What the report reads from a run folder, as the report sees it. Every field that a
// file may lack (older runs, runs still going, an eval/ written by another version) is
// optional here, so one odd file costs a note in one section rather than the report.

import type { MacsStats } from '../train/metrics.js';

/** The parts of config.json the report uses (the file holds the whole resolved RunConfig). */
export interface RunConfigView {
  stage: 'sp' | 'hrl';
  alpha: number | null;
  init: string | null;
  arch: string;
  depth: number;
  gate: string;
  threshold: number;
  /** config.data.source, kept as written (a DataSourceSpec). */
  source: unknown;
  /** config.outDir: the run folder relative to where training ran (used to resolve `init`). */
  outDir: string | null;
  /** The whole file, for runs.jsonl. */
  raw: Record<string, unknown>;
}

/** A 'train' line of metrics.jsonl. */
export interface TrainPoint {
  step: number;
  lr: number | null;
  loss: number | null;
  acc: number | null;
  gateExecRates: number[];
  imgPerSec: number | null;
  elapsedSeconds: number | null;
}

/** The evaluation numbers shared by 'eval' lines, summary.json and eval/eval.json. */
export interface EvalPoint {
  step: number | null;
  loss: number | null;
  top1: number | null;
  top5: number | null;
  gateExecRates: number[];
  cp: number | null;
  flopsReduction: number | null;
  macsPerImage: MacsStats | null;
  fullMacs: number | null;
  macsPercentOfFull: number | null;
}

export interface ClassResult {
  label: number;
  name: string;
  n: number;
  top1: number;
  cp: number;
  macsMean: number;
}

/** eval/eval.json, written by `skipnet eval <run> --out <run>/eval`. */
export interface EvalFile extends EvalPoint {
  checkpoint: string | null;
  dataset: string | null;
  threshold: number | null;
  n: number | null;
  macsHistogram: { edges: number[]; counts: number[] } | null;
  /** Index k = images that executed exactly k blocks (block 0 included). */
  blocksHistogram: number[] | null;
  perClass: ClassResult[];
  /** The DataSourceSpec of the test data, as written. */
  source: unknown;
}

/** One line of eval/routing.jsonl (one test image): the shape skipnet eval writes. */
import type { RoutingRecord } from '../train/eval-details.js';

export type { RoutingRecord };

export interface SweepPoint {
  threshold: number;
  top1: number;
  top5: number | null;
  cp: number;
  flopsReduction: number | null;
  macsMean: number | null;
}

/** Where the final numbers of a run came from, best first. */
export type FinalSource = 'eval' | 'summary' | 'last-eval' | 'none';

/** The SP run an HRL run started from (config.init), when it could be found. */
export interface InitRun {
  /** config.init as written. */
  init: string;
  /** The SP run folder and the checkpoint step the HRL run started from. */
  dir: string;
  name: string;
  step: number;
  train: TrainPoint[];
  evals: EvalPoint[];
}

export interface RunData {
  dir: string;
  /** Unique among the report's runs: the folder name, with its parent's when two clash. */
  name: string;
  config: RunConfigView;
  train: TrainPoint[];
  evals: EvalPoint[];
  summary: Record<string, unknown> | null;
  /** summary.json (else the last eval line) as an EvalPoint. */
  trained: EvalPoint | null;
  wallSeconds: number | null;
  steps: number | null;
  eval: EvalFile | null;
  routing: RoutingRecord[] | null;
  sweep: SweepPoint[] | null;
  /** The SP stage of an HRL run: found, or why not. */
  initRun: InitRun | null;
  initNote: string | null;
  /** Problems with optional files (corrupt JSON, bad lines), shown in the report. */
  notes: string[];
}
