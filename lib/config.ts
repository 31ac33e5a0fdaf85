// The run config: one zod schema that validates and fills in defaults, the error
// text people see when a field is wrong, and the layering used by the CLI
// (preset, then a JSON file, then --set dot.path=value overrides).
//
// Defaults follow the reference CIFAR SP recipe (spec section 3): SGD lr 0.1,
// momentum 0.9, wd 1e-4, batch 128, 64k iterations, x0.1 at 32k and 48k.

import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { z } from 'zod';
import type { DataSourceSpec } from './data/types.js';
import { SkipNetError } from './errors.js';
import { getPreset } from './presets.js';

// ---------------------------------------------------------------- depths

/** CIFAR ResNets are 6n+2 deep (n BasicBlocks per stage, 3 stages). */
export function isCifarDepth(depth: number): boolean {
  return Number.isInteger(depth) && depth >= 8 && (depth - 2) % 6 === 0;
}

/** The torchvision/reference ImageNet depths (spec 1.2). */
export const IMAGENET_DEPTHS = [18, 34, 50, 101, 152] as const;

const DEFAULT_DEPTH = { cifar: 38, imagenet: 101 } as const;

// ---------------------------------------------------------------- data source

const positiveInt = z.number().int().positive();
const dirPath = z.string().min(1, 'must be a non-empty path');

/** Mirrors DataSourceSpec in lib/data/types.ts; the `satisfies` check below keeps them in step. */
export const DataSourceSchema = z.discriminatedUnion(
  'kind',
  [
    // download: fetch missing official files into root first (the only network access; off by default).
    z.strictObject({ kind: z.literal('cifar10'), root: dirPath, download: z.boolean().optional() }),
    z.strictObject({ kind: z.literal('cifar100'), root: dirPath, labels: z.enum(['fine', 'coarse']).optional(), download: z.boolean().optional() }),
    // extra: train on train_32x32 + extra_32x32 (the paper's 604k images).
    z.strictObject({ kind: z.literal('svhn'), root: dirPath, extra: z.boolean().optional(), download: z.boolean().optional() }),
    // size: output side (224); preload: decode all images into memory once instead of per batch (subsets only).
    z.strictObject({ kind: z.literal('imagenet'), root: dirPath, size: positiveInt.optional(), preload: z.boolean().optional() }),
    // exclude: wnids to leave out (e.g. the 2 extra classes of the shared copy, for the standard 200).
    z.strictObject({ kind: z.literal('tiny-imagenet'), root: dirPath, exclude: z.array(z.string().regex(/^\S+$/, 'must be a wnid')).optional() }),
    z.strictObject({ kind: z.literal('folder'), root: dirPath }),
    z.strictObject({ kind: z.literal('fashion-mnist'), root: dirPath }),
    // Defaults so that `--set data.source.kind=synthetic` alone gives a usable smoke-test source.
    z.strictObject({
      kind: z.literal('synthetic'),
      size: positiveInt.default(512),
      testSize: positiveInt.default(128),
      height: positiveInt.default(32),
      width: positiveInt.default(32),
      channels: z.union([z.literal(1), z.literal(3)]).default(3),
      numClasses: z.number().int().min(2).default(10),
    }),
  ],
  {
    error: (iss) =>
      iss.input === undefined
        ? 'required: pick a preset (`skipnet presets`) or set data.source.kind (cifar10, cifar100, svhn, imagenet, tiny-imagenet, folder, fashion-mnist, synthetic) and data.source.root'
        : undefined,
  },
);

// Compile-time guard: the schema's output must be a DataSourceSpec.
const _sourceCheck = (s: z.output<typeof DataSourceSchema>): DataSourceSpec => s;
void _sourceCheck;

const NormalizationSchema = z.union([
  z.enum(['auto', 'cifar', 'imagenet', 'fashion-mnist', 'svhn']),
  z
    .strictObject({ mean: z.array(z.number()).min(1), std: z.array(z.number().positive()).min(1) })
    .refine((n) => n.mean.length === n.std.length, { message: 'mean and std need one value per channel (same length)' }),
]);

