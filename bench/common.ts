// Helpers shared by the benchmarks under bench/: machine facts, child processes that
// print one JSON line, medians, result files and plain-text tables.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeBatch } from '../lib/binding-types.js';
import type { ImageDataset } from '../lib/data/types.js';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const packageRoot = join(benchDir, '..');
export const resultsDir = join(benchDir, 'results');

/** What every benchmark module exports; bench/run.ts dispatches to it. */
export interface BenchModule {
  /** One line for `npm run bench -- --help`. */
  description: string;
  /** Flag help, printed by `npm run bench -- <name> --help`. */
  usage: string;
  run(argv: string[]): Promise<void>;
}

export interface MachineInfo {
  hostname: string;
  cpuModel: string;
  /** Logical CPUs the OS reports (os.cpus()). */
  logicalCpus: number;
  /** Physical cores from /proc/cpuinfo (distinct physical id + core id), when known. */
  physicalCores: number | null;
  availableParallelism: number;
  loadAverage: number[];
  totalMemGiB: number;
  platform: string;
  arch: string;
  node: string;
}

function cpuInfo(): { model: string; physicalCores: number | null } {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim();
    const cores = new Set<string>();
    for (const block of text.split(/\n\s*\n/)) {
      const phys = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
      const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
      if (phys !== undefined && core !== undefined) cores.add(`${phys}:${core}`);
    }
    return { model: model ?? os.cpus()[0]?.model ?? 'unknown', physicalCores: cores.size > 0 ? cores.size : null };
  } catch {
    return { model: os.cpus()[0]?.model ?? 'unknown', physicalCores: null };
  }
}

export function machineInfo(): MachineInfo {
  const cpu = cpuInfo();
  return {
    hostname: os.hostname(),
    cpuModel: cpu.model,
    logicalCpus: os.cpus().length,
    physicalCores: cpu.physicalCores,
    availableParallelism: os.availableParallelism(),
    loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.type()} ${os.release()}`,
    arch: process.arch,
    node: process.version,
  };
}

export function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 48) || 'unknown'
  );
}

/** Median of the values (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface ChildResult<T> {
  value: T;
  wallMs: number;
}

/** Runs a command that prints its result as one JSON line (the last line of stdout that
 *  parses as a JSON object). stderr passes through, prefixed, when `verbose`; a non-zero
 *  exit or a missing JSON line rejects with the tail of stderr. */
export function runJsonChild<T>(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; label: string; timeoutMs?: number } = { label: command },
): Promise<ChildResult<T>> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, {
      cwd: opts.cwd ?? packageRoot,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGTERM');
        }, opts.timeoutMs)
      : null;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`${opts.label}: could not start ${command}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const wallMs = performance.now() - t0;
      const tail = err.trim().split('\n').slice(-15).join('\n');
      if (code !== 0) {
        reject(new Error(`${opts.label}: ${command} exited with ${code ?? signal}\n${tail}`));
        return;
      }
      const lines = out.trim().split('\n').reverse();
      for (const line of lines) {
        const t = line.trim();
        if (!t.startsWith('{')) continue;
        try {
          resolve({ value: JSON.parse(t) as T, wallMs });
          return;
        } catch {
          /* keep looking */
        }
      }
      reject(new Error(`${opts.label}: no JSON result line in the output of ${command}\n${out.slice(-2000)}\n${tail}`));
    });
  });
}

function stamp(d: Date): string {
  // 2025-01-31T120501Z: sortable, no characters a file system dislikes.
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '');
}

/** Writes bench/results/<name>-<host>-<date>.json and bench/results/latest-<name>.json.
 *  Returns the dated path. */
export async function writeResults(name: string, data: unknown, when = new Date(), dir = resultsDir): Promise<string> {
  await mkdir(dir, { recursive: true });
  const host = slug(os.hostname()) !== 'unknown' ? slug(os.hostname()) : slug(cpuInfo().model);
  const file = join(dir, `${name}-${host}-${stamp(when)}.json`);
  const text = JSON.stringify(data, null, 2) + '\n';
  await writeFile(file, text);
  await writeFile(join(dir, `latest-${name}.json`), text);
  return file;
}

/** A plain-text table: the first row is the header; numbers are right-aligned. */
export function formatTable(rows: string[][], rightAlign: boolean[] = []): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (rightAlign[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]!), sep, ...rows.slice(1).map(line)].join('\n');
}

export function fmt(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

export function positiveInt(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  return v;
}

/** A batch of dataset images [start, start + n), wrapping around the split. */
export function batchOf(ds: ImageDataset, start: number, n: number): NativeBatch {
  const bytes = ds.height * ds.width * ds.channels;
  const images = new Uint8Array(n * bytes);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = (start + i) % ds.size;
    ds.readImage(k, images, i * bytes);
    labels[i] = ds.labels[k]!;
  }
  return { images, labels, n, height: ds.height, width: ds.width, channels: ds.channels };
}
