#!/usr/bin/env node
// CUDA against CPU on the same weights: the correctness half of the GPU check (issue 6).
// Plain Node on the compiled dist/ and the addon, no test runner, so that it runs on a GPU
// machine that has no package registry (scripts/device-check.sh carries what it needs).
//
//   node scripts/cuda-check.mjs [--device cuda|cuda:N|cpu] [--out FILE.json]
//
// Every check builds one model on the CPU and one on the device from the same safetensors
// weights and compares them:
//   - float64: one forward + backward (logits, loss, gate probabilities, every gradient), three
//     SGD steps and two HRL steps (whose actions come from a CPU generator, so they match) must
//     agree to 1e-9 relative: there is no reduced-precision math in float64 on either side;
//   - float32 evaluation of CPU-trained weights, skipping and masked: TF32 may be on for CUDA convolutions, so logits
//     are compared at 2e-2 and gate decisions by agreement;
//   - bf16 autocast and fp16 with loss scaling: finite and within a few % of the fp32 loss;
//   - weights written on the device load on the CPU bit for bit;
//   - a one-rank NCCL process group (Gloo with --device cpu) trains as no group (float64).
// --device cpu compares the CPU with itself: a dry run of this script where no GPU is at hand.
// Prints one line per check and writes the results as JSON; exits 1 when a check fails.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createModel } from '../dist/model.js';
import { loadNative } from '../dist/native.js';
import { decodeSafetensors } from '../dist/safetensors.js';

const { values: args } = parseArgs({ options: { device: { type: 'string', default: 'cuda' }, out: { type: 'string' } } });
const device = args.device;
const versions = loadNative().versions();
const scratch = mkdtempSync(join(tmpdir(), 'skipnet-cuda-check-'));
const results = [];

if (device !== 'cpu' && !versions.cuda) {
  console.error(`skipnet cuda-check: this addon's LibTorch (${versions.libtorch}, ${versions.libtorchPath}) has no CUDA; build against a CUDA LibTorch (LIBTORCH=...) or pass --device cpu for a dry run`);
  process.exit(2);
}

// Pseudo-random pixels and labels (an LCG), as the tests' batches.
function batch(seed, n, size, classes) {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
  const images = new Uint8Array(n * size * size * 3).map(next);
  const labels = new Int32Array(n).map(() => next() % classes);
  return { images, labels, n, height: size, width: size, channels: 3 };
}

function spec(over) {
  return {
    arch: 'cifar', depth: 38, gate: 'rnn', gateMode: 'hard', numClasses: 10, inChannels: 3,
    mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201], device: 'cpu', threads: availableParallelism(), seed: 11, ...over,
  };
}

function tensors(bytes) {
  const map = new Map();
  for (const t of decodeSafetensors(bytes).tensors) {
    // A copy of exactly this tensor's bytes: t.data may be a view into the whole file (a
    // Buffer from readFileSync), whose .slice() is another view, not a copy.
    const own = new Uint8Array(t.data).buffer;
    const a = t.dtype === 'F64' ? new Float64Array(own) : t.dtype === 'F32' ? new Float32Array(own) : null;
    if (!a) continue;
    const count = t.shape.reduce((p, q) => p * q, 1);
    if (a.length !== count) throw new Error(`${t.name}: decoded ${a.length} values, its shape [${t.shape}] holds ${count}`);
    map.set(t.name, a);
  }
  return map;
}

// Largest |a - b| / max(1, |b|) over every tensor both maps hold.
function maxRelDiff(a, b) {
  let worst = 0, where = '';
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.length !== x.length) throw new Error(`${name}: missing or of another size on one side`);
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(y[i]));
      if (!(d <= worst)) { worst = d; where = name; }  // NaN counts as worst
    }
  }
  return { worst, where };
}

async function weightsOf(model) {
  const file = join(scratch, `w-${Math.random().toString(36).slice(2)}.safetensors`);
  await model.saveWeights(file);
  return tensors(readFileSync(file));
}

// The same weights on the CPU and on the device.
async function pair(over, prepare = async () => {}) {
  const cpu = createModel(spec(over));
  await prepare(cpu);
  const file = join(scratch, `init-${Math.random().toString(36).slice(2)}.safetensors`);
  await cpu.saveWeights(file);
  const dev = createModel(spec({ ...over, device }));
  await dev.loadWeights(file);
  return { cpu, dev, dispose: () => { cpu.dispose(); dev.dispose(); } };
}

