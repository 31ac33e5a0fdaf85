// Image files that cannot be decoded (truncated JPEG, random bytes named .jpg, empty file):
// data.badFiles 'error' stops with a SkipNetError naming the file; 'skip' replaces the sample
// with the next good image and counts the file once; the process carries on either way.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config.js';
import { EncodedImageDataset } from '../../lib/data/encoded.js';
import { listEncodedFolder } from '../../lib/data/encoded-folder.js';
import { BatchLoader } from '../../lib/data/loader.js';
import { openDataset } from '../../lib/data/open.js';
import { Rng } from '../../lib/data/rng.js';
import type { Batch } from '../../lib/data/types.js';
import { isSkipNetError } from '../../lib/errors.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-badfiles-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function jpeg(width: number, height: number, seed: number): Promise<Buffer> {
  const rng = new Rng(seed);
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = rng.nextInt(256);
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
}

/** Writes dir/<class>/<name> files; returns the bad files' paths by kind. */
async function makeTree(dir: string, bad: ('truncated' | 'random' | 'empty')[], goodPerClass = 3, size: [number, number] = [120, 90]) {
  const paths: Record<string, string> = {};
  for (const [c, cls] of ['a', 'b'].entries()) {
    mkdirSync(path.join(dir, cls), { recursive: true });
    for (let k = 0; k < goodPerClass; k++) writeFileSync(path.join(dir, cls, `good${k}.jpg`), await jpeg(size[0], size[1], 10 * c + k));
  }
  for (const kind of bad) {
    const file = path.join(dir, 'a', `${kind}.jpg`);
    if (kind === 'truncated') {
      const whole = await jpeg(size[0], size[1], 99);
      writeFileSync(file, whole.subarray(0, whole.length >> 1));
    } else if (kind === 'random') {
      const rng = new Rng(7);
      writeFileSync(file, Uint8Array.from({ length: 3000 }, () => rng.nextInt(256)));
    } else {
      writeFileSync(file, Buffer.alloc(0));
    }
    paths[kind] = file;
  }
  return paths;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function oneEpoch(L: BatchLoader, e = 0): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of L.epoch(e)) out.push(b);
  return out;
}

describe("encoded files, badFiles 'error'", () => {
  for (const kind of ['truncated', 'random', 'empty'] as const) {
    it(`a ${kind} file fails its batch with a SkipNetError naming the file`, async () => {
      const dir = path.join(tmp, `err-${kind}`);
      const { [kind]: bad } = await makeTree(dir, [kind]);
      const ds = new EncodedImageDataset(await listEncodedFolder(dir));
      const L = new BatchLoader(ds, { batchSize: 7, augment: 'imagenet', seed: 1 });
      const err = await L.next().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isSkipNetError(err)).toBe(true);
      expect((err as { code: string }).code).toBe('ERR_DATA');
      expect((err as Error).message).toMatch(new RegExp(`cannot decode image ${escape(bad!)}: .+data\\.badFiles`, "s")); // libvips may repeat its message on several lines
      expect(ds.skippedFiles).toBe(0);
      // The loader and the process go on: the eval transform of a good file still works.
      const good = new EncodedImageDataset(await listEncodedFolder(path.join(tmp, `err-${kind}`), { classNames: ['b'] }));
      expect((await new BatchLoader(good, { batchSize: 3 }).next()).n).toBe(3);
    });
  }
});

