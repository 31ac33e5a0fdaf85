// The rank environment (torchrun's contract) and what follows from it.
import { describe, expect, it } from 'vitest';
import { perRankBatchSize, rankFromEnv, rankSampleSeed } from '../../lib/distributed/rank.js';
import { rankDevice } from '../../lib/distributed/train-group.js';

describe('rank environment', () => {
  it('is absent for a single process, read from the variables otherwise', () => {
    expect(rankFromEnv({})).toBeNull();
    expect(rankFromEnv({ WORLD_SIZE: '1', RANK: '0' })).toBeNull();
    expect(rankFromEnv({ WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '1', MASTER_ADDR: '10.0.0.2', MASTER_PORT: '1234' })).toEqual({
      rank: 3,
      worldSize: 4,
      localRank: 1,
      masterAddr: '10.0.0.2',
      masterPort: 1234,
    });
    expect(rankFromEnv({ WORLD_SIZE: '2', RANK: '1' })).toMatchObject({ localRank: 1, masterAddr: '127.0.0.1', masterPort: 29500 });
  });

  it('rejects inconsistent variables with ERR_CONFIG', () => {
    expect(() => rankFromEnv({ WORLD_SIZE: '2' })).toThrow(/RANK is not set/);
    expect(() => rankFromEnv({ WORLD_SIZE: '2', RANK: '2' })).toThrow(/outside 0..1/);
    expect(() => rankFromEnv({ WORLD_SIZE: 'two', RANK: '0' })).toThrow(/WORLD_SIZE must be/);
  });

  it('splits the global batch evenly, or says which batch sizes would', () => {
    expect(perRankBatchSize(128, 2)).toBe(64);
    expect(() => perRankBatchSize(130, 4)).toThrow(/multiple of 4, e\.g\. 132/);
  });

  it('keeps rank 0 on the single-process action seed and gives the others their own', () => {
    expect(rankSampleSeed(12345, 0)).toBe(12345);
    const seeds = [0, 1, 2, 3].map((r) => rankSampleSeed(12345, r));
    expect(new Set(seeds).size).toBe(4);
    expect(seeds.every((s) => Number.isSafeInteger(s) && s >= 0)).toBe(true);
  });

  it("maps 'cuda' to the local rank's GPU when several are visible", () => {
    expect(rankDevice('cuda', 1, 4)).toBe('cuda:1');
    expect(rankDevice('cuda', 1, 1)).toBe('cuda'); // launch pinned one GPU per rank
    expect(rankDevice('cuda:2', 1, 4)).toBe('cuda:2');
    expect(rankDevice('cpu', 1, 4)).toBe('cpu');
  });
});
