// Find the SP run an HRL run started from. config.init is a run folder or one of its
// checkpoint folders (`<run>/last`, `<run>/best`), written relative to wherever training
// ran; the report may run elsewhere. config.outDir was written relative to that same
// place, so the run folder's absolute path minus outDir gives it back.

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { num } from './parse.js';
import { readJsonFile } from './read-files.js';
import { readMetrics } from './read-metrics.js';
import type { InitRun, RunConfigView } from './types.js';

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

/** Absolute folders where `init` might be, most trustworthy first. */
function candidates(init: string, runDir: string, outDir: string | null): string[] {
  if (path.isAbsolute(init)) return [path.normalize(init)];
  const out: string[] = [];
  const abs = path.resolve(runDir);
  if (outDir && !path.isAbsolute(outDir)) {
    const rel = path.normalize(outDir).replace(/[\\/]+$/, '');
    if (abs === path.resolve(rel) || abs.endsWith(path.sep + rel)) out.push(path.resolve(abs.slice(0, abs.length - rel.length), init));
  }
  out.push(path.resolve(init));
  // Last resort: a sibling of this run folder with the init run's name (folders moved together).
  const parent = path.dirname(abs);
  out.push(path.join(parent, path.basename(init)), path.join(parent, path.basename(path.dirname(init))));
  return [...new Set(out)];
}

/** The run folder and checkpoint folder that `candidate` names, if it is one. */
async function asRunAndCheckpoint(candidate: string): Promise<{ run: string; checkpoint: string } | null> {
  if (await isFile(path.join(candidate, 'metrics.jsonl'))) return { run: candidate, checkpoint: path.join(candidate, 'last') };
  const parent = path.dirname(candidate);
  if (await isFile(path.join(parent, 'metrics.jsonl'))) return { run: parent, checkpoint: candidate };
  return null;
}

/** The SP stage of an HRL run, or a note saying why it is not shown. */
export async function resolveInitRun(config: RunConfigView, runDir: string): Promise<{ run: InitRun } | { note: string }> {
  const init = config.init!;
  const self = path.resolve(runDir);
  for (const c of candidates(init, runDir, config.outDir)) {
    const found = await asRunAndCheckpoint(c);
    if (!found || path.resolve(found.run) === self) continue;
    const series = await readMetrics(path.join(found.run, 'metrics.jsonl'));
    if (series === null || 'error' in series) continue;
    // The HRL run started from the checkpoint's weights: its step is where the SP curve ends.
    const state = await readJsonFile(path.join(found.checkpoint, 'state.json'));
    const lastStep = Math.max(0, ...series.train.map((p) => p.step), ...series.evals.map((p) => p.step ?? 0));
    const step = (state.kind === 'ok' ? num((state.value as { step?: unknown } | null)?.step) : null) ?? lastStep;
    return {
      run: {
        init,
        dir: found.run,
        name: path.basename(found.run),
        step,
        train: series.train.filter((p) => p.step <= step),
        evals: series.evals.filter((p) => (p.step ?? 0) <= step),
      },
    };
  }
  return { note: `the SP run it started from (init: ${init}) was not found; only the HRL stage is shown` };
}
