import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot, sharedArchive, sharedDataset, sharedDatasetsDir } from '../../lib/data/shared-datasets.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-shared-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('shared datasets location', () => {
  it('finds the project root and ../shared/datasets (or reports null)', () => {
    const root = projectRoot();
    expect(existsSync(path.join(root, 'package.json'))).toBe(true);
    const saved = process.env.SKIPNET_SHARED_DATASETS;
    delete process.env.SKIPNET_SHARED_DATASETS;
    try {
      const dir = sharedDatasetsDir();
      const expected = path.resolve(root, '..', 'shared', 'datasets');
      expect(dir).toBe(existsSync(expected) ? expected : null);
    } finally {
      if (saved !== undefined) process.env.SKIPNET_SHARED_DATASETS = saved;
    }
  });
});

describe('sharedDataset extraction (on a small archive made here)', () => {
  const shared = path.join(tmp, 'shared');
  const cacheDir = path.join(tmp, 'cache');
  mkdirSync(path.join(tmp, 'src/tiny/train/a'), { recursive: true });
  writeFileSync(path.join(tmp, 'src/tiny/train/a/1.txt'), 'one');
  writeFileSync(path.join(tmp, 'src/tiny/train/a/2.txt'), 'two');
  mkdirSync(shared);
  execFileSync('tar', ['czf', path.join(shared, 'tiny.tar.gz'), '-C', path.join(tmp, 'src'), 'tiny']);

  const withEnv = async <T>(fn: () => Promise<T>): Promise<T> => {
    const saved = process.env.SKIPNET_SHARED_DATASETS;
    process.env.SKIPNET_SHARED_DATASETS = shared;
    try {
      return await fn();
    } finally {
      if (saved === undefined) delete process.env.SKIPNET_SHARED_DATASETS;
      else process.env.SKIPNET_SHARED_DATASETS = saved;
    }
  };

  it('returns null when the archive is absent', async () => {
    await withEnv(async () => {
      expect(sharedArchive('nope')).toBeNull();
      expect(await sharedDataset('nope', { cacheDir })).toBeNull();
    });
  });

  it('extracts once, returns the top-level folder, and reuses it', async () => {
    await withEnv(async () => {
      // A stale temp folder from a "killed" extraction (dead pid) and an incomplete target.
      const parent = path.join(cacheDir, 'datasets');
      mkdirSync(path.join(parent, '.tmp-tiny-999999999-abcd/tiny'), { recursive: true });
      mkdirSync(path.join(parent, 'tiny/tiny/train'), { recursive: true }); // no marker: incomplete
      const [r1, r2] = await Promise.all([sharedDataset('tiny', { cacheDir }), sharedDataset('tiny', { cacheDir })]);
      expect(r1).toBe(path.join(parent, 'tiny', 'tiny'));
      expect(r2).toBe(r1);
      expect(readdirSync(path.join(r1!, 'train/a')).sort()).toEqual(['1.txt', '2.txt']);
      expect(existsSync(path.join(parent, 'tiny', '.skipnet-extracted'))).toBe(true);
      expect(readdirSync(parent).filter((e) => e.startsWith('.tmp-'))).toEqual([]);
      // Second call: no re-extraction (a file removed from the extracted copy stays removed).
      rmSync(path.join(r1!, 'train/a/2.txt'));
      const markerTime = statSync(path.join(parent, 'tiny', '.skipnet-extracted')).mtimeMs;
      expect(await sharedDataset('tiny', { cacheDir })).toBe(r1);
      expect(existsSync(path.join(r1!, 'train/a/2.txt'))).toBe(false);
      expect(statSync(path.join(parent, 'tiny', '.skipnet-extracted')).mtimeMs).toBe(markerTime);
    });
  });

  it('reports a corrupt archive and leaves no complete-looking folder', async () => {
    await withEnv(async () => {
      writeFileSync(path.join(shared, 'broken.tar.gz'), Buffer.from('this is not gzip'));
      await expect(sharedDataset('broken', { cacheDir })).rejects.toThrow(/extracting .*broken\.tar\.gz failed/);
      expect(existsSync(path.join(cacheDir, 'datasets', 'broken'))).toBe(false);
      expect(readdirSync(path.join(cacheDir, 'datasets')).filter((e) => e.startsWith('.tmp-'))).toEqual([]);
    });
  });
});
