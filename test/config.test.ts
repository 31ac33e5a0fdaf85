import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyOverrides,
  ConfigError,
  mergeLayers,
  parseConfig,
  parseOverrideValue,
  resolveConfig,
} from '../lib/config.js';
import { SkipNetError } from '../lib/errors.js';
import { getPreset, listPresets, PRESETS } from '../lib/presets.js';

const synthetic = { kind: 'synthetic' } as const;

/** Parse and return the ConfigError it must throw. */
function configError(input: unknown): ConfigError {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_CONFIG');
    return err as ConfigError;
  }
  throw new Error('expected parseConfig to throw');
}

function issuePaths(err: ConfigError): string[] {
  return err.issues.map((i) => i.path);
}

describe('parseConfig defaults', () => {
  it('fills in the reference CIFAR SP recipe', () => {
    const c = parseConfig({ data: { source: synthetic } });
    expect(c.model).toEqual({ arch: 'cifar', depth: 38, gate: 'rnn', gateMode: 'hard' });
    expect(c.optimizer).toEqual({ lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: false });
    expect(c.schedule).toMatchObject({ kind: 'step', steps: 64000, milestones: [32000, 48000], gamma: 0.1, warmupSteps: 0, warmupLr: 0 });
    expect(c.threshold).toBe(0.5);
    expect(c.device).toBe('cpu');
    expect(c.threads).toBe(os.availableParallelism());
    expect(c.data.source).toEqual({ kind: 'synthetic', size: 512, testSize: 128, height: 32, width: 32, channels: 3, numClasses: 10 });
  });

  it('picks augmentation and depth from the source and arch', () => {
    expect(parseConfig({ data: { source: { kind: 'cifar10', root: '/d' } } }).data.augment).toBe('cifar');
    expect(parseConfig({ data: { source: { kind: 'fashion-mnist', root: '/d' } } }).data.augment).toBe('none');
    expect(parseConfig({ data: { source: { kind: 'cifar10', root: '/d' }, augment: 'none' } }).data.augment).toBe('none');
    expect(parseConfig({ model: { arch: 'imagenet' }, data: { source: synthetic } }).model.depth).toBe(101);
  });

  it('gives a constant warm-up the reference lr 0.01 unless told otherwise', () => {
    const c = parseConfig({ data: { source: synthetic }, schedule: { warmup: 'constant', warmupSteps: 400 } });
    expect(c.schedule.warmupLr).toBe(0.01);
  });

  it('accepts every valid depth', () => {
    for (const depth of [8, 20, 32, 38, 56, 74, 110, 152]) {
      expect(parseConfig({ model: { depth }, data: { source: synthetic } }).model.depth).toBe(depth);
    }
    for (const depth of [18, 34, 50, 101, 152]) {
      expect(parseConfig({ model: { arch: 'imagenet', depth }, data: { source: synthetic } }).model.depth).toBe(depth);
    }
  });
});

