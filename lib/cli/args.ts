// Option parsers for commander. They throw SkipNetError ERR_BAD_ARG so that bad
// flags are reported like every other error: `skipnet: <message> (ERR_BAD_ARG)`.

import type { DataSourceSpec } from '../data/types.js';
import { DataSourceSchema, ConfigError } from '../config.js';
import { SkipNetError } from '../errors.js';

/** For repeatable options: --set a=1 --set b=2. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new SkipNetError('ERR_BAD_ARG', `${name} expects a positive integer, got '${value}'`);
    return n;
  };
}

export function probability(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
      throw new SkipNetError('ERR_BAD_ARG', `${name} expects a number in [0, 1], got '${value}'`);
    }
    return n;
  };
}

/**
 * --data: a JSON source spec ('{"kind":"cifar10","root":"/data/c10"}') or the
 * shorthand kind:root ('cifar10:/data/c10', 'folder:./imgs', 'synthetic').
 */
export function parseDataArg(value: string): DataSourceSpec {
  let raw: unknown;
  if (value.trim().startsWith('{')) {
    try {
      raw = JSON.parse(value);
    } catch (err) {
      throw new SkipNetError('ERR_BAD_ARG', `--data is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    const colon = value.indexOf(':');
    raw = colon < 0 ? { kind: value } : { kind: value.slice(0, colon), root: value.slice(colon + 1) };
  }
  const parsed = DataSourceSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: ['--data', ...i.path].join('.'), message: i.message }));
    throw new ConfigError(issues, 'invalid --data (use kind:root, e.g. cifar10:/data/cifar-10-batches-bin, or a JSON object)');
  }
  return parsed.data;
}
