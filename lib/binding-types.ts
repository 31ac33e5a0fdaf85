// The typed surface of the native addon (native/addon.cc). This file is the
// contract between lib/ and native/: every call that crosses into C++ is here.

/** One batch as it crosses into C++: uint8 pixels in NHWC order plus int32 labels. */
export interface NativeBatch {
  images: Uint8Array; // n * height * width * channels bytes, NHWC
  labels: Int32Array; // n labels in [0, numClasses)
  n: number;
  height: number;
  width: number;
  channels: number;
}

export type GateKind = 'none' | 'rnn' | 'ffgate1' | 'ffgate2';
export type GateMode = 'hard' | 'soft';
export type ArchKind = 'cifar' | 'imagenet';

/** What C++ needs to build a model. Validated in TypeScript (lib/config.ts) first. */
export interface NativeModelSpec {
  arch: ArchKind;
  depth: number; // cifar: 6n+2; imagenet: 18, 34, 50, 101, 152
  gate: GateKind;
  gateMode: GateMode; // hard = straight-through; soft = continuous mask in training
  numClasses: number;
  inChannels: number; // 1 or 3
  mean: number[]; // per channel, on the 0..1 scale
  std: number[];
  device: string; // 'cpu' | 'cuda' | 'cuda:N'
  threads: number; // LibTorch intra-op threads
  seed: number;
  /** Default float32; float64 exists for gradient checks against reference implementations. */
  dtype?: 'float32' | 'float64';
  /** Autocast dtype of the forward passes (weights stay float32); 'fp16' needs CUDA. Default 'fp32'. */
  precision?: 'fp32' | 'bf16' | 'fp16';
  /** CUDA: cuDNN benchmarks convolution algorithms for the shapes it sees (torch.backends.cudnn.benchmark). */
  cudnnBenchmark?: boolean;
  /** Dynamic loss scaling (GradScaler semantics): initial scale and growth interval. Absent: no scaling. */
  lossScale?: { initScale: number; growthInterval: number };
}

export interface OptimizerArgs {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  /** SP gate warm-up: the forward pass executes every block; gates still get the straight-through gradient. */
  gatesOpen?: boolean;
  /**
   * SP execution target: adds weight * mean over groups of (group's executed fraction - rate)^2 to
   * the loss (straight-through to the gates); the groups: the whole network (default), each stage's
   * gated blocks, or each gate.
   */
  executionTarget?: { rate: number; weight: number; scope?: 'network' | 'stage' | 'gate' };
  /** The gates read detached features: their gradient trains the gates, not the backbone below them. */
  gatesReadDetached?: boolean;
}

/** Hybrid reinforcement learning (spec section 4). */
export interface HrlArgs {
  alpha: number; // skip reward: each skipped block pays alpha / M
  beta: number; // weight of the cross-entropy in the terminal reward: 1 (CIFAR/SVHN) or alpha / M (ImageNet)
  gamma: number; // discount along the gates (1 in the reference)
  rlWeight: number; // w in the policy-gradient loss -w * sum G log pi (0.01 in the reference)
  reduction: 'sum' | 'mean'; // over the batch: 'sum' as the CIFAR code effectively does
  // 'none' as the reference; 'moving-average' subtracts a per-gate moving average of the returns;
  // 'self-critical' subtracts the greedy policy's returns on the same batch (one extra forward).
  baseline: 'none' | 'moving-average' | 'self-critical';
  baselineMomentum?: number; // default 0.9
  // 'mask' (default, the reference): every block runs on the whole batch, masked after.
  // 'skip': a block runs only on the samples whose action executes it; batch norm then
  // normalises each block over its executing samples (see README, "HRL that skips").
  execution?: 'mask' | 'skip';
  // Probability that an action is a fair coin instead of a Bernoulli(p) draw (default 0, the
  // reference); REINFORCE then uses the acting policy q = (1 - explore) p + explore / 2.
  explore?: number;
  // A penalty logitPenalty * (|z| - logitLimit)^2 on each gate logit z beyond +-logitLimit,
  // reduced over the batch as the RL term (default 0: off). See README, "HRL options".
  logitLimit?: number;
  logitPenalty?: number;
  // Bound only z above +logitLimit (shut gates may saturate shut); default false: both sides.
  logitUpperOnly?: boolean;
  // The gates read the block outputs detached: the policy-gradient term and the logit bound
  // train the gates alone, the backbone learns from the cross-entropy (default false, the reference).
  gatesReadDetached?: boolean;
  sampleSeed: number; // the step's actions come from a generator seeded with this
}

export interface HrlStepResult extends TrainStepResult {
  rlLoss: number;
  meanReturn: number;
}