describe('parseConfig errors name each bad field', () => {
  it('explains CIFAR depths', () => {
    const err = configError({ model: { depth: 40 }, data: { source: synthetic } });
    expect(err.issues).toEqual([
      { path: 'model.depth', message: 'CIFAR ResNets have depth 6n+2 (20, 32, 38, 56, 74, 110, 152...), got 40' },
    ]);
    expect(err.message).toContain('model.depth: CIFAR ResNets have depth 6n+2 (20, 32, 38, 56, 74, 110, 152...), got 40');
  });

  it('explains ImageNet depths and gates', () => {
    const err = configError({ model: { arch: 'imagenet', depth: 38, gate: 'ffgate1' }, data: { source: synthetic } });
    expect(issuePaths(err).sort()).toEqual(['model.depth', 'model.gate']);
    expect(err.message).toContain('ImageNet ResNets have depth 18, 34, 50, 101, 152, got 38');
  });

  it('reports every problem at once, with the offending values', () => {
    const err = configError({
      model: { depth: 40, gate: 'lstm' },
      data: { source: { kind: 'cifar10' }, batchSize: 0 },
      optimizer: { lr: -1 },
      schedule: { milestones: [48000, 32000] },
      device: 'gpu',
      threshold: 2,
      hrl: { explore: 1 },
    });
    expect(issuePaths(err).sort()).toEqual(
      ['data.batchSize', 'data.source.root', 'device', 'hrl.explore', 'model.depth', 'model.gate', 'optimizer.lr', 'schedule.milestones', 'threshold'].sort(),
    );
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
    expect(byPath['model.gate']).toContain('"lstm"');
    expect(byPath['device']).toContain("must be 'cpu', 'cuda' or 'cuda:N'");
    expect(byPath['schedule.milestones']).toBe('must be strictly increasing, got [48000, 32000]');
    expect(byPath['optimizer.lr']).toContain('-1');
  });

  it('requires a data source and says how to give one', () => {
    const err = configError({});
    expect(issuePaths(err)).toEqual(['data.source']);
    expect(err.issues[0]!.message).toMatch(/required.*preset/);
  });

  it('rejects unknown keys and suggests the near one', () => {
    const err = configError({ model: { dpeth: 20 }, data: { source: synthetic }, evalEvry: 5 });
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
    expect(byPath['model']).toBe("unknown key 'dpeth' (did you mean 'depth'?)");
    expect(byPath['']).toBe("unknown key 'evalEvry' (did you mean 'evalEvery'?)");
  });

  it('checks source fields per kind and array indices', () => {
    const err = configError({ data: { source: { kind: 'synthetic', channels: 2 } }, schedule: { milestones: [100, -5] } });
    expect(issuePaths(err).sort()).toEqual(['data.source.channels', 'schedule.milestones[1]']);
    expect(configError({ data: { source: { kind: 'mnist', root: '/x' } } }).issues[0]!.path).toBe('data.source.kind');
  });

  it('checks warm-up against the run length and Nesterov against momentum', () => {
    const err = configError({
      data: { source: synthetic },
      schedule: { steps: 100, warmupSteps: 100 },
      optimizer: { momentum: 0, nesterov: true },
    });
    expect(issuePaths(err).sort()).toEqual(['optimizer.nesterov', 'schedule.warmupSteps']);
  });

  it('accepts cuda devices', () => {
    expect(parseConfig({ data: { source: synthetic }, device: 'cuda:1' }).device).toBe('cuda:1');
    expect(configError({ data: { source: synthetic }, device: 'cuda:x' }).issues[0]!.path).toBe('device');
  });
});

describe('layering: preset, file, overrides', () => {
  it('parses override values like a person means them', () => {
    expect(parseOverrideValue('74')).toBe(74);
    expect(parseOverrideValue('1e-4')).toBe(1e-4);
    expect(parseOverrideValue('.5')).toBe(0.5);
    expect(parseOverrideValue('true')).toBe(true);
    expect(parseOverrideValue('[100,200]')).toEqual([100, 200]);
    expect(parseOverrideValue('rnn')).toBe('rnn');
    expect(parseOverrideValue('cuda:0')).toBe('cuda:0');
    expect(parseOverrideValue('"42"')).toBe('42');
  });

  it('applies dot overrides in order and replaces a source whose kind changes', () => {
    const base = { model: { depth: 38 }, data: { source: { kind: 'cifar10', root: '/c10' }, batchSize: 128 } };
    const out = applyOverrides(base, ['model.depth=74', 'data.source.kind=synthetic', 'data.source.size=64', 'optimizer.lr=0.05']);
    expect(out).toEqual({
      model: { depth: 74 },
      data: { source: { kind: 'synthetic', size: 64 }, batchSize: 128 },
      optimizer: { lr: 0.05 },
    });
    expect(base.model.depth).toBe(38); // input untouched
  });

  it('rejects malformed overrides', () => {
    expect(() => applyOverrides({}, ['model.depth'])).toThrow(/key=value/);
    expect(() => applyOverrides({}, ['model..depth=3'])).toThrow(SkipNetError);
  });

  it('merges deeply, replaces arrays, skips undefined', () => {
    const merged = mergeLayers(
      { schedule: { milestones: [1, 2, 3], steps: 10 }, outDir: 'a' },
      { schedule: { milestones: [5] }, outDir: undefined },
    );
    expect(merged).toEqual({ schedule: { milestones: [5], steps: 10 }, outDir: 'a' });
  });

  describe('resolveConfig', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'skipnet-config-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('layers preset < file < --set < flags', async () => {
      const file = path.join(dir, 'run.json');
      await writeFile(file, JSON.stringify({ model: { depth: 56 }, optimizer: { lr: 0.05 }, evalEvery: 500 }));
      const c = await resolveConfig({
        defaults: { outDir: 'runs/default' },
        preset: 'cifar10-skipnet38-sp',
        configFile: file,
        overrides: ['model.depth=74', 'data.source.root=/data/c10'],
        flags: { schedule: { steps: 1000 }, threads: 3, outDir: undefined },
      });
      expect(c.model).toEqual({ arch: 'cifar', depth: 74, gate: 'rnn', gateMode: 'hard' });
      expect(c.optimizer.lr).toBe(0.05);
      expect(c.evalEvery).toBe(500);
      expect(c.data.source).toEqual({ kind: 'cifar10', root: '/data/c10' });
      expect(c.schedule.steps).toBe(1000);
      expect(c.schedule.milestones).toEqual([32000, 48000]); // from the preset; past the end, they never fire
      expect(c.threads).toBe(3);
      expect(c.outDir).toBe('runs/default');
    });

    it('reports file and preset problems by name', async () => {
      await expect(resolveConfig({ configFile: path.join(dir, 'missing.json') })).rejects.toThrow(/cannot read config file .*missing\.json/);
      const bad = path.join(dir, 'bad.json');
      await writeFile(bad, '{ "model": ');
      await expect(resolveConfig({ configFile: bad })).rejects.toThrow(/bad\.json is not valid JSON/);
      await expect(resolveConfig({ preset: 'nope' })).rejects.toThrow(/unknown preset 'nope'; known presets: .*fmnist-quick/);
      await expect(resolveConfig({ preset: 'fmnist-quick', overrides: ['model.depth=21'] })).rejects.toThrow(/model\.depth: CIFAR ResNets/);
    });
  });
});

