// `skipnet predict`, driven in-process through runCli.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config.js';
import { Classifier } from '../../lib/service/classifier.js';
import { CHECKPOINT_VERSION, saveCheckpoint } from '../../lib/train/checkpoint.js';
import { dir, savedModel, variedImages } from './helpers.js';
import { runSkipnet } from '../cli-capture.js';

const disposers: Array<{ dispose(): void }> = [];
afterAll(() => disposers.forEach((d) => d.dispose()));

const cli = (...args: string[]) => runSkipnet('predict', ...args);

describe('skipnet predict', () => {
  let ckpt: string;
  let images: string;
  const files: string[] = [];

  beforeAll(async () => {
    const where = dir('cli');
    const saved = await savedModel(where, { depth: 20, gate: 'rnn', seed: 12 }, 1);
    disposers.push(saved.model);
    const config = parseConfig({ data: { source: { kind: 'synthetic' } }, model: { depth: 20 }, threads: 2 });
    ckpt = await saveCheckpoint(where, 'best', saved.model, {
      version: CHECKPOINT_VERSION,
      step: 1,
      bestTop1: null,
      config,
      modelSpec: saved.spec,
      metrics: null,
      createdAt: new Date().toISOString(),
      packageVersion: 'test',
      libtorch: 'test',
    });
    images = join(where, 'images');
    mkdirSync(join(images, 'sub'), { recursive: true });
    const raw = variedImages(50, 5, 40, 40);
    for (let i = 0; i < raw.length; i++) {
      const file = join(images, i < 3 ? '' : 'sub', `img${i}.${i % 2 ? 'jpg' : 'png'}`);
      const s = sharp(raw[i]!.pixels, { raw: { width: 40, height: 40, channels: 3 } });
      writeFileSync(file, await (i % 2 ? s.jpeg() : s.png()).toBuffer());
      files.push(file);
    }
    writeFileSync(join(images, 'notes.txt'), 'not an image, and not picked up');
  });

  it('prints one line per image: file, top-1 class, probability, blocks, MACs', async () => {
    const { code, out, err } = await cli(ckpt, images);
    expect(err).toMatch(/^5 images: mean [\d.]+\/9 blocks, mean MACs/m);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(5);
    lines.forEach((line, i) => {
      expect(line.startsWith(files[i]!)).toBe(true);
      expect(line).toMatch(/ class\d \(\d\)  p=0\.\d{4}  blocks \d\/9  MACs [\d.]+M \([\d.]+%\)$/);
    });
  });

  it('writes JSONL records that match Classifier.predict; --threshold changes the blocks', async () => {
    const clf = await Classifier.load(ckpt);
    disposers.push(clf);
    const want = await Promise.all(files.map((f) => clf.predict(readFileSync(f), { threshold: 0.3, topK: 2 })));
    const out = join(dir('cli-out'), 'preds.jsonl');
    const r = await cli(ckpt, ...files, '--jsonl', out, '--threshold', '0.3', '--top', '2', '--batch-size', '2');
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toHaveLength(5);
    records.forEach((rec, i) => {
      expect(rec.file).toBe(files[i]);
      expect(rec.label).toBe(want[i]!.label);
      expect(rec.className).toBe(`class${rec.label}`);
      expect(rec.probability).toBeCloseTo(want[i]!.probabilities[rec.label]!, 5);
      expect(rec.topK).toHaveLength(2);
      expect(rec.topK[0]).toMatchObject({ label: rec.label, className: `class${rec.label}` });
      expect(rec.executedBlocks).toEqual(want[i]!.executedBlocks);
      expect(rec.macs).toBe(want[i]!.macs);
    });
    const high = await cli(ckpt, images, '--jsonl', '-', '--threshold', '1');
    const highRecs = high.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(highRecs.every((rec) => rec.executedBlocks.length === 1)).toBe(true); // p > 1 never: only block 0
  });

  it('--budget picks a threshold; errors are per file and set the exit code', async () => {
    const b = await cli(ckpt, images, '--jsonl', '-', '--budget', '0.6');
    expect(b.code).toBe(0);
    const recs = b.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(recs).toHaveLength(5);
    expect(new Set(recs.map((r) => r.threshold)).size).toBe(1);

    const bad = join(images, 'broken.png');
    writeFileSync(bad, Buffer.from('\x89PNG\r\n\x1a\n but then nothing'));
    const r = await cli(ckpt, images);
    expect(r.code).toBe(1);
    expect(r.out.trim().split('\n')).toHaveLength(5);
    expect(r.err).toContain(`skipnet: ${bad}: `);
    expect(r.err).toMatch(/cannot decode the image .*\(ERR_DATA\)/);
    expect(r.err).toMatch(/1 of 6 images could not be classified/);

    const both = await cli(ckpt, images, '--threshold', '0.5', '--budget', '0.5');
    expect(both.code).toBe(1);
    expect(both.err).toMatch(/--threshold or --budget, not both \(ERR_BAD_ARG\)/);
    const missing = await cli(ckpt, join(images, 'nope.jpg'));
    expect(missing.err).toMatch(/nope.jpg: no such file or folder \(ERR_BAD_ARG\)/);
    const range = await cli(ckpt, images, '--threshold', '2');
    expect(range.code).toBe(1);
    expect(range.err).toMatch(/--threshold expects a number in \[0, 1\]/);
  });
});
