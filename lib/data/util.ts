// Small helpers shared by the readers (internal; not part of the public surface
// except skipnetCacheDir).
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SkipNetError } from '../errors.js';

/** The error every reader throws for missing, truncated or inconsistent data (code ERR_DATA). */
export function dataError(message: string, cause?: unknown): SkipNetError {
  return new SkipNetError('ERR_DATA', message, cause === undefined ? undefined : { cause });
}

/** The cache root: $SKIPNET_CACHE, else ~/.cache/skipnet. */
export function skipnetCacheDir(): string {
  const env = process.env.SKIPNET_CACHE;
  if (env && env.trim() !== '') return path.resolve(env);
  return path.join(os.homedir(), '.cache', 'skipnet');
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

export async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

export async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Run fn(0..count-1) with at most `limit` calls in flight. Rejects on the first
 * error (no new calls are started after it).
 */
export async function mapLimit(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.max(1, Math.min(limit, count)); w++) workers.push(worker());
  await Promise.all(workers);
}

/** Read a text file of names, one per line (blank lines dropped); null when absent. */
export async function readNameList(file: string): Promise<string[] | null> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return null;
  }
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
