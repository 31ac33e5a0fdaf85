// The config's data.source schema for the SVHN, ImageNet and Tiny ImageNet sources and the download flag.
import { describe, expect, it } from 'vitest';
import { ConfigError, applyOverrides, parseConfig } from '../../lib/config.js';

const issues = (input: unknown): string[] => {
  try {
    parseConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected parseConfig to throw');
};

describe('data.source schema (svhn, imagenet, tiny-imagenet, download)', () => {
  it('accepts the new sources with their options', () => {
    const sources = [
      { kind: 'svhn', root: '/d/svhn' },
      { kind: 'svhn', root: '/d/svhn', extra: true, download: true },
      { kind: 'imagenet', root: '/d/ilsvrc' },
      { kind: 'imagenet', root: '/d/ilsvrc', size: 128, preload: true },
      { kind: 'tiny-imagenet', root: '/d/tiny-imagenet-200', exclude: ['n02480855', 'n10148035'] },
      { kind: 'cifar10', root: '/d/c10', download: true },
      { kind: 'cifar100', root: '/d/c100', labels: 'coarse', download: false },
    ];
    for (const source of sources) expect(parseConfig({ data: { source } }).data.source).toEqual(source);
  });

  it('names bad fields', () => {
    expect(issues({ data: { source: { kind: 'imagenet', root: '/d', size: 0 } } })[0]).toMatch(/^data\.source\.size: /);
    expect(issues({ data: { source: { kind: 'svhn', root: '/d', extras: true } } })[0]).toMatch(/^data\.source: unknown key 'extras'/);
    expect(issues({ data: { source: { kind: 'tiny-imagenet', root: '/d', exclude: ['a b'] } } })[0]).toMatch(/^data\.source\.exclude\[0\]: must be a wnid/);
    expect(issues({ data: { source: { kind: 'cifar10', root: '/d', download: 'yes' } } })[0]).toMatch(/^data\.source\.download: /);
  });

  it('--set data.source.download=true turns the download on', () => {
    const c = parseConfig(applyOverrides({ data: { source: { kind: 'svhn', root: '/d' } } }, ['data.source.download=true']));
    expect(c.data.source).toEqual({ kind: 'svhn', root: '/d', download: true });
  });
});

describe('data.augment default by source', () => {
  const augment = (source: object) => parseConfig({ data: { source } }).data.augment;
  it('is RandomResizedCrop for the ImageNet layout decoded per batch, none when preloaded, crop+flip for CIFAR', () => {
    expect(augment({ kind: 'imagenet', root: '/d/ilsvrc' })).toBe('imagenet');
    expect(augment({ kind: 'imagenet', root: '/d/ilsvrc', preload: true })).toBe('none');
    expect(augment({ kind: 'cifar10', root: '/d/c10' })).toBe('cifar');
    expect(augment({ kind: 'svhn', root: '/d/svhn' })).toBe('none'); // SVHN: no augmentation (spec 7)
  });
});
