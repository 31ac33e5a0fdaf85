// What the training loop needs from data parallelism, in its own terms: join the group (the
// model's weights become rank 0's), agree on stopping, and hand rank 0's evaluation to the
// other ranks. Rank 0 alone evaluates and writes files; the others wait for it.

import type { DataParallel, NativeModel } from '../binding-types.js';
import type { RunConfig } from '../config.js';
import { SkipNetError } from '../errors.js';
import type { RankEnv } from './rank.js';

export interface TrainGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: string;
  /** True on every rank when any rank asks to stop (Ctrl-C reaches ranks at different steps). */
  agreeToStop(requested: boolean): Promise<boolean>;
  /** Rank 0's value on every rank, once rank 0 has it (it may be evaluating for a long time). */
  fromRoot<T>(value: T | undefined): Promise<T>;
}

/** A CUDA device request made per rank: each rank takes its own GPU (LOCAL_RANK) when it sees
 *  several (torchrun); with one visible (skipnet launch sets CUDA_VISIBLE_DEVICES) that one. */
export function rankDevice(device: string, localRank: number, visibleGpus: number): string {
  return device === 'cuda' && visibleGpus > 1 ? `cuda:${localRank % visibleGpus}` : device;
}

/** Joins the process group of this rank: blocks until every rank has arrived (or times out). */
export async function joinTrainGroup(model: NativeModel, config: RunConfig, env: RankEnv): Promise<TrainGroup> {
  if (!hasDataParallel(model)) {
    throw new SkipNetError('ERR_CONFIG', `WORLD_SIZE is ${env.worldSize}, but this model backend has no data-parallel support`);
  }
  const d = config.distributed;
  const info = await model.initDistributed({
    backend: d.backend === 'auto' ? undefined : d.backend,
    rank: env.rank,
    worldSize: env.worldSize,
    localRank: env.localRank,
    masterAddr: env.masterAddr,
    masterPort: env.masterPort,
    timeoutMs: d.timeoutMs,
    collectiveTimeoutMs: d.collectiveTimeoutMs,
    bucketMb: d.bucketMb,
    overlap: d.overlap,
    syncBatchNorm: d.syncBatchNorm,
  });
  return {
    rank: info.rank,
    worldSize: info.worldSize,
    backend: info.backend,
    async agreeToStop(requested) {
      const votes = await model.allReduce(Float64Array.of(requested ? 1 : 0));
      return votes[0]! > 0;
    },
    async fromRoot<T>(value: T | undefined): Promise<T> {
      const text = await model.shareFromRoot(info.rank === 0 ? JSON.stringify(value ?? null) : '', d.evalTimeoutMs);
      return JSON.parse(text) as T;
    },
  };
}

function hasDataParallel(model: NativeModel): model is NativeModel & DataParallel {
  return typeof model.initDistributed === 'function' && typeof model.allReduce === 'function' && typeof model.shareFromRoot === 'function';
}
