// Shared pieces of the native tests: specs, deterministic batches, weight editing.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NativeBatch, NativeModelSpec } from '../../lib/binding-types.js';
import { createModel } from '../../lib/model.js';
import { decodeSafetensors, encodeSafetensors, type RawTensor } from '../../lib/safetensors.js';

export const scratch = mkdtempSync(join(tmpdir(), 'skipnet-test-'));

export function spec(overrides: Partial<NativeModelSpec> = {}): NativeModelSpec {
  return {
    arch: 'cifar',
    depth: 20,
    gate: 'rnn',
    gateMode: 'hard',
    numClasses: 10,
    inChannels: 3,
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.2023, 0.1994, 0.201],
    device: 'cpu',
    threads: 2,
    seed: 7,
    ...overrides,
  };
}

const live: Array<{ dispose(): void }> = [];

/** A model from spec(overrides), disposed by disposeModels() (call it in afterAll). */
export function trackedModel(...args: Parameters<typeof spec>): ReturnType<typeof createModel> {
  const m = createModel(spec(...args));
  live.push(m);
  return m;
}

export function disposeModels(): void {
  live.splice(0).forEach((m) => m.dispose());
}

/** Pseudo-random pixels and labels from a seed (a small LCG, so tests need no data files). */
export function batch(seed: number, n: number, height = 32, width = 32, channels = 3, classes = 10): NativeBatch {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  };
  const images = new Uint8Array(n * height * width * channels);
  for (let i = 0; i < images.length; i++) images[i] = next();
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = next() % classes;
  return { images, labels, n, height, width, channels };
}

export type WeightMap = Map<string, RawTensor>;

export function f32(t: RawTensor): Float32Array {
  return new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
}

export function f64(t: RawTensor): Float64Array {
  return new Float64Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 8);
}

/** Reads a model's weights, lets `edit` change them in place, loads them back. */
export async function editWeights(model: ReturnType<typeof createModel>, edit: (w: WeightMap) => void): Promise<void> {
  const path = join(scratch, `w-${process.pid}-${Math.random().toString(36).slice(2)}.safetensors`);
  await model.saveWeights(path);
  const { tensors } = decodeSafetensors(readFileSync(path));
  const map: WeightMap = new Map(tensors.map((t) => [t.name, t]));
  edit(map);
  writeFileSync(path, encodeSafetensors([...map.values()]));
  await model.loadWeights(path);
}

/** A weight's values, as float32 or float64 by the model's dtype. */
export function get(w: WeightMap, name: string): Float32Array | Float64Array {
  const t = w.get(name);
  if (!t) throw new Error(`no tensor ${name}; have ${[...w.keys()].slice(0, 8).join(', ')}...`);
  return t.dtype === 'F64' ? f64(t) : f32(t);
}

/** FF gate k: weight 0, so p = softmax(bias)[1] = sigmoid(b1 - b0) for every sample. */
export function setGateProbability(w: WeightMap, k: number, logit: number): void {
  get(w, `gates.${k}.linear.weight`).fill(0);
  const b = get(w, `gates.${k}.linear.bias`);
  b[0] = 0;
  b[1] = logit;
}

export function logitFor(p: number): number {
  return Math.log(p / (1 - p));
}

export function tensorsOf(bytes: Uint8Array): Map<string, RawTensor> {
  return new Map(decodeSafetensors(bytes).tensors.map((t) => [t.name, t]));
}

/** A float64 ResNet-14 with FF-II gates (6 blocks) whose every gate has probability p for any
 *  image (the gates' weights are zeroed), so gate gradients have closed forms. */
export const FF14_GATES = 6;
export async function ff14WithGates(p: number, seed: number): Promise<ReturnType<typeof createModel>> {
  const m = trackedModel({ depth: 14, gate: 'ffgate2', seed, dtype: 'float64' });
  await editWeights(m, (w) => {
    for (let g = 0; g < FF14_GATES; g++) setGateProbability(w, g, logitFor(p));
  });
  return m;
}

/** The model's current weights, through a safetensors file in scratch. */
export async function savedWeights(m: ReturnType<typeof createModel>): Promise<WeightMap> {
  const file = join(scratch, `weights-${Math.random().toString(36).slice(2)}.safetensors`);
  await m.saveWeights(file);
  return tensorsOf(readFileSync(file));
}
