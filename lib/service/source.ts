// From what Classifier.load was given (a checkpoint folder, a run folder, or a bare
// .safetensors weights file) to a model spec, the weights path, the input size and,
// when the training data can still be found, the class names.

import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { NativeModelSpec } from '../binding-types.js';
import { FASHION_MNIST_CLASSES } from '../data/idx.js';
import { readNameList } from '../data/util.js';
import type { DataSourceSpec } from '../data/types.js';
import { SkipNetError } from '../errors.js';
import { readCheckpointState, resolveCheckpointDir, STATE_FILE, WEIGHTS_FILE, type CheckpointState } from '../train/checkpoint.js';

export interface ResolvedSource {
  spec: NativeModelSpec;
  weights: string;
  checkpoint: string | null;
  state: CheckpointState | null;
}

const MAX_HEADER = 100 * 1024 * 1024;

/** The __metadata__ of a safetensors file, reading only its header. */
export async function readSafetensorsMetadata(file: string): Promise<Record<string, string>> {
  const invalid = (problem: string) => new SkipNetError('ERR_WEIGHTS', `${file} is not a valid safetensors file: ${problem}`);
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new SkipNetError('ERR_WEIGHTS', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const size = (await fh.stat()).size;
    if (size < 8) throw invalid(`it has ${size} bytes, fewer than the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const hlen = lenBuf.readBigUInt64LE(0);
    if (hlen > BigInt(Math.min(MAX_HEADER, size - 8))) throw invalid(`the header length ${hlen} exceeds the file (${size} bytes)`);
    const header = Buffer.alloc(Number(hlen));
    await fh.read(header, 0, header.length, 8);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(header));
    } catch (err) {
      throw invalid(`the header is not valid UTF-8 JSON (${(err as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('the header is not a JSON object');
    const meta = (json as Record<string, unknown>).__metadata__;
    if (meta === undefined) return {};
    if (typeof meta !== 'object' || meta === null) throw invalid('__metadata__ is not an object');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
    return out;
  } finally {
    await fh.close();
  }
}

/** Checks the model spec stored in a weights file's metadata (it is untrusted input). */
export function parseSpec(text: string, where: string): NativeModelSpec {
  const bad = (problem: string): never => {
    throw new SkipNetError('ERR_WEIGHTS', `${where}: __metadata__.spec ${problem}`);
  };
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    return bad(`is not JSON (${(err as Error).message})`);
  }
  if (typeof s !== 'object' || s === null || Array.isArray(s)) bad('is not a JSON object');
  const int = (k: string, min: number) => {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(`field ${k} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const oneOf = <T extends string>(k: string, values: readonly T[], fallback?: T): T => {
    const v = s[k] ?? fallback;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) bad(`field ${k} must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  const arch = oneOf('arch', ['cifar', 'imagenet'] as const);
  const depth = int('depth', 1);
  const gate = oneOf('gate', ['none', 'rnn', 'ffgate1', 'ffgate2'] as const);
  const gateMode = oneOf('gateMode', ['hard', 'soft'] as const, 'hard');
  const numClasses = int('numClasses', 1);
  const inChannels = int('inChannels', 1);
  const stats = (k: string): number[] => {
    const v = s[k];
    if (!Array.isArray(v) || v.length !== inChannels || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      bad(`field ${k} must be ${inChannels} finite numbers, got ${JSON.stringify(v)}`);
    }
    return v as number[];
  };
  const spec: NativeModelSpec = {
    arch,
    depth,
    gate,
    gateMode,
    numClasses,
    inChannels,
    mean: stats('mean'),
    std: stats('std'),
    device: typeof s.device === 'string' ? s.device : 'cpu',
    threads: typeof s.threads === 'number' && Number.isInteger(s.threads) && s.threads > 0 ? s.threads : 1,
    seed: typeof s.seed === 'number' && Number.isInteger(s.seed) ? s.seed : 0,
  };
  if (s.dtype !== undefined) spec.dtype = oneOf('dtype', ['float32', 'float64'] as const);
  return spec;
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((st) => st.isFile(), () => false);
}

/** Checkpoint folder, run folder (its last/), or a .safetensors weights file. */
export async function resolveSource(source: string): Promise<ResolvedSource> {
  if (typeof source !== 'string' || source.length === 0) {
    throw new SkipNetError('ERR_BAD_ARG', 'Classifier.load: source must be a checkpoint folder, a run folder or a .safetensors weights file');
  }
  if (await isFile(source)) {
    const meta = await readSafetensorsMetadata(source);
    // A weights file inside a checkpoint folder: the folder's state.json knows more (input size, class names).
    const dir = path.dirname(source);
    const state =
      path.basename(source) === WEIGHTS_FILE && (await isFile(path.join(dir, STATE_FILE))) ? await readCheckpointState(dir) : null;
    if (state) return { spec: state.modelSpec, weights: source, checkpoint: dir, state };
    if (!meta.spec) {
      throw new SkipNetError(
        'ERR_WEIGHTS',
        `${source} has no model spec (__metadata__.spec); load its checkpoint folder instead, or save the weights with model.saveWeights`,
      );
    }
    return { spec: parseSpec(meta.spec, source), weights: source, checkpoint: null, state: null };
  }
  const dir = await resolveCheckpointDir(source);
  const state = await readCheckpointState(dir);
  const weights = path.join(dir, WEIGHTS_FILE);
  if (!(await isFile(weights))) throw new SkipNetError('ERR_CHECKPOINT', `checkpoint ${dir}: missing ${WEIGHTS_FILE}`);
  return { spec: state.modelSpec, weights, checkpoint: dir, state };
}

/** The size the model was trained at, as far as the checkpoint tells. */
export function trainingInputSize(
  spec: Pick<NativeModelSpec, 'arch'>,
  state: CheckpointState | null,
  fullMacsAt: (h: number, w: number) => number,
): { height: number; width: number; from: string } {
  if (spec.arch === 'imagenet') return { height: 224, width: 224, from: 'ImageNet arch (resize 256, centre crop 224)' };
  const src = state?.config.data.source;
  if (src) {
    switch (src.kind) {
      case 'cifar10':
      case 'cifar100':
      case 'svhn':
        return { height: 32, width: 32, from: `${src.kind} training data` };
      case 'tiny-imagenet':
        return { height: 64, width: 64, from: 'tiny-imagenet training data' };
      case 'imagenet':
        return { height: src.size ?? 224, width: src.size ?? 224, from: 'imagenet training data' };
      case 'fashion-mnist':
        return { height: 28, width: 28, from: 'fashion-mnist training data' };
      case 'synthetic':
        return { height: src.height, width: src.width, from: 'synthetic training data' };
      case 'folder': {
        // Folder images keep their own size; the evaluation recorded with the checkpoint
        // counted MACs at that size, which pins it down (MACs grow with the area).
        const want = state?.metrics?.fullMacs;
        if (want) {
          for (let s = 8; s <= 512; s++) {
            let macs = NaN;
            try {
              macs = fullMacsAt(s, s);
            } catch {
              continue; // too small for this architecture
            }
            if (macs === want) return { height: s, width: s, from: 'the MACs recorded by the last evaluation' };
          }
        }
        break;
      }
    }
  }
  return { height: 32, width: 32, from: 'CIFAR default (32x32)' };
}

/** Class names of the dataset a checkpoint was trained on, when that data is still where it was. */
export async function datasetClassNames(source: DataSourceSpec | undefined, numClasses: number): Promise<string[] | undefined> {
  if (!source) return undefined;
  const fit = (names: string[] | null | undefined) => (names && names.length >= numClasses ? names.slice(0, numClasses) : undefined);
  try {
    switch (source.kind) {
      case 'cifar10':
        for (const d of [source.root, path.join(source.root, 'cifar-10-batches-bin')]) {
          const names = fit(await readNameList(path.join(d, 'batches.meta.txt')));
          if (names) return names;
        }
        return undefined;
      case 'cifar100': {
        const file = source.labels === 'coarse' ? 'coarse_label_names.txt' : 'fine_label_names.txt';
        for (const d of [source.root, path.join(source.root, 'cifar-100-binary')]) {
          const names = fit(await readNameList(path.join(d, file)));
          if (names) return names;
        }
        return undefined;
      }
      case 'fashion-mnist':
        return fit([...FASHION_MNIST_CLASSES]);
      case 'svhn':
        return fit(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      case 'tiny-imagenet': {
        // The same order as lib/data/tiny-imagenet.ts: wnids.txt less the excluded ones, sorted.
        const excluded = new Set(source.exclude ?? []);
        const wnids = (await readNameList(path.join(source.root, 'wnids.txt')))?.filter((w) => !excluded.has(w));
        return wnids && wnids.length === numClasses ? wnids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : undefined;
      }
      case 'synthetic':
        return Array.from({ length: numClasses }, (_, k) => `class${k}`);
      case 'folder': {
        // The same order as lib/data/folder.ts: class folders of train/, sorted by code unit.
        const entries = await readdir(path.join(source.root, 'train'), { withFileTypes: true });
        const names = entries
          .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
          .map((e) => e.name)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        return names.length === numClasses ? names : undefined;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}
