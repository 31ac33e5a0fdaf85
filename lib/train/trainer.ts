// The training loop, meant to be read top to bottom (nanoGPT's train.py spirit):
// set up data and model, then for each step: lr from the schedule, a batch, one
// native train step; log every logEvery; evaluate and checkpoint every evalEvery
// and at the end. All tensor work happens in C++; this file only orchestrates.
//
// Supervised pre-training (SP, spec section 3): plain cross-entropy on the
// hard-gated forward, SGD with momentum, gates learn through the straight-through
// estimator inside the addon.

import { appendFile, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { HrlArgs, OptimizerArgs } from '../binding-types.js';
import type { RunConfig } from '../config.js';
import { SkipNetError } from '../errors.js';
import {
  CHECKPOINT_VERSION,
  type CheckpointState,
  copyCheckpoint,
  loadCheckpoint,
  readCheckpointState,
  resolveCheckpointDir,
  saveCheckpoint,
} from './checkpoint.js';
import { type Backend, type DataApi, loadBackend, loadDataApi } from './deps.js';
import { evaluateModel } from './evaluate.js';
import type { TrainEvent, TrainSummary } from './events.js';
import type { EvalMetrics } from './metrics.js';
import { TrainMeter } from './metrics.js';
import { checkSplitsMatch, modelSpecFor } from './model-spec.js';
import { perRankBatchSize, rankFromEnv, rankSampleSeed } from '../distributed/rank.js';
import { joinTrainGroup, rankDevice, type TrainGroup } from '../distributed/train-group.js';
import { learningRate } from './schedule.js';
import { executedFraction, nextAlpha } from './alpha-control.js';
import { ensureSharedFolder } from './shared-data.js';
import { packageVersion } from './version.js';

export interface TrainOptions {
  /** Checked between steps; on abort `last/` is saved and train() rejects with ERR_ABORTED. */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
  /** A checkpoint folder (or run folder) to continue from: weights, optimizer state and step. */
  resume?: string;
  /** Replace the model factory / data module (tests, embedding). */
  backend?: Backend;
  data?: DataApi;
}

export async function train(config: RunConfig, opts: TrainOptions = {}): Promise<TrainSummary> {
  const started = performance.now();
  // Data parallel (`skipnet launch`, torchrun): one process per rank, WORLD_SIZE > 1 in the
  // environment. Rank 0 alone reports, evaluates and writes files; every rank trains.
  const ranks = rankFromEnv();
  const isRoot = !ranks || ranks.rank === 0;
  const emit = (event: TrainEvent) => isRoot && opts.onEvent?.(event);
  const { outDir } = config;
  const totalSteps = config.schedule.steps;
  // Where this run ends: its schedule's end, or earlier with stopAt (one stage of a longer recipe).
  const endStep = config.stopAt ?? totalSteps;

  // ---- where we start from
  const resumeDir = opts.resume ? await resolveCheckpointDir(opts.resume) : null;
  const resumed = resumeDir ? await readCheckpointState(resumeDir) : null;
  if (resumed) assertSameModel(resumed, resumeDir!, config);
  // Load the addon before touching the disk: a broken install should leave no empty run folder.
  const backend = opts.backend ?? (await loadBackend());
  const data = opts.data ?? (await loadDataApi());
  const rankBatch = ranks ? perRankBatchSize(config.data.batchSize, ranks.worldSize) : config.data.batchSize;
  await prepareOutDir(outDir, resumeDir, isRoot); // every rank checks; rank 0 creates it

  // ---- data
  await ensureSharedFolder(config.data.source);
  const dataOpts = { badFiles: config.data.badFiles, decodeThreads: config.data.decodeThreads ?? config.threads };
  const trainSet = await data.openDataset(config.data.source, 'train', dataOpts);
  const testSet = await data.openDataset(config.data.source, 'test', dataOpts);
  checkSplitsMatch(trainSet, testSet);

  // ---- model
  const spec = modelSpecFor(config, trainSet);
  if (ranks) spec.device = rankDevice(spec.device, ranks.localRank, backend.versions().cudaDevices ?? 0);
  const libtorch = backend.versions().libtorch;
  const model = backend.createModel(spec);
  let group: TrainGroup | null = null;
  try {
    const info = model.info(trainSet.height, trainSet.width);
    let step = 0; // optimizer steps completed
    let bestTop1: number | null = null;
    let lastEval: EvalMetrics | null = null;
    // HRL's skip reward; hrl.executionTarget moves it every step (alpha-control.ts).
    let hrlAlpha = config.hrl.alpha;
    if (resumeDir) {
      const state = await loadCheckpoint(resumeDir, model, { optimizer: true });
      ({ step, bestTop1, metrics: lastEval } = state);
      if (state.hrlAlpha !== undefined && config.stage === 'hrl') hrlAlpha = state.hrlAlpha;
    } else if (config.init) {
      // A new stage from earlier weights (HRL from SP): weights only, fresh optimizer, step 0.
      const initDir = await resolveCheckpointDir(config.init);
      await loadCheckpoint(initDir, model, { optimizer: false });
      const { sharpen, gateBiasShift } = config.hrl;
      if (config.stage === 'hrl' && (sharpen !== 1 || gateBiasShift !== 0)) await model.sharpenGate(sharpen, gateBiasShift);
    }
    // Every rank read the same files; joining copies rank 0's weights to all of them anyway.
    if (ranks) group = await joinTrainGroup(model, config, ranks);
    if (isRoot) await writeFile(path.join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');

    // Shuffled epochs, continuing across epoch boundaries; the last partial batch is
    // dropped (as the reference does for RNN gates). A resumed run restarts at the same
    // epoch and batch, so it sees the batches an uninterrupted run would have.
    // With ranks, config.data.batchSize is the global batch: each rank takes its share of it
    // from its own shard of every epoch (DistributedSampler order).
    const loaderOpts = {
      batchSize: rankBatch,
      shuffle: true,
      seed: config.seed,
      augment: config.data.augment,
      dropLast: true,
      rank: ranks?.rank ?? 0,
      worldSize: ranks?.worldSize ?? 1,
    };
    let loader = new data.BatchLoader(trainSet, loaderOpts);
    if (step > 0) {
      const perEpoch = loader.batchesPerEpoch;
      loader = new data.BatchLoader(trainSet, { ...loaderOpts, startEpoch: Math.floor(step / perEpoch), startBatch: step % perEpoch });
    }

    const metricsFile = path.join(outDir, 'metrics.jsonl');
    const record = async (rec: object) => {
      if (isRoot) await appendFile(metricsFile, JSON.stringify(rec) + '\n');
    };
    const stateAt = (stepNow: number, metrics: EvalMetrics | null): CheckpointState => ({
      version: CHECKPOINT_VERSION,
      step: stepNow,
      bestTop1,
      config,
      modelSpec: spec,
      metrics,
      ...(config.stage === 'hrl' && config.hrl.executionTarget ? { hrlAlpha } : {}),
      createdAt: new Date().toISOString(),
      packageVersion: packageVersion(),
      libtorch,
    });
    let lastDir: string | null = resumeDir;
    let bestDir: string | null = null;

    // Evaluate on the test set, then checkpoint last/ (and best/ when top-1 improved). With
    // ranks, rank 0 does it while the others wait, then they all continue with its result.
    const evaluateAndSave = async (): Promise<EvalMetrics> => {
      if (group) {
        const root = await group.fromRoot(isRoot ? { metrics: await evaluateOnRoot(), lastDir, bestDir } : undefined);
        ({ lastDir, bestDir } = root);
        lastEval = root.metrics;
        if (bestTop1 === null || root.metrics.top1 > bestTop1) bestTop1 = root.metrics.top1;
        return root.metrics;
      }
      return evaluateOnRoot();
    };
    const evaluateOnRoot = async (): Promise<EvalMetrics> => {
      const t = performance.now();
      const metrics = await evaluateModel(model, testSet, {
        threshold: config.threshold,
        batchSize: config.data.evalBatchSize,
        data,
      });
      const best = bestTop1 === null || metrics.top1 > bestTop1;
      if (best) bestTop1 = metrics.top1;
      const seconds = (performance.now() - t) / 1000;
      emit({ type: 'eval', step, steps: totalSteps, metrics, best, seconds });
      await record({ type: 'eval', step, ...metrics, best, seconds });
      lastDir = await saveCheckpoint(outDir, 'last', model, stateAt(step, metrics));
      emit({ type: 'checkpoint', step, name: 'last', dir: lastDir });
      if (best) {
        bestDir = await copyCheckpoint(outDir, 'last', 'best');
        emit({ type: 'checkpoint', step, name: 'best', dir: bestDir });
      }
      lastEval = metrics;
      return metrics;
    };

    emit({
      type: 'start',
      step,
      steps: totalSteps,
      outDir,
      resumedFrom: resumeDir,
      dataset: trainSet.name,
      spec,
      info,
      trainSize: trainSet.size,
      testSize: testSet.size,
      batchesPerEpoch: loader.batchesPerEpoch,
    });

    // ---- the loop
    const optimizer = { momentum: config.optimizer.momentum, weightDecay: config.optimizer.weightDecay, nesterov: config.optimizer.nesterov };
    const spArgs = (lr: number, at: number): OptimizerArgs => ({
      ...optimizer,
      lr,
      gatesOpen: at < config.gateWarmupSteps,
      ...(config.gatesReadDetached ? { gatesReadDetached: true } : {}),
      ...(config.executionTarget ? { executionTarget: config.executionTarget } : {}),
    });
    const meter = new TrainMeter();
    let windowStart = performance.now();
    let windowWaitMs = 0;
    let evaluatedAt = resumed && resumed.metrics ? resumed.step : -1;
    // One batch is always in flight so that loading overlaps the native step.
    // Marked as handled so an abandoned prefetch cannot crash the process.
    const prefetch = () => {
      const p = loader.next();
      p.catch(() => {});
      return p;
    };
    let pending = step < endStep ? prefetch() : null;
    let lossScale: number | null = null; // with loss scaling: the scale of the last step
    let windowOverflows = 0;

    while (step < endStep) {
      // Ranks see a Ctrl-C at different steps: they agree on it, so all stop at the same one.
      const stop = group ? await group.agreeToStop(Boolean(opts.signal?.aborted)) : opts.signal?.aborted;
      if (stop) {
        // metrics: null, since the last evaluation describes an earlier step than these weights.
        if (isRoot) lastDir = await saveCheckpoint(outDir, 'last', model, stateAt(step, null));
        if (group) lastDir = await group.fromRoot(lastDir);
        emit({ type: 'checkpoint', step, name: 'last', dir: lastDir! });
        throw new SkipNetError('ERR_ABORTED', `training stopped at step ${step}/${totalSteps}; saved ${lastDir} (continue with --resume ${outDir})`);
      }

      const lr = learningRate(step, config.schedule, config.optimizer.lr);
      const waitStart = performance.now();
      const batch = await pending!;
      windowWaitMs += performance.now() - waitStart;
      // The addon copies the batch when trainStep is called, so the loader may refill
      // its buffers for the next batch while this step computes.
      const hrl = config.stage === 'hrl' ? hrlArgs(config, info.gatedBlocks, step, hrlAlpha) : null;
      // Each rank samples its own shard's actions from its own stream (rank 0: the single-process one).
      if (hrl && group) hrl.sampleSeed = rankSampleSeed(hrl.sampleSeed, group.rank);
      const stepDone = hrl ? model.hrlStep(batch, { ...optimizer, lr }, hrl) : model.trainStep(batch, spArgs(lr, step));
      pending = step + 1 < endStep ? prefetch() : null;
      const r = await stepDone;

      if (!Number.isFinite(r.loss)) {
        throw new SkipNetError(
          'ERR_NAN_LOSS',
          `loss is ${r.loss} at step ${step + 1} (lr ${lr}); nothing was saved after ${lastDir ?? 'the start (no checkpoint yet)'}. ` +
            `Lower the learning rate (e.g. --set optimizer.lr=${lr / 10}) or add a warm-up (--set schedule.warmupSteps=500).`,
        );
      }
      if (hrl && config.hrl.executionTarget) {
        // With ranks the addon has already summed the step's counts over the global batch, so
        // every rank takes the same alpha.
        hrlAlpha = nextAlpha(hrlAlpha, executedFraction(r.gateExec, r.n), config.hrl.executionTarget);
      }
      step += 1;
      meter.add(r);
      if (r.lossScale !== undefined) {
        lossScale = r.lossScale;
        if (r.stepSkipped) windowOverflows += 1;
      }
      emit({ type: 'step', step, steps: totalSteps, lr, loss: r.loss });

      if (step % config.logEvery === 0 || step === endStep) {
        const now = performance.now();
        const w = meter.take();
        const event = {
          type: 'train' as const,
          step,
          steps: totalSteps,
          lr,
          loss: w.loss,
          acc: w.acc,
          gateExecRates: w.gateExecRates,
          imgPerSec: w.images / ((now - windowStart) / 1000),
          dataWaitMs: windowWaitMs,
          skippedFiles: trainSet.skippedFiles ?? 0, // bad image files skipped so far (data.badFiles 'skip')
          elapsedSeconds: (now - started) / 1000,
          ...(config.stage === 'hrl' ? { alpha: hrlAlpha } : {}),
          ...(lossScale === null ? {} : { lossScale, overflowSteps: windowOverflows }),
        };
        windowOverflows = 0;
        emit(event);
        await record(event);
        windowStart = now;
        windowWaitMs = 0;
      }

      if (step % config.evalEvery === 0 || step === endStep) {
        await evaluateAndSave();
        evaluatedAt = step;
        windowStart = performance.now(); // keep evaluation out of the next img/s figure
      }
    }

    // The loop evaluates after its last step. A run resumed at (or past) its end ran no
    // step: reuse its checkpoint's metrics when they belong to that step, else evaluate.
    const final = evaluatedAt === step && lastEval ? lastEval : await evaluateAndSave();

    const summary: TrainSummary = {
      top1: final.top1,
      top5: final.top5,
      cp: final.cp,
      flopsReduction: final.flopsReduction,
      macsPerImage: final.macsPerImage,
      fullMacs: final.fullMacs,
      macsPercentOfFull: final.macsPercentOfFull,
      gateExecRates: final.gateExecRates,
      steps: step,
      wallSeconds: (performance.now() - started) / 1000,
      bestTop1: bestTop1 ?? final.top1,
      outDir,
      lastCheckpoint: lastDir ?? path.join(outDir, 'last'),
      bestCheckpoint: bestDir ?? ((await isDir(path.join(outDir, 'best'))) ? path.join(outDir, 'best') : null),
      model: {
        arch: spec.arch,
        depth: spec.depth,
        gate: spec.gate,
        parameters: info.parameters,
        blocks: info.blocks,
        gatedBlocks: info.gatedBlocks,
      },
    };
    if (isRoot) await writeFile(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    emit({ type: 'done', summary });
    return summary;
  } finally {
    model.dispose();
  }
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

/** The HRL step's arguments; a step's sampled actions depend only on (seed, step), so a
 *  resumed run samples what the uninterrupted run would have. */
function hrlArgs(config: RunConfig, gatedBlocks: number, step: number, alpha: number): HrlArgs {
  const h = config.hrl;
  return {
    alpha,
    beta: h.beta === 'alpha/M' ? alpha / gatedBlocks : h.beta,
    gamma: h.gamma,
    rlWeight: h.rlWeight,
    reduction: h.reduction,
    baseline: h.baseline,
    baselineMomentum: h.baselineMomentum,
    execution: h.execution,
    explore: h.explore,
    ...(h.logitBound
      ? {
          logitLimit: h.logitBound.limit,
          logitPenalty: h.logitBound.weight,
          logitUpperOnly: h.logitBound.side === 'execute',
        }
      : {}),
    ...(config.gatesReadDetached ? { gatesReadDetached: true } : {}),
    sampleSeed: config.seed * 1_000_003 + step,
  };
}

/** A fresh run must not silently overwrite another run's checkpoints. */
async function prepareOutDir(outDir: string, resumeDir: string | null, create = true): Promise<void> {
  if (!resumeDir && (await isDir(path.join(outDir, 'last')))) {
    throw new SkipNetError(
      'ERR_CONFIG',
      `${outDir} already holds a run (${path.join(outDir, 'last')}); continue it with --resume ${outDir}, or pick another --out`,
    );
  }
  if (create) await mkdir(outDir, { recursive: true });
}

/** Weights only fit the architecture they were trained with. */
function assertSameModel(state: CheckpointState, dir: string, config: RunConfig): void {
  const a = state.config.model;
  const b = config.model;
  if (a.arch !== b.arch || a.depth !== b.depth || a.gate !== b.gate) {
    throw new SkipNetError(
      'ERR_CHECKPOINT',
      `checkpoint ${dir} holds a ${a.arch} depth-${a.depth} '${a.gate}'-gate model; the config asks for ${b.arch} depth-${b.depth} '${b.gate}'`,
    );
  }
}
