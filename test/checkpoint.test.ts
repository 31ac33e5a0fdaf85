// Checkpoint folders (atomic writes, validation errors) and the training loop's
// checkpoint/resume behaviour, with a fake model and fake data: no addon needed.

import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EvalStepResult, ModelInfo, NativeBatch, NativeModel, NativeModelSpec, OptimizerArgs, TrainStepResult } from '../lib/binding-types.js';
import { parseConfig, type RunConfig } from '../lib/config.js';
import type { Batch, DataSourceSpec, ImageDataset } from '../lib/data/types.js';
import { SkipNetError } from '../lib/errors.js';
import {
  CHECKPOINT_VERSION,
  type CheckpointState,
  copyCheckpoint,
  loadCheckpoint,
  readCheckpointState,
  resolveCheckpointDir,
  saveCheckpoint,
} from '../lib/train/checkpoint.js';
import type { BatchLoaderOptions, DataApi } from '../lib/train/deps.js';
import type { TrainEvent } from '../lib/train/events.js';
import { train } from '../lib/train/trainer.js';

// ---------------------------------------------------------------- fakes

const GATED = 3;
const FULL_MACS = 1000;

/** Stands in for the addon's model: its "weights" are the number of steps it has trained. */
class FakeModel implements NativeModel {
  trained = 0;
  momentum = 0;
  disposed = false;
  lrs: number[] = [];
  loaded: string[] = [];
  constructor(
    readonly spec: NativeModelSpec,
    private readonly behaviour: { nanAtStep?: number; failSaveOptimizer?: boolean } = {},
  ) {}

  async trainStep(batch: NativeBatch, opt: OptimizerArgs): Promise<TrainStepResult> {
    this.trained += 1;
    this.momentum += opt.lr;
    this.lrs.push(opt.lr);
    const loss = this.trained === this.behaviour.nanAtStep ? Number.NaN : 2 / (1 + this.trained);
    return { loss, correct: Math.min(batch.n, this.trained), n: batch.n, gateExec: Float64Array.from([batch.n, batch.n / 2, 0]) };
  }

  // The HRL stage is not exercised by these trainer tests.
  hrlStep(): never {
    throw new Error('not used');
  }
  inspectHrl(): never {
    throw new Error('not used');
  }
  sharpenGate(): never {
    throw new Error('not used');
  }

  async evalStep(batch: NativeBatch, threshold: number): Promise<EvalStepResult> {
    expect(threshold).toBe(0.5);
    const n = batch.n;
    const correct1 = Math.min(n, this.trained); // better with training, so best/ moves
    return {
      loss: n * 0.5,
      correct1,
      correct5: n,
      n,
      gateExec: Float64Array.from([n, n / 2, 0]),
      macs: new Float64Array(n).fill(600),
      executed: new Uint8Array(n * GATED),
      predictions: new Int32Array(n),
      logits: new Float32Array(n * 10),
    };
  }

  async saveWeights(p: string): Promise<void> {
    await writeFile(p, JSON.stringify({ trained: this.trained }));
  }
  async loadWeights(p: string): Promise<void> {
    this.trained = JSON.parse(await readFile(p, 'utf8')).trained;
    this.loaded.push(p);
  }
  async saveOptimizer(p: string): Promise<void> {
    if (this.behaviour.failSaveOptimizer) throw new Error('disk full');
    await writeFile(p, JSON.stringify({ momentum: this.momentum }));
  }
  async loadOptimizer(p: string): Promise<void> {
    this.momentum = JSON.parse(await readFile(p, 'utf8')).momentum;
    this.loaded.push(p);
  }
  async inspectStep(): Promise<Uint8Array> {
    return new Uint8Array();
  }
  info(): ModelInfo {
    return {
      blocks: GATED + 1,
      gatedBlocks: GATED,
      parameters: 1234,
      gateParameters: 34,
      stemMacs: 100,
      blockMacs: [225, 225, 225, 225],
      skipMacs: [0, 0, 0, 0],
      gateMacs: [1, 1, 1, 1],
      headMacs: 10,
      fullMacs: FULL_MACS,
      device: this.spec.device,
      threads: this.spec.threads,
    };
  }
  dispose(): void {
    this.disposed = true;
  }
}

function fakeDataset(size: number): ImageDataset {
  return {
    name: 'fake',
    size,
    height: 4,
    width: 4,
    channels: 3,
    numClasses: 10,
    classNames: Array.from({ length: 10 }, (_, i) => String(i)),
    labels: new Int32Array(size),
    readImage() {},
  };
}

