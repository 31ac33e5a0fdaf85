// A checkpoint is a folder:
//   weights.safetensors    model.saveWeights (parameters and BN buffers)
//   optimizer.safetensors  model.saveOptimizer (SGD momentum buffers), for exact resume
//   state.json             step, best top-1, resolved config, model spec, metrics, versions
//
// Writes are atomic at folder level: everything goes into `<name>.tmp-<pid>/`, state.json
// last, then the folder is renamed over `<name>/`. A crash leaves either the old or the
// new checkpoint, never a mix. `best/` is made from `last/` with hard links (the files
// of a finished checkpoint are never modified in place, so sharing them is safe).

import { link, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { NativeModel, NativeModelSpec } from '../binding-types.js';
import { RunConfigSchema, type RunConfig } from '../config.js';
import { SkipNetError } from '../errors.js';
import type { EvalMetrics } from './metrics.js';

export const CHECKPOINT_VERSION = 1;
export const WEIGHTS_FILE = 'weights.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';

export interface CheckpointState {
  version: typeof CHECKPOINT_VERSION;
  /** Optimizer steps completed; a resumed run starts at this step. */
  step: number;
  /** Best test top-1 seen so far (percent), null before the first evaluation. */
  bestTop1: number | null;
  config: RunConfig;
  /** What the model was built with (classes, channels, normalisation), so eval needs no dataset probing. */
  modelSpec: NativeModelSpec;
  /** The evaluation this checkpoint was saved after, if any. */
  metrics: EvalMetrics | null;
  /** HRL with hrl.executionTarget: the adapted alpha for the next step, so a resumed run goes on with it. */
  hrlAlpha?: number;
  createdAt: string;
  packageVersion: string;
  libtorch: string;
}

const ModelSpecSchema = z.object({
  arch: z.enum(['cifar', 'imagenet']),
  depth: z.number().int().positive(),
  gate: z.enum(['none', 'rnn', 'ffgate1', 'ffgate2']),
  gateMode: z.enum(['hard', 'soft']),
  numClasses: z.number().int().positive(),
  inChannels: z.number().int().positive(),
  mean: z.array(z.number()),
  std: z.array(z.number()),
  device: z.string(),
  threads: z.number().int().positive(),
  seed: z.number().int(),
});

const MetricsSchema = z.object({
  n: z.number(),
  loss: z.number(),
  top1: z.number(),
  top5: z.number(),
  gateExecRates: z.array(z.number()),
  cp: z.number(),
  flopsReduction: z.number(),
  macsPerImage: z.object({ mean: z.number(), min: z.number(), p50: z.number(), max: z.number() }),
  fullMacs: z.number(),
  macsPercentOfFull: z.number(),
});

const StateSchema = z.object({
  version: z.literal(CHECKPOINT_VERSION),
  step: z.number().int().min(0),
  bestTop1: z.number().nullable(),
  config: RunConfigSchema,
  modelSpec: ModelSpecSchema,
  metrics: MetricsSchema.nullable(),
  hrlAlpha: z.number().min(0).optional(),
  createdAt: z.string(),
  packageVersion: z.string(),
  libtorch: z.string(),
});

export type CheckpointWriter = Pick<NativeModel, 'saveWeights' | 'saveOptimizer'>;
export type CheckpointReader = Pick<NativeModel, 'loadWeights' | 'loadOptimizer'>;

function checkpointError(message: string, cause?: unknown): SkipNetError {
  return new SkipNetError('ERR_CHECKPOINT', message, cause === undefined ? undefined : { cause });
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Swap `tmp` into place as `final`. rename(2) cannot replace a non-empty folder, hence the aside step. */
async function replaceDir(tmp: string, final: string): Promise<void> {
  const aside = `${final}.old-${process.pid}`;
  await rm(aside, { recursive: true, force: true });
  let hadOld = false;
  try {
    await rename(final, aside);
    hadOld = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await rename(tmp, final);
  if (hadOld) await rm(aside, { recursive: true, force: true });
}

/**
 * Write `<outDir>/<name>/` atomically from the model's weights and optimizer state.
 * Returns the checkpoint folder. On failure the previous `<name>/` is left untouched.
 */
export async function saveCheckpoint(outDir: string, name: string, model: CheckpointWriter, state: CheckpointState): Promise<string> {
  const final = path.join(outDir, name);
  const tmp = path.join(outDir, `${name}.tmp-${process.pid}`);
  try {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await model.saveWeights(path.join(tmp, WEIGHTS_FILE));
    await model.saveOptimizer(path.join(tmp, OPTIMIZER_FILE));
    // state.json last: its presence marks a complete folder.
    await writeFile(path.join(tmp, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
    await replaceDir(tmp, final);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw checkpointError(`cannot write checkpoint ${final}: ${errMessage(err)}`, err);
  }
  return final;
}

/** Make `<outDir>/<to>/` a copy of `<outDir>/<from>/` (hard links where the file system allows). */
export async function copyCheckpoint(outDir: string, from: string, to: string): Promise<string> {
  const src = path.join(outDir, from);
  const final = path.join(outDir, to);
  const tmp = path.join(outDir, `${to}.tmp-${process.pid}`);
  try {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    // state.json is linked last, as in saveCheckpoint.
    const files = (await readdir(src)).sort((a, b) => Number(a === STATE_FILE) - Number(b === STATE_FILE));
    for (const f of files) {
      await link(path.join(src, f), path.join(tmp, f)).catch(() => copyFile(path.join(src, f), path.join(tmp, f)));
    }
    await replaceDir(tmp, final);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw checkpointError(`cannot write checkpoint ${final}: ${errMessage(err)}`, err);
  }
  return final;
}

/**
 * Accept either a checkpoint folder or a run folder (then its `last/`). If a crash hit
 * between the two renames of replaceDir, fall back to the set-aside `<name>.old-<pid>/`.
 */
export async function resolveCheckpointDir(dir: string): Promise<string> {
  if (await exists(path.join(dir, STATE_FILE))) return dir;
  if (await exists(path.join(dir, 'last', STATE_FILE))) return path.join(dir, 'last');
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  const aside = (await readdir(parent).catch(() => [] as string[])).filter((f) => f.startsWith(`${base}.old-`));
  for (const f of aside) if (await exists(path.join(parent, f, STATE_FILE))) return path.join(parent, f);
  if (!(await exists(dir))) throw checkpointError(`checkpoint ${dir} does not exist`);
  throw checkpointError(`checkpoint ${dir}: missing ${STATE_FILE} (not a checkpoint folder, or a write was interrupted)`);
}

/** Read and validate `<dir>/state.json`. */
export async function readCheckpointState(dir: string): Promise<CheckpointState> {
  const file = path.join(dir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw checkpointError(code === 'ENOENT' ? `checkpoint ${dir}: missing ${STATE_FILE}` : `cannot read ${file}: ${errMessage(err)}`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw checkpointError(`${file} is corrupt (not JSON): ${errMessage(err)}`, err);
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (version !== CHECKPOINT_VERSION) {
    throw checkpointError(`${file} has checkpoint version ${JSON.stringify(version)}; this skipnet reads version ${CHECKPOINT_VERSION}`);
  }
  const parsed = StateSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw checkpointError(`${file} is corrupt: ${fields}`);
  }
  return parsed.data as CheckpointState;
}

/**
 * Restore weights (and the optimizer state unless `optimizer: false`) into `model`.
 * Returns the validated state. Every failure is ERR_CHECKPOINT naming the file.
 */
export async function loadCheckpoint(
  dir: string,
  model: Partial<CheckpointReader> & Pick<CheckpointReader, 'loadWeights'>,
  opts: { optimizer?: boolean } = {},
): Promise<CheckpointState> {
  const state = await readCheckpointState(dir);
  const wantOptimizer = opts.optimizer ?? true;
  const files = wantOptimizer ? [WEIGHTS_FILE, OPTIMIZER_FILE] : [WEIGHTS_FILE];
  for (const f of files) {
    if (!(await exists(path.join(dir, f)))) throw checkpointError(`checkpoint ${dir}: missing ${f}`);
  }
  const weights = path.join(dir, WEIGHTS_FILE);
  try {
    await model.loadWeights(weights);
  } catch (err) {
    throw checkpointError(`cannot load ${weights}: ${errMessage(err)}`, err);
  }
  if (wantOptimizer) {
    const optimizer = path.join(dir, OPTIMIZER_FILE);
    if (!model.loadOptimizer) throw new SkipNetError('ERR_BAD_ARG', 'loadCheckpoint: the model cannot load optimizer state');
    try {
      await model.loadOptimizer(optimizer);
    } catch (err) {
      throw checkpointError(`cannot load ${optimizer}: ${errMessage(err)}`, err);
    }
  }
  return state;
}
