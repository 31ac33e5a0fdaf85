// Data-parallel training is the same optimisation as one process on the global batch.
//
// Batch norm makes "the same" need a definition: in train mode each rank normalises with its
// own shard's statistics (as the reference's DataParallel replicas, and torch DDP without
// SyncBatchNorm), so two ranks on B/2 samples each are not one process on B samples with
// batch statistics over all B. The engine has no frozen-BN mode to remove that difference,
// so the reference here computes exactly what data parallelism promises, in one process:
// each shard's gradients with its own batch statistics (inspectStep / inspectHrl, which leave
// the weights alone), combined as the global batch's objective combines them, then SGD with
// momentum and weight decay written out in TypeScript. Two ranks, three steps, float64: the
// weights must agree to rounding, and the two ranks must agree bit for bit.
//
// HRL: each rank samples its shard's actions from its own seed (rankSampleSeed); the reference
// samples them with the same seed on the same weights, so it draws the same actions. The
// objective is the mean cross-entropy plus the RL term and the logit bound summed over the whole
// global batch, so the reference takes the shards' cross-entropy gradients averaged and the
// other terms' gradients summed (separated by a second inspection with rlWeight 0).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createModel } from '../../lib/model.js';
import { decodeSafetensors, encodeSafetensors, type RawTensor } from '../../lib/safetensors.js';
import { reportedError, runRanks } from './fixtures/ranks.js';
import { globalBatch, hrlArgs, SGD, shard, spec } from './fixtures/shared.js';

const scratch = mkdtempSync(join(tmpdir(), 'skipnet-ddp-'));
const WORLD = 2;
const STEPS = 3;
const BATCH = 8;

type Tensors = Map<string, Float64Array>;
let references = 0;

function f64(t: RawTensor): Float64Array {
  expect(t.dtype).toBe('F64');
  return new Float64Array(new Uint8Array(t.data).buffer); // a copy: data may view a larger Buffer
}

function decode(bytes: Uint8Array): Tensors {
  return new Map(decodeSafetensors(bytes).tensors.filter((t) => t.dtype === 'F64').map((t) => [t.name, f64(t)]));
}

function gradsOf(inspection: Tensors): Tensors {
  return new Map([...inspection].filter(([k]) => k.startsWith('grad.')).map(([k, v]) => [k.slice(5), v]));
}

/** One process: the global batch's gradient from per-shard inspections, then SGD in TypeScript. */
async function reference(mode: 'sp' | 'hrl'): Promise<{ params: Tensors; losses: number[] }> {
  const model = createModel(spec());
  try {
    const file = join(scratch, `ref-${mode}-${++references}.safetensors`);
    await model.saveWeights(file);
    const state = decodeSafetensors(readFileSync(file)).tensors;
    const values = new Map(state.map((t) => [t.name, t.dtype === 'F64' ? f64(t) : null]));
    const momentum = new Map<string, Float64Array>();
    const losses: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      const total = new Map<string, Float64Array>();
      const add = (grads: Tensors, scale: number) => {
        for (const [k, g] of grads) {
          const acc = total.get(k) ?? total.set(k, new Float64Array(g.length)).get(k)!;
          for (let i = 0; i < g.length; i++) acc[i] += scale * g[i]!;
        }
      };
      let loss = 0;
      for (let r = 0; r < WORLD; r++) {
        const part = shard(globalBatch(step, BATCH), r, WORLD);
        if (mode === 'sp') {
          const t = decode(await model.inspectStep(part));
          add(gradsOf(t), 1 / WORLD);
          loss += t.get('loss')![0]! / WORLD;
        } else {
          const full = decode(await model.inspectHrl(part, hrlArgs(step, r)));
          const ceOnly = gradsOf(decode(await model.inspectHrl(part, hrlArgs(step, r, 0))));
          add(ceOnly, 1 / WORLD); // mean cross-entropy: average of the shards'
          add(gradsOf(full), 1); // RL term summed over the global batch: the shards' sum...
          add(ceOnly, -1); // ...of (total - cross-entropy)
          loss += full.get('ce')!.reduce((a, b) => a + b, 0) / BATCH;
        }
      }
      losses.push(loss);
      // torch.optim.SGD, dampening 0; a parameter that never gets a gradient (the last gate's
      // embedding: that gate decides nothing) is left alone, as the engine leaves it.
      for (const [name, g] of total) {
        const p = values.get(name)!;
        if (!momentum.has(name) && g.every((v) => v === 0)) continue;
        const d = g.map((v, i) => v + SGD.weightDecay * p[i]!);
        const buf = momentum.get(name);
        const next = buf ? buf.map((b, i) => SGD.momentum * b + d[i]!) : d;
        momentum.set(name, next);
        for (let i = 0; i < p.length; i++) p[i] -= SGD.lr * next[i]!;
      }
      const tensors = state.map((t) => (values.get(t.name) ? { ...t, data: new Uint8Array(values.get(t.name)!.buffer) } : t));
      writeFileSync(file, encodeSafetensors(tensors));
      await model.loadWeights(file);
    }
    return { params: new Map([...values].filter(([k, v]) => v && !k.includes('running_') && !k.includes('num_batches')) as [string, Float64Array][]), losses };
  } finally {
    model.dispose();
  }
}

function maxDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('data parallel = one process on the global batch (2 ranks, Gloo on 127.0.0.1)', () => {
  // The model's gradient is 0.6 MB (float64): one bucket by default; 20 KB buckets make about
  // 30. SP overlaps the all-reduce with backward from its second step on (the first records
  // the order of the gradients), unless overlap is off; HRL averages after backward.
  const cases = [
    { mode: 'sp', bucketMb: undefined, overlap: undefined },
    { mode: 'sp', bucketMb: 0.02, overlap: undefined },
    { mode: 'sp', bucketMb: 0.02, overlap: false },
    { mode: 'hrl', bucketMb: undefined, overlap: undefined },
  ] as const;
  for (const { mode, bucketMb, overlap } of cases) {
    const name = [mode.toUpperCase(), bucketMb && `${bucketMb * 1000} KB buckets`, overlap === false && 'no overlap'].filter(Boolean).join(', ');
    it(`${name}: same weights after ${STEPS} steps, same reported loss`, async () => {
      const out = join(scratch, `ddp-${mode}-${bucketMb ?? 'default'}-${overlap ?? 'overlap'}.safetensors`);
      const [ranks, ref] = await Promise.all([runRanks({ mode, steps: STEPS, globalBatch: BATCH, out, bucketMb, overlap }, WORLD), reference(mode)]);
      for (const r of ranks) expect(reportedError(r), r.stderr).toBeUndefined();

      const rank0 = decode(readFileSync(out));
      const rank1 = decode(readFileSync(`${out}.rank1`));
      let worst = 0;
      let moved = 0;
      for (const [name, p] of ref.params) {
        const a = rank0.get(name)!;
        expect(a, name).toBeDefined();
        // The ranks took identical steps: identical bits.
        expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(rank1.get(name)!.buffer)), name).toBe(0);
        worst = Math.max(worst, maxDiff(a, p));
        moved = Math.max(moved, ...p.map(Math.abs));
      }
      expect(worst).toBeLessThan(1e-10);
      expect(moved).toBeGreaterThan(0);

      // The optimizer state (momentum) is the same on every rank too.
      const [opt0, opt1] = [0, 1].map((r) => decode(readFileSync(`${out}.optimizer.rank${r}`)));
      expect([...opt0.keys()]).toEqual([...opt1.keys()]);
      for (const [k, v] of opt0) expect(Buffer.compare(Buffer.from(v.buffer), Buffer.from(opt1.get(k)!.buffer)), k).toBe(0);

      // Every rank reports the global batch's loss and sample count.
      for (const r of ranks) {
        const steps = r.events.filter((e) => e.event === 'step');
        expect(steps.map((e) => e.n)).toEqual(Array(STEPS).fill(BATCH));
        steps.forEach((e, i) => expect(Math.abs((e.loss as number) - ref.losses[i]!)).toBeLessThan(1e-10));
      }
    });
  }

  it('HRL with a moving-average baseline: the ranks average their baselines (one baseline, as for the global batch)', async () => {
    const out = join(scratch, 'ddp-hrl-baseline.safetensors');
    const ranks = await runRanks({ mode: 'hrl', steps: STEPS, globalBatch: BATCH, out, baseline: 'moving-average' }, WORLD);
    for (const r of ranks) expect(reportedError(r), r.stderr).toBeUndefined();
    const [opt0, opt1] = [0, 1].map((r) => decode(readFileSync(`${out}.optimizer.rank${r}`)));
    const b0 = opt0.get('hrl.return_baseline')!;
    expect(b0.length).toBe(2); // one per gate
    expect([...b0]).toEqual([...opt1.get('hrl.return_baseline')!]);
  });
});
