// One error class for everything the package throws on purpose. Callers switch
// on `code` (stable) rather than on message text (meant for people); the CLI
// prints `skipnet: <message> (<code>)` and never a stack trace for these.

export const ERROR_CODES = {
  /** The run config (preset, file, --set overrides) failed validation. */
  ERR_CONFIG: 'ERR_CONFIG',
  /** The native addon (or the LibTorch it links) could not be loaded. */
  ERR_NATIVE_LOAD: 'ERR_NATIVE_LOAD',
  /** A CUDA device was asked for but this build or machine has none. */
  ERR_CUDA_UNAVAILABLE: 'ERR_CUDA_UNAVAILABLE',
  /** A function got an argument it cannot use (checked before crossing into C++). */
  ERR_BAD_ARG: 'ERR_BAD_ARG',
  /** A dataset is missing, truncated or inconsistent (e.g. train/test class counts differ). */
  ERR_DATA: 'ERR_DATA',
  /** A checkpoint folder is missing a file, or a file is corrupt or incompatible. */
  ERR_CHECKPOINT: 'ERR_CHECKPOINT',
  /** Training produced a NaN/Inf loss; the last good checkpoint is kept. */
  ERR_NAN_LOSS: 'ERR_NAN_LOSS',
  /** A model was used after dispose(). */
  ERR_DISPOSED: 'ERR_DISPOSED',
  /** LibTorch itself failed (shape error, out of memory...), message without C++ backtrace. */
  ERR_TORCH: 'ERR_TORCH',
  /** Training was stopped through its AbortSignal (after saving `last/`). */
  ERR_ABORTED: 'ERR_ABORTED',
  /** A weights/optimizer file is malformed or does not fit the model (names, shapes). */
  ERR_WEIGHTS: 'ERR_WEIGHTS',
  /** Data-parallel training failed: a rank never joined, stopped, or timed out (the message names the rank). */
  ERR_DISTRIBUTED: 'ERR_DISTRIBUTED',
} as const;

export type SkipNetErrorCode = keyof typeof ERROR_CODES;

export class SkipNetError extends Error {
  // `string`, not SkipNetErrorCode: the addon may report finer codes (e.g. ERR_TORCH_OOM)
  // through this same class, and callers must not break when a new one appears.
  readonly code: string;

  constructor(code: SkipNetErrorCode | (string & {}), message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SkipNetError';
    this.code = code;
  }
}

/**
 * True for SkipNetError instances, and for errors built by the addon under the same
 * name (it may construct them without this module's class). Node's own ERR_* errors
 * (ERR_MODULE_NOT_FOUND...) are not ours and do not count.
 */
export function isSkipNetError(err: unknown): err is SkipNetError {
  if (err instanceof SkipNetError) return true;
  return err instanceof Error && err.name === 'SkipNetError' && typeof (err as { code?: unknown }).code === 'string';
}
