// metrics.jsonl to training and evaluation series. Unknown line types are ignored (the
// trainer may add some). A resumed run logs again from its checkpoint's step, so a line
// whose step is not past the previous one of its type replaces the earlier lines from
// that step on: the curves show the trajectory that produced the final weights.

import { isObject, parseEvalPoint, parseTrainLine } from './parse.js';
import { readJsonLines } from './read-files.js';
import type { EvalPoint, TrainPoint } from './types.js';

export interface MetricsSeries {
  train: TrainPoint[];
  evals: EvalPoint[];
  badLines: number;
}

/** Append `p`, first dropping any points at or after its step (a resume rewound to it). */
function pushRewinding<T extends { step: number | null }>(list: T[], p: T): void {
  const step = p.step ?? Infinity;
  while (list.length > 0 && (list[list.length - 1]!.step ?? -Infinity) >= step) list.pop();
  list.push(p);
}

/** null when the file does not exist; { error } when it cannot be read. */
export async function readMetrics(file: string): Promise<MetricsSeries | null | { error: string }> {
  const lines = await readJsonLines(file);
  if (lines === null || 'error' in lines) return lines;
  const train: TrainPoint[] = [];
  const evals: EvalPoint[] = [];
  let badLines = lines.badLines;
  for (const v of lines.values) {
    if (!isObject(v)) {
      badLines++;
      continue;
    }
    if (v.type === 'train') {
      const p = parseTrainLine(v);
      if (p) pushRewinding(train, p);
      else badLines++;
    } else if (v.type === 'eval') {
      pushRewinding(evals, parseEvalPoint(v));
    }
  }
  return { train, evals, badLines };
}