describe('presets', () => {
  it('all parse', () => {
    for (const p of listPresets()) expect(() => parseConfig(p.config), p.name).not.toThrow();
  });

  it('carry the paper recipes', () => {
    for (const d of [38, 74, 110]) {
      const c = parseConfig(getPreset(`cifar10-skipnet${d}-sp`).config);
      expect(c.model).toEqual({ arch: 'cifar', depth: d, gate: 'rnn', gateMode: 'hard' });
      expect(c.optimizer).toEqual({ lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: false });
      expect(c.schedule).toMatchObject({ kind: 'step', steps: 64000, milestones: [32000, 48000], gamma: 0.1 });
      expect(c.data).toMatchObject({ batchSize: 128, augment: 'cifar' });
      expect(c.evalEvery).toBe(1000);
      expect(parseConfig(getPreset(`cifar10-resnet${d}`).config).model.gate).toBe('none');
    }
    const inet = parseConfig(getPreset('imagenet-skipnet101-sp').config);
    const epoch = Math.floor(1_281_167 / 256);
    expect(epoch).toBe(5004);
    expect(inet.schedule).toMatchObject({ steps: 120 * epoch, milestones: [30 * epoch, 60 * epoch, 90 * epoch], gamma: 0.1 });
    expect(inet.model).toMatchObject({ arch: 'imagenet', depth: 101, gate: 'rnn' });
    expect(inet.data.batchSize).toBe(256);
  });

  it('include the quick CPU recipes', () => {
    const fm = parseConfig(getPreset('fmnist-quick').config);
    expect(fm.data.source).toEqual({ kind: 'fashion-mnist', root: '/usr/share/datasets/fashion-mnist' });
    expect(fm.model).toMatchObject({ arch: 'cifar', depth: 20, gate: 'rnn' });
    expect(fm.schedule).toMatchObject({ kind: 'cosine', steps: 1500 });
    expect(parseConfig(getPreset('cifar10-quick').config).data.source.kind).toBe('folder');
    expect(parseConfig(getPreset('synthetic-smoke').config).schedule.steps).toBe(20);
  });

  it('hands out copies', () => {
    const p = getPreset('fmnist-quick');
    (p.config.model as { depth: number }).depth = 110;
    expect(PRESETS['fmnist-quick']!.config.model!.depth).toBe(20);
  });
});