// ---------------------------------------------------------------- sections

const ModelShape = z.strictObject({
  arch: z.enum(['cifar', 'imagenet']).default('cifar'),
  // Optional so the default can depend on arch (38 for CIFAR, 101 for ImageNet).
  depth: z.number().int().positive().optional(),
  gate: z.enum(['none', 'rnn', 'ffgate1', 'ffgate2']).default('rnn'),
  // hard = straight-through 1[p > 0.5] (SP); soft = continuous mask while training (paper Table 3 "St").
  gateMode: z.enum(['hard', 'soft']).default('hard'),
});

/** Cross-field checks. Runs even when a sibling field is invalid (so all problems show at once), hence the typeof guards. */
function checkModel(m: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const arch = m.arch ?? 'cifar';
  const depth = m.depth ?? (arch === 'imagenet' ? DEFAULT_DEPTH.imagenet : DEFAULT_DEPTH.cifar);
  if (typeof depth === 'number' && Number.isInteger(depth) && depth > 0) {
    if (arch === 'cifar' && !isCifarDepth(depth)) {
      ctx.addIssue({
        code: 'custom',
        path: ['depth'],
        message: `CIFAR ResNets have depth 6n+2 (20, 32, 38, 56, 74, 110, 152...), got ${depth}`,
      });
    }
    if (arch === 'imagenet' && !(IMAGENET_DEPTHS as readonly number[]).includes(depth)) {
      ctx.addIssue({ code: 'custom', path: ['depth'], message: `ImageNet ResNets have depth ${IMAGENET_DEPTHS.join(', ')}, got ${depth}` });
    }
  }
  // The reference has RNN gates only on ImageNet; the FF gates' pooling sizes are derived
  // from CIFAR feature-map sizes (spec 1.2, 2).
  if (arch === 'imagenet' && (m.gate === 'ffgate1' || m.gate === 'ffgate2')) {
    ctx.addIssue({ code: 'custom', path: ['gate'], message: `ImageNet SkipNets use RNN gates ('rnn' or 'none'), got '${m.gate}'` });
  }
}

const ModelSchema = ModelShape.superRefine((m, ctx) => checkModel(m as Record<string, unknown>, ctx), {
  when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
}).transform((m) => ({ ...m, depth: m.depth ?? DEFAULT_DEPTH[m.arch] }));

const DataSchema = z
  .strictObject({
    source: DataSourceSchema,
    // Unset = CIFAR augmentation for the CIFAR binaries, ImageNet's for the ImageNet layout, none otherwise.
    augment: z.enum(['none', 'cifar', 'imagenet']).optional(),
    /** An image file that cannot be decoded: 'error' stops with its name; 'skip' replaces the sample and counts the file. */
    badFiles: z.enum(['error', 'skip']).default('error'),
    /**
     * Threads that decode and resize each batch of image files (ImageNet per-batch decoding);
     * default: the run's \`threads\` (its share of the CPUs under \`skipnet launch\`).
     */
    decodeThreads: z.number().int().min(1).max(1024).optional(),
    normalization: NormalizationSchema.default('auto'),
    batchSize: positiveInt.default(128),
    evalBatchSize: positiveInt.default(256),
  })
  .transform((d) => ({
    ...d,
    augment:
      d.augment ??
      (d.source.kind === 'cifar10' || d.source.kind === 'cifar100'
        ? 'cifar'
        : d.source.kind === 'imagenet' && !d.source.preload
          ? 'imagenet' // RandomResizedCrop + flip; decoded per batch (spec 7)
          : 'none'),
  }));

