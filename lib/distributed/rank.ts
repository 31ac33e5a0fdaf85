// Who this process is in a data-parallel run, from torchrun's environment contract
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), as `skipnet launch` sets it,
// and the per-rank pieces of a run that follow from it.

import { SkipNetError } from '../errors.js';

export interface RankEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new SkipNetError('ERR_CONFIG', `${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

/** The rank environment, or null when this process is not one of several (WORLD_SIZE unset or 1). */
export function rankFromEnv(env: NodeJS.ProcessEnv = process.env): RankEnv | null {
  const worldSize = intVar(env, 'WORLD_SIZE', 1);
  if (worldSize <= 1) return null;
  if (env.RANK === undefined || env.RANK === '') {
    throw new SkipNetError('ERR_CONFIG', `WORLD_SIZE is ${worldSize} but RANK is not set: start the ranks with \`skipnet launch\` (or torchrun)`);
  }
  const rank = intVar(env, 'RANK', 0);
  if (rank >= worldSize) throw new SkipNetError('ERR_CONFIG', `RANK ${rank} is outside 0..${worldSize - 1} (WORLD_SIZE ${worldSize})`);
  return {
    rank,
    worldSize,
    localRank: intVar(env, 'LOCAL_RANK', rank),
    masterAddr: env.MASTER_ADDR || '127.0.0.1',
    masterPort: intVar(env, 'MASTER_PORT', 29500),
  };
}

/** Each rank's share of a global batch; the global batch must split evenly, or gradient
 *  averaging would weigh the ranks' samples unequally. */
export function perRankBatchSize(globalBatch: number, worldSize: number): number {
  if (globalBatch % worldSize !== 0) {
    throw new SkipNetError(
      'ERR_CONFIG',
      `data.batchSize ${globalBatch} is the global batch and must split evenly over ${worldSize} ranks ` +
        `(use a multiple of ${worldSize}, e.g. ${Math.max(worldSize, Math.round(globalBatch / worldSize) * worldSize)})`,
    );
  }
  return globalBatch / worldSize;
}

const SEED_LIMIT = 2 ** 53;
const RANK_STRIDE = 0x9e3779b1; // any large odd number: keeps rank streams apart for realistic step counts

/** The HRL action seed of one rank. Rank 0 keeps the single-process seed (a one-rank run samples
 *  what a plain run does); every other rank draws from its own stream, so the ranks' samples do
 *  not share their random numbers. */
export function rankSampleSeed(seed: number, rank: number): number {
  return rank === 0 ? seed : (seed + rank * RANK_STRIDE) % SEED_LIMIT;
}