function fakeBatch(n: number): Batch {
  return { images: new Uint8Array(n * 48), labels: new Int32Array(n), n, height: 4, width: 4, channels: 3, indices: new Int32Array(n) };
}

/** A data module whose loader remembers where it was asked to start. */
function fakeData(starts: BatchLoaderOptions[] = []): DataApi {
  return {
    async openDataset(spec: DataSourceSpec, split) {
      if (spec.kind !== 'synthetic') throw new Error('fake data is synthetic only');
      return fakeDataset(split === 'train' ? spec.size : spec.testSize);
    },
    BatchLoader: class {
      readonly batchesPerEpoch: number;
      constructor(ds: ImageDataset, private readonly opts: BatchLoaderOptions) {
        this.batchesPerEpoch = Math.floor(ds.size / opts.batchSize);
        starts.push(opts);
      }
      async next() {
        return fakeBatch(this.opts.batchSize);
      }
    },
    async *fullPass(ds, batchSize) {
      for (let i = 0; i < ds.size; i += batchSize) yield fakeBatch(Math.min(batchSize, ds.size - i));
    },
  };
}

function fakeBackend(models: FakeModel[], behaviour: ConstructorParameters<typeof FakeModel>[1] = {}) {
  return {
    createModel(spec: NativeModelSpec) {
      const m = new FakeModel(spec, behaviour);
      models.push(m);
      return m;
    },
    versions: () => ({ libtorch: 'fake-1.0' }),
  };
}

// ---------------------------------------------------------------- helpers

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'skipnet-ckpt-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runConfig(outDir: string, over: Record<string, unknown> = {}): RunConfig {
  return parseConfig({
    model: { arch: 'cifar', depth: 8, gate: 'rnn' },
    data: { source: { kind: 'synthetic', size: 64, testSize: 20, height: 4, width: 4, channels: 3, numClasses: 10 }, batchSize: 8, evalBatchSize: 8 },
    schedule: { kind: 'cosine', steps: 10 },
    evalEvery: 5,
    logEvery: 2,
    threads: 1,
    outDir,
    ...over,
  });
}

function state(step: number): CheckpointState {
  const config = runConfig(dir);
  return {
    version: CHECKPOINT_VERSION,
    step,
    bestTop1: 50,
    config,
    modelSpec: {
      arch: 'cifar', depth: 8, gate: 'rnn', gateMode: 'hard', numClasses: 10, inChannels: 3,
      mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], device: 'cpu', threads: 1, seed: 0,
    },
    metrics: null,
    createdAt: new Date(0).toISOString(),
    packageVersion: '0.0.0-test',
    libtorch: 'fake-1.0',
  };
}

async function expectCheckpointError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SkipNetError);
  expect((err as SkipNetError).code).toBe('ERR_CHECKPOINT');
  expect((err as SkipNetError).message).toMatch(pattern);
}

// ---------------------------------------------------------------- checkpoint folders

describe('saveCheckpoint', () => {
  it('writes weights, optimizer and state into <name>/ and nothing else', async () => {
    const model = new FakeModel(state(0).modelSpec);
    model.trained = 7;
    const last = await saveCheckpoint(dir, 'last', model, state(7));
    expect(last).toBe(path.join(dir, 'last'));
    expect((await readdir(last)).sort()).toEqual(['optimizer.safetensors', 'state.json', 'weights.safetensors']);
    expect(await readdir(dir)).toEqual(['last']);
    expect(await readCheckpointState(last)).toEqual(state(7));
  });

  it('replaces an existing checkpoint whole, leaving no temporary folders', async () => {
    const model = new FakeModel(state(0).modelSpec);
    model.trained = 1;
    await saveCheckpoint(dir, 'last', model, state(1));
    model.trained = 2;
    await saveCheckpoint(dir, 'last', model, state(2));
    expect(await readdir(dir)).toEqual(['last']);
    expect((await readCheckpointState(path.join(dir, 'last'))).step).toBe(2);
    expect(JSON.parse(await readFile(path.join(dir, 'last', 'weights.safetensors'), 'utf8'))).toEqual({ trained: 2 });
  });

  it('keeps the previous checkpoint when a write fails', async () => {
    const good = new FakeModel(state(0).modelSpec);
    good.trained = 3;
    await saveCheckpoint(dir, 'last', good, state(3));
    const failing = new FakeModel(state(0).modelSpec, { failSaveOptimizer: true });
    await expectCheckpointError(saveCheckpoint(dir, 'last', failing, state(4)), /cannot write checkpoint .*last: disk full/);
    expect(await readdir(dir)).toEqual(['last']);
    expect((await readCheckpointState(path.join(dir, 'last'))).step).toBe(3);
  });

  it('copies last/ to best/ with hard links', async () => {
    await saveCheckpoint(dir, 'last', new FakeModel(state(0).modelSpec), state(5));
    const best = await copyCheckpoint(dir, 'last', 'best');
    expect((await readdir(best)).sort()).toEqual(['optimizer.safetensors', 'state.json', 'weights.safetensors']);
    const a = await stat(path.join(dir, 'last', 'weights.safetensors'));
    const b = await stat(path.join(best, 'weights.safetensors'));
    expect(b.ino).toBe(a.ino);
    expect((await readdir(dir)).sort()).toEqual(['best', 'last']);
  });
});