const OptimizerSchema = z
  .strictObject({
    lr: z.number().positive().default(0.1),
    momentum: z.number().min(0).lt(1).default(0.9),
    weightDecay: z.number().min(0).default(1e-4),
    nesterov: z.boolean().default(false),
  })
  .refine((o) => !o.nesterov || o.momentum > 0, {
    path: ['nesterov'],
    message: 'Nesterov momentum needs optimizer.momentum > 0',
  });

const ScheduleSchema = z
  .strictObject({
    kind: z.enum(['step', 'cosine']).default('step'),
    /** Total optimizer steps (iterations), the whole run. */
    steps: positiveInt.default(64_000),
    /** Absolute steps at which a step schedule multiplies the lr by gamma. Ones past `steps` never fire. */
    milestones: z.array(positiveInt).default([32_000, 48_000]),
    gamma: z.number().positive().max(1).default(0.1),
    warmupSteps: z.number().int().min(0).default(0),
    /** linear: ramp from warmupLr to lr; constant: hold warmupLr (the reference's --warm-up). */
    warmup: z.enum(['linear', 'constant']).default('linear'),
    /** Unset = 0 for linear, 0.01 for constant (the reference's --warm-up value). */
    warmupLr: z.number().min(0).optional(),
  })
  .transform((s) => ({ ...s, warmupLr: s.warmupLr ?? (s.warmup === 'constant' ? 0.01 : 0) }))
  .superRefine((s, ctx) => {
    for (let i = 1; i < s.milestones.length; i++) {
      if (s.milestones[i]! <= s.milestones[i - 1]!) {
        ctx.addIssue({
          code: 'custom',
          path: ['milestones'],
          message: `must be strictly increasing, got [${s.milestones.join(', ')}]`,
        });
        break;
      }
    }
    if (s.warmupSteps >= s.steps) {
      ctx.addIssue({
        code: 'custom',
        path: ['warmupSteps'],
        message: `must be below schedule.steps (${s.steps}), got ${s.warmupSteps}`,
      });
    }
    if (s.warmup === 'constant' && s.warmupSteps > 0 && s.warmupLr <= 0) {
      ctx.addIssue({ code: 'custom', path: ['warmupLr'], message: 'a constant warm-up needs warmupLr > 0' });
    }
  });

