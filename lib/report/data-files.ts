// The machine-readable files written beside report.html: the numbers behind every chart,
// for spreadsheets and further analysis.

import { toCsv } from './csv.js';
import { runCurves } from './curves.js';
import { finalGateRates, runRow, type RunRow } from './run-row.js';
import type { RunData } from './types.js';

export const DATA_FILES = {
  curves: 'curves.csv',
  runs: 'runs.csv',
  gates: 'gates.csv',
  sweep: 'sweep.csv',
  runsJsonl: 'runs.jsonl',
} as const;

export const RUNS_COLUMNS = [
  'name', 'stage', 'arch', 'depth', 'gate', 'alpha', 'top1', 'top5', 'cp', 'flopsReduction',
  'macsMean', 'wallSeconds', 'steps', 'macsPercentOfFull', 'fullMacs', 'metricsFrom', 'dir',
] as const satisfies ReadonlyArray<keyof RunRow>;

export function runsCsv(rows: readonly RunRow[]): string {
  return toCsv(RUNS_COLUMNS, rows.map((r) => RUNS_COLUMNS.map((c) => r[c])));
}

/** Every logged point of both stages; `source` names the run whose metrics.jsonl it is from. */
export function curvesCsv(runs: readonly RunData[]): string {
  const rows = runs.flatMap((run) =>
    runCurves(run).points.map((p) => [run.name, p.stage, p.step, p.stageStep, p.type, p.loss, p.acc, p.lr, p.cp, p.source]),
  );
  return toCsv(['run', 'stage', 'step', 'stageStep', 'type', 'loss', 'acc', 'lr', 'cp', 'source'], rows);
}

/** Gate index i is the gate that decides block i (block 0 always runs): 1..M. */
export function gatesCsv(runs: readonly RunData[]): string {
  const rows = runs.flatMap((run) => {
    const { rates, from } = finalGateRates(run);
    return rates.map((r, k) => [run.name, k + 1, r, from]);
  });
  return toCsv(['run', 'gate', 'execRate', 'source'], rows);
}

export function sweepCsv(runs: readonly RunData[]): string {
  const rows = runs.flatMap((run) => {
    const full = run.eval?.fullMacs ?? run.trained?.fullMacs ?? null;
    return (run.sweep ?? []).map((p) => [
      run.name, p.threshold, p.top1, p.top5, p.cp, p.flopsReduction ?? 100 - p.cp, p.macsMean,
      p.macsMean !== null && full ? (100 * p.macsMean) / full : null,
    ]);
  });
  return toCsv(['run', 'threshold', 'top1', 'top5', 'cp', 'flopsReduction', 'macsMean', 'macsPercentOfFull'], rows);
}

/** One JSON object per run: its row, config, logs, summary, eval results and sweep. Routing records stay in eval/routing.jsonl. */
export function runsJsonl(runs: readonly RunData[]): string {
  return runs
    .map((run) => {
      const routing = run.routing;
      return JSON.stringify({
        ...runRow(run),
        gateExecRates: finalGateRates(run).rates,
        config: run.config.raw,
        summary: run.summary,
        eval: run.eval,
        sweep: run.sweep,
        routing: routing ? { images: routing.length, correct: routing.filter((r) => r.correct).length } : null,
        init: run.initRun ? { init: run.initRun.init, dir: run.initRun.dir, step: run.initRun.step } : run.config.init,
        initNote: run.initNote,
        notes: run.notes,
        metrics: { train: run.train, eval: run.evals },
      });
    })
    .join('\n') + '\n';
}