async function check(name, fn) {
  const started = Date.now();
  try {
    const r = await fn();
    results.push({ name, ...r, seconds: (Date.now() - started) / 1000 });
    console.log(`${r.pass ? 'ok  ' : 'FAIL'} ${name}: ${JSON.stringify(r.metrics)}`);
  } catch (e) {
    results.push({ name, pass: false, error: String(e?.message ?? e), seconds: (Date.now() - started) / 1000 });
    console.log(`FAIL ${name}: ${e?.code ?? ''} ${e?.message ?? e}`);
  }
}

const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: false };
const hrl = { alpha: 0.5, beta: 1, gamma: 1, rlWeight: 0.01, reduction: 'sum', baseline: 'none', sampleSeed: 0 };
const F64_TOL = 1e-9;

for (const [label, over, size] of [
  ['SkipNet-38 rnn', { depth: 38, gate: 'rnn' }, 32],
  ['SkipNet-38 ffgate1', { depth: 38, gate: 'ffgate1' }, 32],
  ['ImageNet SkipNet-50 rnn', { arch: 'imagenet', depth: 50, gate: 'rnn', numClasses: 20, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }, 64],
]) {
  const classes = over.numClasses ?? 10;
  await check(`${label}, float64 forward + backward`, async () => {
    const m = await pair({ ...over, dtype: 'float64' });
    const x = batch(1, 8, size, classes);
    const d = maxRelDiff(tensors(await m.dev.inspectStep(x)), tensors(await m.cpu.inspectStep(x)));
    m.dispose();
    return { pass: d.worst < F64_TOL, metrics: { maxRelDiff: d.worst, at: d.where } };
  });
  await check(`${label}, float64, 3 SGD steps then 2 HRL steps`, async () => {
    const m = await pair({ ...over, dtype: 'float64' });
    for (let s = 0; s < 3; s++) for (const model of [m.cpu, m.dev]) await model.trainStep(batch(10 + s, 8, size, classes), sgd);
    const afterSp = maxRelDiff(await weightsOf(m.dev), await weightsOf(m.cpu));
    const rl = [];
    for (let s = 0; s < 2; s++) {
      const x = batch(20 + s, 8, size, classes);
      const [a, b] = [await m.cpu.hrlStep(x, sgd, { ...hrl, sampleSeed: s }), await m.dev.hrlStep(x, sgd, { ...hrl, sampleSeed: s })];
      rl.push(Math.abs(a.rlLoss - b.rlLoss) / Math.max(1, Math.abs(a.rlLoss)));
    }
    const afterHrl = maxRelDiff(await weightsOf(m.dev), await weightsOf(m.cpu));
    m.dispose();
    const rlDiff = Math.max(...rl);
    return { pass: afterSp.worst < F64_TOL && afterHrl.worst < F64_TOL && rlDiff < F64_TOL, metrics: { afterSp: afterSp.worst, afterHrl: afterHrl.worst, at: afterHrl.where, rlLoss: rlDiff } };
  });
  await check(`${label}, float32 evaluation (skip and mask)`, async () => {
    // A few SGD steps first (on the CPU, so that both sides evaluate the same weights) so that
    // the gates make mixed decisions.
    const m = await pair(over, async (cpu) => {
      for (let s = 0; s < 3; s++) await cpu.trainStep(batch(30 + s, 16, size, classes), sgd);
    });
    const x = batch(40, 32, size, classes);
    const ref = await m.cpu.evalStep(x, 0.5, 'mask');
    const gates = ref.executed.length / x.n;
    // TF32 convolutions can flip a gate whose p lies within ~1e-3 of 0.5, and a flipped gate
    // changes that image's logits: logits are compared on the images routed alike.
    const sameRoute = (r, i) => r.executed.subarray(i * gates, (i + 1) * gates).every((v, k) => v === ref.executed[i * gates + k]);
    const perImage = ref.logits.length / x.n;
    let logitDiff = 0, agree = 0, total = 0, compared = 0;
    for (const mode of ['skip', 'mask']) {
      const r = await m.dev.evalStep(x, 0.5, mode);
      for (let i = 0; i < r.executed.length; i++) { agree += r.executed[i] === ref.executed[i] ? 1 : 0; total++; }
      for (let i = 0; i < x.n; i++) {
        if (!sameRoute(r, i)) continue;
        compared++;
        for (let c = i * perImage; c < (i + 1) * perImage; c++) logitDiff = Math.max(logitDiff, Math.abs(r.logits[c] - ref.logits[c]) / Math.max(1, Math.abs(ref.logits[c])));
      }
    }
    m.dispose();
    const agreement = agree / total;
    return { pass: logitDiff < 2e-2 && agreement >= 0.98, metrics: { maxRelLogitDiff: logitDiff, imagesCompared: compared / 2, gateAgreement: agreement, executedFraction: ref.executed.reduce((a, b) => a + b, 0) / ref.executed.length } };
  });
}