// Hybrid RL stage (spec section 4). Defaults are the CIFAR reference's.
const HrlSchema = z.strictObject({
  alpha: z.number().min(0).default(0.1),
  /** Weight of the cross-entropy in the terminal reward: 1 (CIFAR/SVHN) or 'alpha/M' (ImageNet). */
  beta: z.union([z.number().min(0), z.literal('alpha/M')]).default(1),
  gamma: z.number().min(0).max(1).default(1),
  rlWeight: z.number().min(0).default(0.01),
  reduction: z.enum(['sum', 'mean']).default('sum'),
  /** Variance reduction, an improvement over the reference (which has none). */
  baseline: z.enum(['none', 'moving-average', 'self-critical']).default('none'),
  baselineMomentum: z.number().min(0).max(1).default(0.9),
  /** 'skip': compute each block only for the samples whose sampled action runs it (faster; BN over those samples). */
  execution: z.enum(['mask', 'skip']).default('mask'),
  /** Multiply the recurrent gate's projection by this when HRL starts from SP weights (ImageNet: 20). */
  sharpen: z.number().positive().default(1),
  /**
   * Not in the reference: added to the recurrent gate's logit bias when HRL starts from SP
   * weights, after sharpen. With a small sharpen (0.01) every gate then starts near
   * sigmoid(gateBiasShift): 2.2 gives p = 0.9. Why: an SP run that held the gates open trained
   * its blocks for full routing while its gates stayed untrained; from p = 0.5 the first HRL
   * steps sample half the blocks, and the policy can fall to skipping everything even at alpha
   * 0 (CIFAR-10 reproduction, twelfth try: seed 2 of the eleventh try's recipe had every gate
   * under 1 % executed by step 120). Starting near full routing matches what the blocks learned.
   */
  gateBiasShift: z.number().min(-20).max(20).default(0),
  /**
   * Not in the reference (0 there): the probability that a training action is a fair coin
   * instead of a draw from Bernoulli(p). The policy that acts is then q = (1 - explore) p +
   * explore / 2, and REINFORCE uses its log-probability. A shut gate (p near 0) still opens its
   * block for about explore / 2 of the images: the block keeps training, and the returns keep
   * telling whether opening it pays. Evaluation thresholds p as without it. (CIFAR-10
   * reproduction, tenth try: 0.1 held the execution target's rate and reopened a gate for a while,
   * but over a 2000-step budget it ended 3.03 points below the ninth try's rate 0.7 without it,
   * which started from another SP run.)
   */
  explore: z.number().min(0).lt(1).default(0),
  /**
   * Not in the reference: adds weight * (|z| - limit)^2 to the loss for every gate logit z
   * (p = sigmoid(z)) beyond +-limit, summed over gates and images like the RL term. Why: once a
   * gate's p is near 1 it almost never samples a skip, and REINFORCE's gradient of its logit,
   * (a - p) times the advantage, vanishes with 1 - p, so no skip reward in reach moves it again
   * (CIFAR-10 reproduction, twelfth try: every gate executed at least 0.991 after step 500 and no
   * block was dropped). This penalty's gradient does not vanish, so a gate stays within the limit
   * (limit 3: p between 0.047 and 0.953) and keeps sampling both actions. Evaluation thresholds p
   * as without it. side 'execute' bounds only z above +limit: no gate saturates open, but a gate
   * that shuts may saturate shut, and once below -limit it is not pulled back up ('both', the
   * default, holds it at -limit, where it still samples its block now and then). Gates still in
   * transit reopen either way when alpha falls fast (CIFAR-10 reproduction, fourteenth try).
   */
  logitBound: z
    .strictObject({
      limit: z.number().positive().max(1000),
      weight: z.number().positive().default(0.01),
      side: z.enum(['both', 'execute']).default('both'),
    })
    .optional(),
  /**
   * Not in the reference: alpha adapts each step so that the sampled actions execute about `rate`
   * of the (image, gated block) pairs: alpha <- max(0, alpha + alphaStep * (executed - rate)),
   * starting from hrl.alpha (dual ascent on "executed <= rate"). The compute is then chosen, not
   * found by trying alphas. With ranks, executed is taken over the global batch. Keep alphaStep
   * small: the policy answers alpha with a lag and gates shut at p near 0 are rarely sampled open
   * again, so an alpha that runs past the value giving the rate shuts blocks for good (CIFAR-10
   * reproduction, ninth try: rate 0.7 ended at 0.53 executed with alphaStep 0.005, the default, and
   * near 0.41 with 0.0075, 0.01 and 0.02). alphaStepDown (default alphaStep) is the step while
   * the sampled actions execute less than the rate: a larger one takes alpha off as soon as a
   * cascade of shutting gates passes the rate, while gates in transit can still be pulled back
   * (eleventh try: 0.5 kept 11 of 17 blocks where the ninth try kept 9, 73.79 % against 73.64 %).
   */
  executionTarget: z
    .strictObject({
      rate: z.number().gt(0).lt(1),
      alphaStep: z.number().positive().default(0.005),
      alphaStepDown: z.number().positive().optional(),
    })
    .optional(),
});

