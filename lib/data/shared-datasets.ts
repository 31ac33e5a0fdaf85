// Locate the project's shared real-data archives (../shared/datasets relative to the project
// root, or $SKIPNET_SHARED_DATASETS) and extract one into the cache once.
//
// Extraction goes into a temporary folder next to the target; a marker file is written only after
// `tar` exits successfully, and the folder is then renamed into place. A killed extraction leaves
// only a temporary folder (cleaned up later), never a target that looks complete.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractTarGz } from './tar.js';
import { isDir, isFile, skipnetCacheDir } from './util.js';

const MARKER = '.skipnet-extracted';

/** The project root: the nearest folder above this module whose package.json is named "skipnet". */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'skipnet') return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** The shared datasets folder, or null when it does not exist (e.g. on a user's machine). */
export function sharedDatasetsDir(): string | null {
  const env = process.env.SKIPNET_SHARED_DATASETS;
  const dir = env && env.trim() !== '' ? path.resolve(env) : path.resolve(projectRoot(), '..', 'shared', 'datasets');
  return existsSync(dir) ? dir : null;
}

/** Path of <name>.tar.gz in the shared datasets folder, or null when absent. */
export function sharedArchive(name: string): string | null {
  const dir = sharedDatasetsDir();
  if (!dir) return null;
  const p = path.join(dir, name.endsWith('.tar.gz') ? name : `${name}.tar.gz`);
  return existsSync(p) ? p : null;
}

export interface SharedDatasetOptions {
  /** Cache root (default $SKIPNET_CACHE or ~/.cache/skipnet); archives extract to <cacheDir>/datasets/<name>. */
  cacheDir?: string;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove temporary folders left by extractions whose process is gone. */
async function cleanStale(parent: string, name: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fsp.readdir(parent);
  } catch {
    return;
  }
  const re = new RegExp(`^\\.tmp-${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)-[0-9a-f]+$`);
  for (const e of entries) {
    const m = re.exec(e);
    if (m && !pidAlive(Number(m[1]))) await fsp.rm(path.join(parent, e), { recursive: true, force: true });
  }
}

/** The folder to hand to a reader: the single top-level folder of the archive, if it has one. */
async function rootOf(dir: string): Promise<string> {
  const entries = (await fsp.readdir(dir, { withFileTypes: true })).filter((e) => e.name !== MARKER);
  if (entries.length === 1 && entries[0].isDirectory()) return path.join(dir, entries[0].name);
  return dir;
}

async function markerMatches(target: string, stamp: string): Promise<boolean> {
  try {
    return (await fsp.readFile(path.join(target, MARKER), 'utf8')) === stamp;
  } catch {
    return false;
  }
}

const pending = new Map<string, Promise<string | null>>();

/**
 * Extract the shared archive `<name>.tar.gz` (e.g. 'cifar10-jpeg') into the cache once and return
 * the extracted root (the archive's single top-level folder, e.g. .../cifar10-jpeg holding
 * train/ and test/), or null when the archive is not there.
 */
export function sharedDataset(name: string, opts: SharedDatasetOptions = {}): Promise<string | null> {
  const cacheDir = opts.cacheDir ?? skipnetCacheDir();
  const k = `${cacheDir}\0${name}`;
  let p = pending.get(k);
  if (!p) {
    p = extractOnce(name, cacheDir).finally(() => pending.delete(k));
    pending.set(k, p);
  }
  return p;
}

async function extractOnce(name: string, cacheDir: string): Promise<string | null> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`sharedDataset: bad dataset name ${JSON.stringify(name)}`);
  const archive = sharedArchive(name);
  if (!archive) return null;
  const st = await fsp.stat(archive);
  const stamp = JSON.stringify({ archive, size: st.size, mtimeMs: st.mtimeMs });
  const parent = path.join(cacheDir, 'datasets');
  const base = name.replace(/\.tar\.gz$/, '');
  const target = path.join(parent, base);
  if (await markerMatches(target, stamp)) return rootOf(target);

  await fsp.mkdir(parent, { recursive: true });
  await cleanStale(parent, base);
  const tmp = path.join(parent, `.tmp-${base}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fsp.mkdir(tmp);
  try {
    try {
      await extractTarGz(archive, tmp);
    } catch (e) {
      throw new Error(`sharedDataset: extracting ${archive} failed: ${(e as Error).message}`);
    }
    await fsp.writeFile(path.join(tmp, MARKER), stamp);
    // Another process may have finished first; an incomplete or outdated target is replaced.
    if (await markerMatches(target, stamp)) return rootOf(target);
    if (await isDir(target)) {
      const old = path.join(parent, `.tmp-${base}-${process.pid}-${randomBytes(4).toString('hex')}`);
      await fsp.rename(target, old).catch(() => undefined);
      await fsp.rm(old, { recursive: true, force: true });
    } else if (await isFile(target)) {
      await fsp.rm(target, { force: true });
    }
    try {
      await fsp.rename(tmp, target);
    } catch (e) {
      // Lost a race with a concurrent extraction: fine when the winner is complete.
      if (!(await markerMatches(target, stamp))) throw e;
    }
    return rootOf(target);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}