export interface TrainStepResult {
  loss: number; // mean cross-entropy over the batch
  correct: number; // top-1 correct in this batch
  n: number;
  gateExec: Float64Array; // per gated block (M = blocks - 1): how many samples executed it
  /** With loss scaling: the scale of this step's loss, and whether its gradients overflowed (no update). */
  lossScale?: number;
  stepSkipped?: boolean;
}

export interface EvalStepResult {
  loss: number; // summed cross-entropy over the batch
  correct1: number;
  correct5: number;
  n: number;
  gateExec: Float64Array; // per gated block: samples that executed it (p > threshold)
  macs: Float64Array; // per sample: conv multiply-accumulates spent, gates included
  executed: Uint8Array; // n * M: 1 where sample s executed gated block i (row-major by sample)
  predictions: Int32Array; // top-1 class per sample
  logits: Float32Array; // n * numClasses, row-major by sample
}

export interface ModelInfo {
  blocks: number; // N residual blocks
  gatedBlocks: number; // M = N - 1 when gated, else 0
  parameters: number; // trainable parameter count, gates included
  gateParameters: number;
  stemMacs: number;
  blockMacs: number[]; // conv MACs of each block when executed (projection included)
  skipMacs: number[]; // conv MACs of each block when skipped (its projection shortcut, or 0)
  gateMacs: number[]; // MACs of each gate call
  headMacs: number; // the final fc layer (not counted in conv MACs; reported apart)
  fullMacs: number; // conv MACs of the plain network (every block, no gates)
  device: string;
  threads: number;
}

export interface VersionInfo {
  libtorch: string;
  cuda: boolean;
  cudaDevices: number;
  napi: number;
  threads: number;
  libtorchPath: string;
  /** Data-parallel backends this build can use ('gloo', 'nccl'). */
  distributedBackends?: string[];
}

/** Data-parallel training (native/distributed.h): one process per rank, torchrun's contract.
 *  A field left out comes from the environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
 *  MASTER_PORT), as `skipnet launch` and torchrun set it. */
export interface DistributedOptions {
  /** 'gloo' (CPU) or 'nccl' (CUDA builds with NCCL). Default: nccl for CUDA models when available, else gloo. */
  backend?: 'gloo' | 'nccl';
  rank?: number;
  worldSize?: number;
  localRank?: number;
  /** Rank 0 serves the rendezvous (a c10d TCPStore) here. Default MASTER_ADDR, else 127.0.0.1. */
  masterAddr?: string;
  /** Default MASTER_PORT, else 29500. */
  masterPort?: number;
  /** Every rank must arrive within this (default 60 000). */
  timeoutMs?: number;
  /** One collective: a peer stuck longer fails the step (default 300 000). A peer that exits fails it at once. */
  collectiveTimeoutMs?: number;
  /** Gradient all-reduce bucket size in MB (default 25). */
  bucketMb?: number;
  /** trainStep all-reduces gradient buckets while backward still runs (default true); hrlStep
   *  always averages after backward. Off for models whose parameter use changes between steps. */
  overlap?: boolean;
  /**
   * Synchronised batch norm: training-mode statistics over every rank's samples (all-reduced
   * in forward and backward), as torch.nn.SyncBatchNorm. Default false: per-rank statistics.
   */
  syncBatchNorm?: boolean;
}

export interface DistributedInfo {
  rank: number;
  worldSize: number;
  localRank: number;
  backend: 'gloo' | 'nccl';
  masterAddr: string;
  masterPort: number;
}

/** What a model offers once it belongs to a process group. Every call is collective: all
 *  ranks make the same calls in the same order. Failures reject with ERR_DISTRIBUTED. */
export interface DataParallel {
  /** Rendezvous, then rank 0's weights are copied to every rank. From then on trainStep and
   *  hrlStep average gradients over the ranks and report group-wide metrics (loss, correct,
   *  n, gateExec of the global batch); each rank passes its own shard of the batch. */
  initDistributed(opts?: DistributedOptions): Promise<DistributedInfo>;
  /** Waits for every rank; timeoutMs defaults to the collective timeout. */
  barrier(timeoutMs?: number): Promise<void>;
  /** Rank 0's text on every rank (the others' argument is ignored); also a barrier. */
  shareFromRoot(text: string, timeoutMs?: number): Promise<string>;
  /** Element-wise sum over the ranks. */
  allReduce(values: Float64Array): Promise<Float64Array>;
}

/** The model as lib/ uses it: lib/model.ts wraps the raw addon object (RawNativeModel)
 *  and adds file I/O (safetensors is parsed and written in TypeScript, so a hostile file
 *  never reaches C++ unchecked). Create one with `createModel(spec)` from lib/model.ts. */
