// Public API of the skipnet package.

export { SkipNetError, isSkipNetError, ERROR_CODES, type SkipNetErrorCode } from './errors.js';

// Config and recipes
export {
  parseConfig,
  resolveConfig,
  mergeLayers,
  applyOverrides,
  parseOverrideValue,
  readConfigFile,
  isCifarDepth,
  IMAGENET_DEPTHS,
  RunConfigSchema,
  DataSourceSchema,
  ConfigError,
  type RunConfig,
  type RunConfigInput,
  type ConfigLayer,
  type ConfigIssue,
  type ModelConfig,
  type DataConfig,
  type ScheduleConfig,
  type ResolveConfigOptions,
} from './config.js';
export { PRESETS, getPreset, listPresets, type Preset } from './presets.js';

// Training and evaluation
export { train, type TrainOptions } from './train/trainer.js';
export { evaluate, evaluateModel, type EvaluateOptions } from './train/evaluate.js';
export type { TrainEvent, TrainSummary } from './train/events.js';
export type { Backend, DataApi } from './train/deps.js';
export { learningRate } from './train/schedule.js';
export {
  EvalAccumulator,
  TrainMeter,
  computationPercentage,
  type EvalMetrics,
  type MacsStats,
  type TrainWindow,
} from './train/metrics.js';
export {
  saveCheckpoint,
  copyCheckpoint,
  loadCheckpoint,
  readCheckpointState,
  resolveCheckpointDir,
  CHECKPOINT_VERSION,
  type CheckpointState,
} from './train/checkpoint.js';
export {
  normalizationFor,
  CIFAR_NORMALIZATION,
  IMAGENET_NORMALIZATION,
  FASHION_MNIST_NORMALIZATION,
  type Normalization,
} from './train/normalization.js';
export { modelSpecFor } from './train/model-spec.js';

// Data-parallel training: the launcher behind `skipnet launch`, and torchrun's rank environment
export { launch, type LaunchOptions, type LaunchResult, type RankExit } from './distributed/launcher.js';
export { rankFromEnv, perRankBatchSize, rankSampleSeed, type RankEnv } from './distributed/rank.js';

// Inference service: micro-batched predictions that really skip blocks
export { Classifier, softmax } from './service/classifier.js';
export { THRESHOLD_GRID, thresholdForBudget } from './service/budget.js';
export type {
  ImageInput,
  RawImage,
  ClassifierOptions,
  PredictOptions,
  PredictResult,
  TopKEntry,
  Calibration,
  CalibrationPoint,
  ClassifierStats,
  ModelSourceInfo,
} from './service/types.js';

// Native addon and data (their own modules; re-exported for one import point)
export { loadNative, nativeLoadInfo } from './native.js';
export { createModel } from './model.js';
export { openDataset, BatchLoader, fullPass } from './data/index.js';
export type { ImageDataset, DataSourceSpec, Batch, Split, Augmentation } from './data/types.js';
export type * from './binding-types.js';