// Data-parallel training (`skipnet launch`). Who this process is (rank, world size, the
// rendezvous address) comes from the environment, as torchrun's contract has it: one config
// serves every rank. data.batchSize stays the global batch; each rank takes batchSize / world.
const DistributedSchema = z.strictObject({
  /** 'auto': nccl for CUDA devices when the build has it, else gloo. */
  backend: z.enum(['auto', 'gloo', 'nccl']).default('auto'),
  /** Milliseconds for every rank to join. */
  timeoutMs: positiveInt.default(60_000),
  /** Milliseconds one collective may wait for a stuck rank (a rank that exits fails it at once). */
  collectiveTimeoutMs: positiveInt.default(300_000),
  /** Milliseconds the other ranks wait while rank 0 evaluates and writes a checkpoint. */
  evalTimeoutMs: positiveInt.default(6 * 3_600_000),
  /** Gradient all-reduce bucket size (MB). */
  bucketMb: z.number().positive().default(25),
  /** SP steps all-reduce gradient buckets while backward runs (HRL steps average after backward). */
  overlap: z.boolean().default(true),
  /**
   * Batch-norm statistics over the global batch (all ranks) instead of each rank's shard, as
   * torch.nn.SyncBatchNorm; costs two small all-reduces per batch-norm layer and step.
   */
  syncBatchNorm: z.boolean().default(false),
});

/** torch.cuda.amp.GradScaler's defaults: initial scale 2^16, doubled after 2000 finite steps. */
export const LOSS_SCALING_DEFAULTS = { initScale: 65536, growthInterval: 2000 } as const;