describe("encoded files, badFiles 'skip'", () => {
  let dir = '';
  let bad: Record<string, string> = {};
  beforeAll(async () => {
    dir = path.join(tmp, 'skip');
    bad = await makeTree(dir, ['truncated', 'random', 'empty']);
  });

  it('replaces each bad file by a good image, counts each file once, warns once per file', async () => {
    const src = await listEncodedFolder(dir);
    expect(src.size).toBe(9);
    const warned: string[] = [];
    const ds = new EncodedImageDataset(src, { badFiles: 'skip', onSkip: (file) => warned.push(file) });
    const badSet = new Set(Object.values(bad));
    const L = new BatchLoader(ds, { batchSize: 4, augment: 'imagenet', seed: 2 });
    for (let e = 0; e < 3; e++) {
      const batches = await oneEpoch(L, e);
      expect(batches.map((b) => b.n)).toEqual([4, 4, 1]);
      for (const b of batches) {
        expect(b.images.length).toBe(b.n * 224 * 224 * 3);
        for (let k = 0; k < b.n; k++) {
          expect(badSet.has(src.filePath(b.indices[k]))).toBe(false);
          expect(b.labels[k]).toBe(src.labels[b.indices[k]]);
        }
      }
    }
    expect(ds.skippedFiles).toBe(3);
    expect(L.skippedFiles).toBe(3);
    expect(ds.badFiles.map((f) => f.file).sort()).toEqual([...badSet].sort());
    expect([...warned].sort()).toEqual([...badSet].sort());
    for (const f of ds.badFiles) expect(f.reason.length).toBeGreaterThan(0);
  });

  it('gives the same batches for the same seed once the bad files are known (and from a fresh dataset)', async () => {
    const run = async () => {
      const ds = new EncodedImageDataset(await listEncodedFolder(dir), { badFiles: 'skip', onSkip: () => {} });
      const L = new BatchLoader(ds, { batchSize: 9, augment: 'imagenet', seed: 5 });
      const first = (await oneEpoch(L, 0))[0];
      const again = (await oneEpoch(L, 0))[0]; // bad files now skipped without a try
      return { first, again };
    };
    const a = await run();
    const b = await run();
    expect(Buffer.from(a.first.images).equals(Buffer.from(a.again.images))).toBe(true);
    expect(Array.from(a.first.indices)).toEqual(Array.from(a.again.indices));
    expect(Buffer.from(a.first.images).equals(Buffer.from(b.first.images))).toBe(true);
  });

  it('fails with a clear error when no file decodes', async () => {
    const d = path.join(tmp, 'all-bad');
    mkdirSync(path.join(d, 'x'), { recursive: true });
    writeFileSync(path.join(d, 'x', 'a.jpg'), Buffer.alloc(0));
    writeFileSync(path.join(d, 'x', 'b.jpg'), Buffer.from('not a jpeg'));
    const ds = new EncodedImageDataset(await listEncodedFolder(d), { badFiles: 'skip', onSkip: () => {} });
    await expect(new BatchLoader(ds, { batchSize: 2 }).next()).rejects.toThrow(/none of the 2 image files could be decoded/);
  });
});

describe('in-memory folder source through openDataset', () => {
  it("names the bad file by default and skips it with badFiles 'skip'", async () => {
    const root = path.join(tmp, 'folder');
    const { truncated } = await makeTree(path.join(root, 'train'), ['truncated'], 2, [16, 16]);
    const spec = { kind: 'folder' as const, root };
    await expect(openDataset(spec, 'train', { cache: false })).rejects.toThrow(new RegExp(escape(truncated!)));
    const ds = await openDataset(spec, 'train', { cache: false, badFiles: 'skip' });
    expect(ds.size).toBe(4);
    expect((ds as unknown as { skipped: string[] }).skipped).toEqual([truncated]);
  });
});

describe('config data.badFiles', () => {
  const source = { kind: 'synthetic' as const };
  it("defaults to 'error', accepts 'skip', rejects anything else; augment accepts 'imagenet'", () => {
    expect(parseConfig({ data: { source } }).data.badFiles).toBe('error');
    expect(parseConfig({ data: { source, badFiles: 'skip' } }).data.badFiles).toBe('skip');
    expect(() => parseConfig({ data: { source, badFiles: 'ignore' } })).toThrow(/data\.badFiles/);
    expect(parseConfig({ data: { source, augment: 'imagenet' } }).data.augment).toBe('imagenet');
  });
});