export interface NativeModel {
  trainStep(batch: NativeBatch, opt: OptimizerArgs): Promise<TrainStepResult>;
  /** execution 'skip' (default) runs gated blocks only on the samples that execute them;
   *  'mask' computes every block and masks, as the reference implementation does. */
  evalStep(batch: NativeBatch, threshold: number, execution?: 'skip' | 'mask'): Promise<EvalStepResult>;
  /** Weights (parameters and buffers) as safetensors, names as in bench/pytorch/skipnet_ref.py. */
  saveWeights(path: string): Promise<void>;
  loadWeights(path: string): Promise<void>;
  /** SGD momentum buffers as safetensors. */
  saveOptimizer(path: string): Promise<void>;
  loadOptimizer(path: string): Promise<void>;
  /** Debug/parity: one forward+backward in training mode without an optimizer step.
   *  Returns safetensors bytes with logits, loss, gate probabilities and gradients. */
  inspectStep(batch: NativeBatch): Promise<Uint8Array>;
  /** Architecture facts; MACs are for an input of height x width (default: 32 for cifar, 224 for imagenet). */
  info(height?: number, width?: number): ModelInfo;
  /** One HRL step: sampled gate actions, REINFORCE + cross-entropy, SGD. gateExec counts sampled executions. */
  hrlStep(batch: NativeBatch, opt: OptimizerArgs, hrl: HrlArgs): Promise<HrlStepResult>;
  /** HRL forward/backward without a step; `actions` (M x n, row-major) replaces sampling.
   *  Safetensors bytes: logits, ce, actions, probs, returns, rl, grad.<param>. */
  inspectHrl(batch: NativeBatch, hrl: HrlArgs, actions?: Float64Array): Promise<Uint8Array>;
  /** Multiplies the recurrent gate's projection by factor (the reference's hotter(1/factor) before ImageNet HRL),
   *  then adds biasShift (default 0) to its bias: every gate's logit moves by biasShift. */
  sharpenGate(factor: number, biasShift?: number): Promise<void>;
  dispose(): void;
  /** Data parallel (optional so that test doubles may leave it out; the addon's model has it). */
  initDistributed?: DataParallel['initDistributed'];
  barrier?: DataParallel['barrier'];
  shareFromRoot?: DataParallel['shareFromRoot'];
  allReduce?: DataParallel['allReduce'];
}

/** One named tensor as it crosses the boundary (little-endian bytes). */
export interface TensorEntry {
  name: string;
  dtype: 'F32' | 'F64' | 'I64';
  shape: number[];
  data: Uint8Array;
}

/** What the addon's Model object itself offers (native/addon.cc). */
export interface RawNativeModel {
  trainStep(batch: NativeBatch, opt: OptimizerArgs): Promise<TrainStepResult>;
  evalStep(batch: NativeBatch, threshold: number, execution?: 'skip' | 'mask'): Promise<EvalStepResult>;
  exportState(which: 'weights' | 'optimizer'): Promise<TensorEntry[]>;
  importState(which: 'weights' | 'optimizer', entries: TensorEntry[]): Promise<void>;
  inspectStep(batch: NativeBatch): Promise<TensorEntry[]>;
  hrlStep(batch: NativeBatch, opt: OptimizerArgs, hrl: HrlArgs): Promise<HrlStepResult>;
  inspectHrl(batch: NativeBatch, hrl: HrlArgs, actions?: Float64Array): Promise<TensorEntry[]>;
  sharpenGate(factor: number, biasShift?: number): Promise<void>;
  info(height?: number, width?: number): ModelInfo;
  initDistributed(opts?: DistributedOptions): Promise<DistributedInfo>;
  barrier(timeoutMs?: number): Promise<void>;
  shareFromRoot(text: string, timeoutMs?: number): Promise<string>;
  allReduce(values: Float64Array): Promise<Float64Array>;
  dispose(): void;
}

export interface NativeAddon {
  Model: new (spec: NativeModelSpec) => RawNativeModel;
  versions(): VersionInfo;
  /** The HRL returns for actions (M x B, row-major) and per-sample cross-entropies (B); for tests. */
  hrlReturns(actions: Float64Array, ce: Float64Array, m: number, b: number, hrl: HrlArgs): Float64Array;
  /**
   * Decode and resize a batch of JPEG files on `threads` threads (see lib/data/jpeg-batch.ts for
   * the geometry layout). outcomes[i]: 0 done, 1 not a JPEG, 2 unsupported JPEG (CMYK), 3 corrupt.
   */
  preprocessJpegBatch(
    inputs: Uint8Array[],
    geometry: Int32Array,
    out: Uint8Array,
    threads: number,
  ): Promise<{ outcomes: Int8Array; messages: string[] }>;
}