export const RunConfigSchema = z.strictObject({
  /** 'sp': supervised pre-training (straight-through gates); 'hrl': hybrid reinforcement learning. */
  stage: z.enum(['sp', 'hrl']).default('sp'),
  hrl: HrlSchema.prefault({}),
  /**
   * SP only: for the first N steps every gate executes in the forward pass (the backbone trains as
   * the plain ResNet) while the straight-through gradient already trains the gates. Not in the
   * reference (0 there); it keeps short budgets from collapsing into all-skip early on.
   */
  gateWarmupSteps: z.number().int().min(0).default(0),
  /**
   * The gates read the block outputs detached, so the gates' own training signal trains the gates
   * alone and the backbone learns from the classification path only: in SP the straight-through
   * gradient, in HRL the policy-gradient term and the logit bound. Not in the reference (false
   * there), where every gate's gradient also flows into the features it read.
   */
  gatesReadDetached: z.boolean().default(false),
  /**
   * SP only: adds weight * (r - rate)^2 to the loss, r being the fraction of (image, gated block)
   * pairs the hard gates execute in the batch (soft gates: the mean probability; ConvNet-AIG's target-rate idea on SkipNet's
   * straight-through gates). Not in the reference; it keeps short budgets from collapsing into
   * all-skip or saturating into all-execute, so that SP itself lands near the chosen compute.
   */
  executionTarget: z
    .strictObject({
      rate: z.number().gt(0).lt(1),
      weight: z.number().positive().default(2),
      /**
       * Over what the executed fraction is taken. 'network' (default): all (image, gated block)
       * pairs of the batch, so the gates may spend it unevenly, down to shutting a whole stage.
       * 'stage': each stage's gated blocks apart, weight * mean_s (r_s - rate)^2, so that every
       * stage keeps about rate of its depth while the gates still choose which blocks and images.
       * 'gate': ConvNet-AIG's per-layer form, weight * mean_k (r_k - rate)^2, every block on about
       * rate of the images.
       */
      scope: z.enum(['network', 'stage', 'gate']).default('network'),
    })
    .optional(),
  /** Checkpoint (or run folder) whose weights start this run: fresh optimizer, step 0 (HRL from SP). */
  init: z.string().min(1).optional(),
  model: ModelSchema.prefault({}),
  // prefault({}) (not optional) so a missing data block is reported at data.source, with the hint.
  data: DataSchema.prefault({} as never),
  optimizer: OptimizerSchema.prefault({}),
  schedule: ScheduleSchema.prefault({}),
  /**
   * End the run after this many optimizer steps while the learning-rate schedule keeps
   * schedule.steps' length: one stage of a longer recipe, e.g. HRL for
   * the first half of its schedule and then SP (--init) for the rest. The run evaluates and
   * saves last/ at this step; --resume with a later stopAt continues it. Absent: schedule.steps.
   */
  stopAt: positiveInt.optional(),
  evalEvery: positiveInt.default(1000),
  logEvery: positiveInt.default(50),
  /** Gate execute threshold at evaluation: block runs when p > threshold (strict, as the reference). */
  threshold: z.number().min(0).max(1).default(0.5),
  device: z
    .string()
    .regex(/^(cpu|cuda(:\d+)?)$/, "must be 'cpu', 'cuda' or 'cuda:N'")
    .default('cpu'),
  /**
   * Mixed precision: the forward passes run under autocast in this dtype, weights, gradients and
   * optimizer state stay float32. 'bf16' works on CPU and CUDA; 'fp16' needs CUDA and uses
   * dynamic loss scaling.
   */
  precision: z.enum(['fp32', 'bf16', 'fp16']).default('fp32'),
  /** CUDA: cuDNN autotunes its convolution algorithms (torch.backends.cudnn.benchmark); no effect on the CPU. */
  cudnnBenchmark: z.boolean().default(true),
  /** Dynamic loss scaling (torch.cuda.amp.GradScaler's rule); enabled defaults to precision === 'fp16'. */
  lossScaling: z
    .strictObject({
      enabled: z.boolean().optional(),
      initScale: z.number().positive().default(LOSS_SCALING_DEFAULTS.initScale),
      growthInterval: positiveInt.default(LOSS_SCALING_DEFAULTS.growthInterval),
    })
    .prefault({}),
  /** LibTorch intra-op threads. */
  threads: positiveInt.default(() => os.availableParallelism()),
  seed: z.number().int().min(0).default(0),
  outDir: z.string().min(1).default('runs/skipnet'),
  distributed: DistributedSchema.prefault({}),
}).superRefine((c, ctx) => {
  if (c.stage === 'hrl' && c.model.gate === 'none') {
    ctx.addIssue({ code: 'custom', path: ['stage'], message: "the HRL stage trains gates: model.gate must be 'rnn', 'ffgate1' or 'ffgate2', got 'none'" });
  }
  if (c.stage === 'hrl' && c.model.gate !== 'rnn' && (c.hrl.sharpen !== 1 || c.hrl.gateBiasShift !== 0)) {
    ctx.addIssue({
      code: 'custom',
      path: ['hrl'],
      message: `hrl.sharpen and hrl.gateBiasShift retune the recurrent gate's projection: they need model.gate 'rnn' (got '${c.model.gate}'); leave them at 1 and 0`,
    });
  }
  if (c.precision === 'fp16' && c.device === 'cpu') {
    ctx.addIssue({ code: 'custom', path: ['precision'], message: "precision 'fp16' needs a CUDA device (autocast on the CPU computes in bf16): use 'bf16' or 'fp32' on the CPU, or device 'cuda'" });
  }
  if (c.distributed.syncBatchNorm && c.stage === 'hrl' && c.hrl.execution === 'skip') {
    ctx.addIssue({
      code: 'custom',
      path: ['distributed', 'syncBatchNorm'],
      message: "synchronised batch norm needs every rank to run the same blocks: use hrl.execution 'mask' with it, or turn it off",
    });
  }
  if (c.gateWarmupSteps > 0 && (c.stage !== 'sp' || c.model.gate === 'none' || c.model.gateMode !== 'hard')) {
    ctx.addIssue({
      code: 'custom',
      path: ['gateWarmupSteps'],
      message: `gate warm-up holds hard SP gates open: it needs stage 'sp', a gated model and gateMode 'hard' (got stage '${c.stage}', gate '${c.model.gate}', gateMode '${c.model.gateMode}'); set gateWarmupSteps to 0`,
    });
  }
  if (c.gatesReadDetached && c.model.gate === 'none') {
    ctx.addIssue({
      code: 'custom',
      path: ['gatesReadDetached'],
      message: `detached gate inputs need a gated model (got gate 'none'); set gatesReadDetached to false or choose a gate`,
    });
  }
  if (c.stopAt !== undefined && c.stopAt > c.schedule.steps) {
    ctx.addIssue({
      code: 'custom',
      path: ['stopAt'],
      message: `must be at most schedule.steps (${c.schedule.steps}), got ${c.stopAt}: raise schedule.steps or lower stopAt`,
    });
  }
  if (c.executionTarget && (c.stage !== 'sp' || c.model.gate === 'none')) {
    ctx.addIssue({
      code: 'custom',
      path: ['executionTarget'],
      message: `the execution target trains SP gates: it needs stage 'sp' and a gated model (got stage '${c.stage}', gate '${c.model.gate}'); HRL has its own, hrl.executionTarget`,
    });
  }
});

