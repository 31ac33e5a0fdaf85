// Public shapes of the inference service (lib/service/classifier.ts).

/** Decoded pixels, HWC uint8 (row-major, channels interleaved), already at the model's input size. */
export interface RawImage {
  pixels: Uint8Array;
  height: number;
  width: number;
  /** 1 (grey), 3 (RGB) or 4 (RGBA: alpha is dropped). Converted to the model's channels. */
  channels: number;
}

/** One image: the bytes of an encoded JPEG/PNG file, or raw pixels. */
export type ImageInput = Uint8Array | RawImage;

export interface ClassifierOptions {
  /** 'cpu', 'cuda' or 'cuda:N'. Default: the device in the checkpoint's model spec. */
  device?: string;
  /** LibTorch intra-op threads. Default: the spec's, capped at this machine's cores. */
  threads?: number;
  /** Names for the labels (numClasses entries). Default: from the checkpoint's dataset when it can be found. */
  classNames?: string[];
  /** Most images in one native call (default 32). */
  maxBatch?: number;
  /** How long a request may wait for others to share its native call, in ms (default 2). */
  maxWaitMs?: number;
  /** Model input size (number = square, or [height, width]). Default: the training size (see Classifier.load). */
  inputSize?: number | [number, number];
  /** Threshold used when predict() is given neither threshold nor budget (default 0.5). */
  threshold?: number;
  /** Images kept (the first ones seen) to calibrate `budget` lazily (default 64). */
  calibrationSize?: number;
}

export interface PredictOptions {
  /** Gate threshold: a gated block runs when its gate's p > threshold. Higher = fewer blocks. Default 0.5. */
  threshold?: number;
  /**
   * Fraction (0, 1] of the plain network's conv MACs to spend per image on average. Picks the smallest
   * threshold of THRESHOLD_GRID whose mean MACs on the calibration set fit. Not with `threshold`.
   */
  budget?: number;
  /** Entries in `topK` (default 5, at most numClasses). */
  topK?: number;
}

export interface TopKEntry {
  label: number;
  className?: string;
  probability: number;
}

export interface PredictResult {
  /** Top-1 class. */
  label: number;
  className?: string;
  /** Softmax of the logits, numClasses entries. */
  probabilities: Float32Array;
  /** The raw logits, numClasses entries. */
  logits: Float32Array;
  topK: TopKEntry[];
  /** Blocks that ran, ascending: always 0 (never gated), then every gated block 1..N-1 whose gate said execute. */
  executedBlocks: number[];
  blocksExecuted: number;
  /** Conv multiply-accumulates this image cost (stem, executed blocks, projections of skipped strided blocks, gates). */
  macs: number;
  /** The gate threshold this image ran with (the one `budget` picked, if given). */
  threshold: number;
}

/** One row of the budget calibration: what a threshold costs on the calibration images. */
export interface CalibrationPoint {
  threshold: number;
  /** Mean MACs per image / the plain (ungated, every block) network's MACs. */
  macsFraction: number;
  /** Mean blocks executed per image / N. */
  blocksFraction: number;
}

export interface Calibration {
  images: number;
  points: CalibrationPoint[];
}

export interface ClassifierStats {
  /** Native evalStep calls made (predictions and calibration). */
  nativeCalls: number;
  /** Images run through the model (calibration included). */
  images: number;
  /** predict() calls answered (resolved or rejected). */
  requests: number;
}

/** Where a model came from and what it expects. */
export interface ModelSourceInfo {
  /** The weights file loaded. */
  weights: string;
  /** The checkpoint folder, when loaded from one. */
  checkpoint: string | null;
  inputHeight: number;
  inputWidth: number;
  /** How the input size was decided, for people. */
  inputSizeFrom: string;
}
