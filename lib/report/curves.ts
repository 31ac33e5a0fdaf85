// Training curves of a run on one step axis across both stages: an HRL run that started
// from an SP checkpoint shows the SP run's curves up to that checkpoint, then its own,
// shifted by the checkpoint's step.

import { computationPercentage } from '../train/metrics.js';
import type { RunData } from './types.js';

export interface CurvePoint {
  stage: 'sp' | 'hrl';
  /** The run whose metrics.jsonl the point comes from (the SP run for an HRL run's first stage). */
  source: string;
  /** True for the SP run's points drawn before an HRL run's own. */
  fromInit: boolean;
  /** Step on the shared axis, and within its own stage. */
  step: number;
  stageStep: number;
  type: 'train' | 'eval';
  loss: number | null;
  /** Training accuracy (train) or test top-1 (eval), percent. */
  acc: number | null;
  lr: number | null;
  /** Computation percentage: of the training batches' gate decisions (train) or of the test set (eval). */
  cp: number | null;
}

export interface RunCurves {
  run: string;
  points: CurvePoint[];
  /** Shared-axis step where the HRL stage starts, when the SP stage is shown too. */
  boundary: number | null;
}

interface StageOf {
  run: Pick<RunData, 'train' | 'evals'>;
  stage: 'sp' | 'hrl';
  source: string;
  fromInit: boolean;
  offset: number;
}

function stagePoints({ run, stage, source, fromInit, offset }: StageOf): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (const t of run.train) {
    out.push({
      stage, source, fromInit, step: t.step + offset, stageStep: t.step, type: 'train',
      loss: t.loss, acc: t.acc, lr: t.lr, cp: computationPercentage(t.gateExecRates),
    });
  }
  for (const e of run.evals) {
    if (e.step === null) continue;
    out.push({
      stage, source, fromInit, step: e.step + offset, stageStep: e.step, type: 'eval',
      loss: e.loss, acc: e.top1, lr: null, cp: e.cp ?? computationPercentage(e.gateExecRates),
    });
  }
  return out.sort((a, b) => a.step - b.step || (a.type === b.type ? 0 : a.type === 'train' ? -1 : 1));
}

export function runCurves(run: RunData): RunCurves {
  const own = { run, stage: run.config.stage, source: run.name, fromInit: false };
  const init = run.initRun;
  if (!init) return { run: run.name, points: stagePoints({ ...own, offset: 0 }), boundary: null };
  return {
    run: run.name,
    points: [
      ...stagePoints({ run: init, stage: 'sp', source: init.name, fromInit: true, offset: 0 }),
      ...stagePoints({ ...own, offset: init.step }),
    ],
    boundary: init.step,
  };
}