export type RunConfig = z.output<typeof RunConfigSchema>;
export type RunConfigInput = z.input<typeof RunConfigSchema>;
export type ScheduleConfig = RunConfig['schedule'];
export type ModelConfig = RunConfig['model'];
export type DataConfig = RunConfig['data'];
export type HrlConfig = RunConfig['hrl'];

/** A partial config: what presets, config files and overrides each contribute. */
export type ConfigLayer = DeepPartial<RunConfigInput>;
type DeepPartial<T> = T extends (infer U)[] ? U[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

// ---------------------------------------------------------------- errors

export interface ConfigIssue {
  path: string; // e.g. "model.depth", "schedule.milestones[1]"
  message: string;
}

/** SkipNetError ERR_CONFIG that also carries the issues one by one (for tests and tools). */
export class ConfigError extends SkipNetError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], header = 'invalid config') {
    super('ERR_CONFIG', [header + ':', ...issues.map((i) => `  ${i.path || '(config)'}: ${i.message}`)].join('\n'));
    this.issues = issues;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Turn zod issues into "path: message" lines, adding the offending value and key suggestions. */
function toConfigIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  return issues.map((iss) => {
    const path = formatPath(iss.path);
    if (iss.code === 'unrecognized_keys') {
      const hints = iss.keys.map((k) => {
        const near = closestKey(k, knownKeysAt(iss.path));
        return near ? `'${k}' (did you mean '${near}'?)` : `'${k}'`;
      });
      return { path, message: `unknown key${iss.keys.length > 1 ? 's' : ''} ${hints.join(', ')}` };
    }
    if (iss.code === 'invalid_type' && iss.input === undefined && iss.message.startsWith('Invalid input')) {
      return { path, message: `required (${iss.expected})` };
    }
    // zod's own messages omit the value; people fix configs faster when they see it.
    const showInput = (iss.code === 'invalid_type' || iss.code === 'invalid_value' || iss.code === 'too_small' ||
      iss.code === 'too_big' || iss.code === 'invalid_format' || iss.code === 'invalid_union') && 'input' in iss;
    const message = showInput && iss.input !== undefined ? `${iss.message}, got ${describeValue(iss.input)}` : iss.message;
    return { path, message };
  });
}

// Keys that exist at a path, read off a fully defaulted config, to suggest fixes for typos.
let knownShape: Record<string, unknown> | undefined;
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  knownShape ??= RunConfigSchema.parse({ data: { source: { kind: 'synthetic' } } }) as Record<string, unknown>;
  let node: unknown = knownShape;
  for (const key of path) node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined;
  if (!node || typeof node !== 'object' || Array.isArray(node)) return [];
  const keys = Object.keys(node);
  // Optional fields do not appear in the defaulted output; add the ones people type.
  if (path.length === 1 && path[0] === 'data') keys.push('augment');
  if (path.length === 1 && path[0] === 'schedule') keys.push('warmupLr');
  return keys;
}

function closestKey(key: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase());
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

// ---------------------------------------------------------------- parse

/** Validate a config object (all fields optional except data.source) and fill in defaults. */
export function parseConfig(input: unknown): RunConfig {
  const result = RunConfigSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ConfigError(toConfigIssues(result.error.issues));
  return result.data;
}

