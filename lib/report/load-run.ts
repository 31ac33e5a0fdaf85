// Read everything the report shows about one run folder. config.json and metrics.jsonl
// are required (without them it is not a run folder); summary.json, eval/ and the SP
// run behind an HRL run are optional and their absence only changes what is shown.

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { SkipNetError } from '../errors.js';
import { isObject, num, parseConfig, parseEvalFile, parseEvalPoint, parseRoutingRecord, parseSweep } from './parse.js';
import { readJsonFile, readJsonLines } from './read-files.js';
import { readMetrics } from './read-metrics.js';
import { resolveInitRun } from './resolve-init.js';
import type { EvalFile, RoutingRecord, RunData, SweepPoint } from './types.js';

export const EVAL_DIR = 'eval';

function badRun(dir: string, what: string): SkipNetError {
  return new SkipNetError('ERR_BAD_ARG', `${dir} is not a skipnet run folder: ${what} (a run folder is what \`skipnet train --out <dir>\` writes)`);
}

async function readEvalFolder(dir: string, notes: string[]): Promise<{ eval: EvalFile | null; routing: RoutingRecord[] | null; sweep: SweepPoint[] | null }> {
  const evalDir = path.join(dir, EVAL_DIR);
  const evalJson = await readJsonFile(path.join(evalDir, 'eval.json'));
  if (evalJson.kind === 'bad') notes.push(evalJson.message);
  const evalFile = evalJson.kind === 'ok' && isObject(evalJson.value) ? parseEvalFile(evalJson.value) : null;

  let routing: RoutingRecord[] | null = null;
  const lines = await readJsonLines(path.join(evalDir, 'routing.jsonl'));
  if (lines && 'error' in lines) notes.push(lines.error);
  else if (lines) {
    routing = lines.values.map(parseRoutingRecord).filter((r): r is RoutingRecord => r !== null);
    const skipped = lines.values.length + lines.badLines - routing.length;
    if (skipped > 0) notes.push(`${EVAL_DIR}/routing.jsonl: ${skipped} unreadable line(s) skipped`);
  }

  const sweepJson = await readJsonFile(path.join(evalDir, 'sweep.json'));
  if (sweepJson.kind === 'bad') notes.push(sweepJson.message);
  const sweep = sweepJson.kind === 'ok' ? parseSweep(sweepJson.value) : null;
  return { eval: evalFile, routing, sweep };
}

/** Load one run folder; `name` is set to the folder name (loadRuns makes names unique). */
export async function loadRun(dir: string): Promise<RunData> {
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new SkipNetError('ERR_BAD_ARG', `run folder ${dir} does not exist`);

  const configRead = await readJsonFile(path.join(dir, 'config.json'));
  const metrics = await readMetrics(path.join(dir, 'metrics.jsonl'));
  const missing = [configRead.kind === 'missing' ? 'config.json' : null, metrics === null ? 'metrics.jsonl' : null].filter(Boolean);
  if (missing.length > 0) throw badRun(dir, `missing ${missing.join(' and ')}`);
  if (configRead.kind === 'bad') throw badRun(dir, configRead.message);
  if (configRead.kind !== 'ok' || !isObject(configRead.value)) throw badRun(dir, 'config.json is not a JSON object');
  if (metrics === null || 'error' in metrics) throw badRun(dir, metrics?.error ?? 'metrics.jsonl is unreadable');

  const config = parseConfig(configRead.value);
  const notes: string[] = [];
  if (metrics.badLines > 0) notes.push(`metrics.jsonl: ${metrics.badLines} unreadable line(s) skipped (a run still writing leaves one)`);

  const summaryRead = await readJsonFile(path.join(dir, 'summary.json'));
  if (summaryRead.kind === 'bad') notes.push(summaryRead.message);
  const summary = summaryRead.kind === 'ok' && isObject(summaryRead.value) ? summaryRead.value : null;

  const lastTrain = metrics.train.at(-1);
  const lastEval = metrics.evals.at(-1);
  const trained = summary ? parseEvalPoint(summary) : (lastEval ?? null);
  const lastStep = Math.max(lastTrain?.step ?? 0, lastEval?.step ?? 0);

  const { eval: evalFile, routing, sweep } = await readEvalFolder(dir, notes);

  let initRun = null;
  let initNote = null;
  if (config.init) {
    const r = await resolveInitRun(config, dir);
    if ('run' in r) initRun = r.run;
    else initNote = r.note;
  }

  return {
    dir,
    name: path.basename(path.resolve(dir)),
    config,
    train: metrics.train,
    evals: metrics.evals,
    summary,
    trained,
    wallSeconds: num(summary?.wallSeconds) ?? lastTrain?.elapsedSeconds ?? null,
    steps: num(summary?.steps) ?? (lastStep > 0 ? lastStep : null),
    eval: evalFile,
    routing,
    sweep,
    initRun,
    initNote,
    notes,
  };
}

/** Load every run, in order, giving clashing folder names their parent folder's name too. */
export async function loadRuns(dirs: readonly string[]): Promise<RunData[]> {
  if (dirs.length === 0) throw new SkipNetError('ERR_BAD_ARG', 'no run folders given');
  const runs: RunData[] = [];
  for (const d of dirs) runs.push(await loadRun(d));
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const r of runs) {
    if (counts.get(r.name)! < 2) continue;
    const abs = path.resolve(r.dir);
    let name = `${path.basename(path.dirname(abs))}/${r.name}`;
    const k = (seen.get(name) ?? 0) + 1; // the same folder twice, or equal parent names too
    seen.set(name, k);
    if (k > 1) name += ` (${k})`;
    r.name = name;
  }
  return runs;
}