describe('reading checkpoints', () => {
  beforeEach(async () => {
    const model = new FakeModel(state(0).modelSpec);
    model.trained = 9;
    model.momentum = 0.5;
    await saveCheckpoint(dir, 'last', model, state(9));
  });

  it('restores weights and optimizer state', async () => {
    const model = new FakeModel(state(0).modelSpec);
    const st = await loadCheckpoint(path.join(dir, 'last'), model);
    expect(st.step).toBe(9);
    expect(model.trained).toBe(9);
    expect(model.momentum).toBe(0.5);
    const weightsOnly = new FakeModel(state(0).modelSpec);
    await loadCheckpoint(path.join(dir, 'last'), weightsOnly, { optimizer: false });
    expect(weightsOnly.loaded).toEqual([path.join(dir, 'last', 'weights.safetensors')]);
  });

  it('names a corrupt state.json', async () => {
    await writeFile(path.join(dir, 'last', 'state.json'), '{"version": 1, "step": ');
    await expectCheckpointError(readCheckpointState(path.join(dir, 'last')), /last[/\\]state\.json is corrupt \(not JSON\)/);
  });

  it('names the invalid fields of state.json', async () => {
    const bad = { ...state(9), step: -1, config: { ...state(9).config, model: { depth: 40 } } };
    await writeFile(path.join(dir, 'last', 'state.json'), JSON.stringify(bad));
    await expectCheckpointError(readCheckpointState(path.join(dir, 'last')), /state\.json is corrupt: .*step: .*config\.model\.depth: CIFAR ResNets/);
  });

  it('refuses other checkpoint versions', async () => {
    await writeFile(path.join(dir, 'last', 'state.json'), JSON.stringify({ ...state(9), version: 99 }));
    await expectCheckpointError(readCheckpointState(path.join(dir, 'last')), /checkpoint version 99; this skipnet reads version 1/);
  });

  it('names missing files', async () => {
    await rm(path.join(dir, 'last', 'optimizer.safetensors'));
    await expectCheckpointError(loadCheckpoint(path.join(dir, 'last'), new FakeModel(state(0).modelSpec)), /missing optimizer\.safetensors/);
    await rm(path.join(dir, 'last', 'weights.safetensors'));
    await expectCheckpointError(loadCheckpoint(path.join(dir, 'last'), new FakeModel(state(0).modelSpec)), /missing weights\.safetensors/);
    await rm(path.join(dir, 'last', 'state.json'));
    await expectCheckpointError(readCheckpointState(path.join(dir, 'last')), /missing state\.json/);
  });

  it('wraps a loader failure with the file name', async () => {
    await writeFile(path.join(dir, 'last', 'weights.safetensors'), 'garbage');
    await expectCheckpointError(loadCheckpoint(path.join(dir, 'last'), new FakeModel(state(0).modelSpec)), /cannot load .*weights\.safetensors: .*JSON/);
  });

  it('resolves run folders and interrupted swaps', async () => {
    expect(await resolveCheckpointDir(dir)).toBe(path.join(dir, 'last'));
    expect(await resolveCheckpointDir(path.join(dir, 'last'))).toBe(path.join(dir, 'last'));
    // A crash between the two renames leaves only last.old-<pid>/.
    await rename(path.join(dir, 'last'), path.join(dir, 'last.old-123'));
    expect(await resolveCheckpointDir(path.join(dir, 'last'))).toBe(path.join(dir, 'last.old-123'));
    await expectCheckpointError(resolveCheckpointDir(path.join(dir, 'nope')), /nope does not exist/);
    await mkdir(path.join(dir, 'empty'));
    await expectCheckpointError(resolveCheckpointDir(path.join(dir, 'empty')), /missing state\.json/);
  });
});

// ---------------------------------------------------------------- the loop