// ---------------------------------------------------------------- layering

type Json = Record<string, unknown>;

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep-merge config layers, later ones winning. Arrays are replaced, not merged. An object
 * whose `kind` changes is replaced whole, so switching data.source from cifar10 to synthetic
 * does not drag the old `root` along.
 */
export function mergeLayers(...layers: unknown[]): Json {
  let out: Json = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (!isPlainObject(layer)) throw new ConfigError([{ path: '', message: `expected an object, got ${describeValue(layer)}` }]);
    out = mergeTwo(out, layer);
  }
  return out;
}

function mergeTwo(base: Json, over: Json): Json {
  if ('kind' in over && 'kind' in base && over.kind !== base.kind) return structuredClone(over);
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue; // an unset flag must not erase a lower layer's value
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeTwo(out[k] as Json, v) : structuredClone(v);
  }
  return out;
}

/**
 * Parse the value half of `key=value`: JSON when it parses (numbers, booleans, arrays,
 * objects, quoted strings), a plain number for forms JSON rejects ('.5', '007'), else the raw
 * string, so `model.gate=rnn` and `device=cuda:0` need no quotes.
 */
export function parseOverrideValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    const n = Number(raw);
    return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
  }
}

/** Apply `dot.path=value` overrides in order to a (copied) config object. */
export function applyOverrides(base: Json, overrides: readonly string[]): Json {
  const out = structuredClone(base);
  for (const item of overrides) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? '' : item.slice(0, eq).trim();
    const segments = key.split('.');
    if (eq < 0 || segments.some((s) => s === '')) {
      throw new ConfigError([{ path: key, message: `--set expects key=value with a dotted key (e.g. model.depth=74), got '${item}'` }], 'invalid override');
    }
    setPath(out, segments, parseOverrideValue(item.slice(eq + 1)));
  }
  return out;
}

function setPath(root: Json, segments: string[], value: unknown): void {
  let node: Json = root;
  for (let i = 0; i < segments.length - 1; i++) {
    const key = segments[i]!;
    const next = node[key];
    if (Array.isArray(next) || isPlainObject(next)) node = next as Json;
    else node = node[key] = {};
  }
  const last = segments[segments.length - 1]!;
  // Same rule as mergeLayers: a new `kind` starts a fresh object (the parent is replaced in place).
  if (last === 'kind' && 'kind' in node && node.kind !== value) {
    for (const k of Object.keys(node)) delete node[k];
  }
  node[last] = value;
}

/** Read a JSON config file; errors name the file. */
export async function readConfigFile(path: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SkipNetError('ERR_CONFIG', `cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SkipNetError('ERR_CONFIG', `config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(value)) throw new SkipNetError('ERR_CONFIG', `config file ${path} must hold a JSON object`);
  return value;
}

export interface ResolveConfigOptions {
  /** Lowest layer: fallbacks that any other layer may replace (e.g. a timestamped outDir). */
  defaults?: ConfigLayer;
  /** A config to start from (e.g. a checkpoint's config when resuming), below the preset. */
  base?: unknown;
  preset?: string;
  configFile?: string;
  /** `dot.path=value` strings, in order. */
  overrides?: readonly string[];
  /** Highest layer: typed values from dedicated CLI flags (--steps, --out...). */
  flags?: ConfigLayer;
}

/** defaults, base, preset, config file, --set overrides, flags; later wins; then validated. */
export async function resolveConfig(opts: ResolveConfigOptions): Promise<RunConfig> {
  const layers: unknown[] = [opts.defaults, opts.base];
  if (opts.preset) layers.push(getPreset(opts.preset).config);
  if (opts.configFile) layers.push(await readConfigFile(opts.configFile));
  const merged = applyOverrides(mergeLayers(...layers), opts.overrides ?? []);
  return parseConfig(mergeLayers(merged, opts.flags));
}