for (const precision of ['bf16', 'fp16']) {
  await check(`SkipNet-38 rnn, ${precision} training on ${device}`, async () => {
    if (precision === 'fp16' && device === 'cpu') return { pass: true, metrics: { skipped: 'fp16 needs CUDA' } };
    const over = { precision, ...(precision === 'fp16' ? { lossScale: { initScale: 65536, growthInterval: 2000 } } : {}) };
    const full = createModel(spec({ device }));
    const file = join(scratch, `p-${precision}.safetensors`);
    await full.saveWeights(file);
    const low = createModel(spec({ device, ...over }));
    await low.loadWeights(file);
    const losses = [], ref = [];
    let scale = null;
    for (let s = 0; s < 5; s++) {
      const x = batch(50 + s, 32, 32, 10);
      const r = await low.trainStep(x, sgd);
      losses.push(r.loss);
      scale = r.lossScale ?? scale;
      ref.push((await full.trainStep(x, sgd)).loss);
    }
    full.dispose();
    low.dispose();
    const firstRel = Math.abs(losses[0] - ref[0]) / ref[0];
    return { pass: losses.every(Number.isFinite) && firstRel < 0.05, metrics: { losses, fp32Losses: ref, firstStepRelDiff: firstRel, lossScale: scale } };
  });
}

await check(`weights written on ${device} load on the CPU bit for bit`, async () => {
  const dev = createModel(spec({ device }));
  await dev.trainStep(batch(60, 16, 32, 10), sgd);
  const file = join(scratch, 'from-device.safetensors');
  await dev.saveWeights(file);
  const cpu = createModel(spec());
  await cpu.loadWeights(file);
  const d = maxRelDiff(await weightsOf(cpu), await weightsOf(dev));
  dev.dispose();
  cpu.dispose();
  return { pass: d.worst === 0, metrics: { maxRelDiff: d.worst } };
});

// A one-rank process group (the most one GPU allows NCCL): averaging over one rank is the
// identity, so data-parallel steps, with the all-reduce overlapping backward, must equal
// plain steps, and the group must come up on this device's backend. In float64, to F64_TOL:
// cuDNN's weight gradients may accumulate with atomics, so two CUDA runs need not agree to
// the last bit even without a group.
await check(`one-rank process group on ${device} (${device === 'cpu' ? 'gloo' : 'nccl'})`, async () => {
  const backend = device === 'cpu' ? 'gloo' : 'nccl';
  const m = await pair({ dtype: 'float64' });
  const plain = createModel(spec({ device, dtype: 'float64' }));
  const file = join(scratch, 'dp-init.safetensors');
  await m.dev.saveWeights(file);
  await plain.loadWeights(file);
  const info = await m.dev.initDistributed({ backend, rank: 0, worldSize: 1, localRank: 0, masterAddr: '127.0.0.1', masterPort: 29000 + Math.floor(Math.random() * 500), timeoutMs: 30_000 });
  for (let s = 0; s < 3; s++) {
    const x = batch(70 + s, 16, 32, 10);
    await m.dev.trainStep(x, sgd);
    await plain.trainStep(x, sgd);
  }
  const d = maxRelDiff(await weightsOf(m.dev), await weightsOf(plain));
  m.dispose();
  plain.dispose();
  return { pass: info.backend === backend && d.worst < F64_TOL, metrics: { backend: info.backend, maxRelDiff: d.worst } };
});

const summary = {
  device, libtorch: versions.libtorch, cuda: versions.cuda, cudaDevices: versions.cudaDevices,
  distributedBackends: versions.distributedBackends ?? [], when: new Date().toISOString(),
  passed: results.filter((r) => r.pass).length, failed: results.filter((r) => !r.pass).length, results,
};
if (args.out) writeFileSync(args.out, JSON.stringify(summary, null, 2) + '\n');
console.log(`${summary.passed} passed, ${summary.failed} failed (${device}, LibTorch ${versions.libtorch})`);
process.exit(summary.failed === 0 ? 0 : 1);