describe('train() checkpoints and resume', () => {
  it('evaluates, checkpoints last/ and best/, and writes metrics and a summary', async () => {
    const out = path.join(dir, 'run');
    const models: FakeModel[] = [];
    const events: TrainEvent[] = [];
    const summary = await train(runConfig(out), { backend: fakeBackend(models), data: fakeData(), onEvent: (e) => events.push(e) });

    expect(summary).toMatchObject({ steps: 10, top1: 100, top5: 100, bestTop1: 100, fullMacs: FULL_MACS });
    expect(summary.gateExecRates).toEqual([1, 0.5, 0]);
    expect(summary.cp).toBeCloseTo(62.5, 12); // 100 * (1 + 1.5) / 4
    expect(summary.flopsReduction).toBeCloseTo(37.5, 12);
    expect(summary.macsPerImage.mean).toBe(600);
    expect(models[0]!.disposed).toBe(true);
    expect(models[0]!.lrs[0]).toBe(0.1); // cosine starts at the base lr

    expect(events.filter((e) => e.type === 'step')).toHaveLength(10);
    expect(events.filter((e) => e.type === 'train').map((e) => e.step)).toEqual([2, 4, 6, 8, 10]);
    expect(events.filter((e) => e.type === 'eval').map((e) => e.step)).toEqual([5, 10]);
    expect(events.at(-1)).toEqual({ type: 'done', summary });

    expect((await readdir(out)).sort()).toEqual(['best', 'config.json', 'last', 'metrics.jsonl', 'summary.json']);
    expect((await readCheckpointState(path.join(out, 'last'))).step).toBe(10);
    expect((await readCheckpointState(path.join(out, 'best'))).bestTop1).toBe(100);
    const lines = (await readFile(path.join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['train', 'train', 'eval', 'train', 'train', 'train', 'eval']);
    expect(JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8'))).toEqual(summary);
  });

  it('resumes from the saved step with the optimizer state and the loader position', async () => {
    const out = path.join(dir, 'run');
    await train(runConfig(out), { backend: fakeBackend([]), data: fakeData() });

    const models: FakeModel[] = [];
    const starts: BatchLoaderOptions[] = [];
    const summary = await train(runConfig(out, { schedule: { kind: 'cosine', steps: 14 } }), {
      resume: out,
      backend: fakeBackend(models),
      data: fakeData(starts),
    });
    const m = models[0]!;
    expect(m.loaded).toEqual([path.join(out, 'last', 'weights.safetensors'), path.join(out, 'last', 'optimizer.safetensors')]);
    expect(m.trained).toBe(14); // 10 restored + 4 new
    expect(m.lrs).toHaveLength(4);
    expect(summary.steps).toBe(14);
    // 64 images / batch 8 = 8 batches per epoch: step 10 is epoch 1, batch 2.
    expect(starts.at(-1)).toMatchObject({ startEpoch: 1, startBatch: 2 });
    expect((await readCheckpointState(path.join(out, 'last'))).step).toBe(14);
  });

  it('refuses to start a fresh run over an existing one, or to resume a different model', async () => {
    const out = path.join(dir, 'run');
    await train(runConfig(out), { backend: fakeBackend([]), data: fakeData() });
    await expect(train(runConfig(out), { backend: fakeBackend([]), data: fakeData() })).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    await expect(
      train(runConfig(out, { model: { depth: 20 } }), { resume: out, backend: fakeBackend([]), data: fakeData() }),
    ).rejects.toMatchObject({ code: 'ERR_CHECKPOINT' });
  });

  it('stops on a NaN loss and keeps the last good checkpoint', async () => {
    const out = path.join(dir, 'run');
    const err = await train(runConfig(out), { backend: fakeBackend([], { nanAtStep: 7 }), data: fakeData() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SkipNetError);
    expect((err as SkipNetError).code).toBe('ERR_NAN_LOSS');
    expect((err as SkipNetError).message).toMatch(/loss is NaN at step 7 .*Lower the learning rate/);
    expect((await readCheckpointState(path.join(out, 'last'))).step).toBe(5);
  });

  it('saves last/ and rejects with ERR_ABORTED when the signal fires', async () => {
    const out = path.join(dir, 'run');
    const controller = new AbortController();
    const models: FakeModel[] = [];
    const err = await train(runConfig(out), {
      signal: controller.signal,
      backend: fakeBackend(models),
      data: fakeData(),
      onEvent: (e) => {
        if (e.type === 'step' && e.step === 3) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect((err as SkipNetError).code).toBe('ERR_ABORTED');
    expect((await readCheckpointState(path.join(out, 'last'))).step).toBe(3);
    expect(models[0]!.disposed).toBe(true);
  });
});
