// Tolerant readers for the files of a run folder. Training may be writing metrics.jsonl
// while the report reads it, so a torn last line is skipped (and counted), not fatal.

import { readFile } from 'node:fs/promises';

export type JsonRead = { kind: 'ok'; value: unknown } | { kind: 'missing' } | { kind: 'bad'; message: string };

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function readText(file: string): Promise<{ text: string } | { missing: true } | { error: string }> {
  try {
    return { text: await readFile(file, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    return { error: `cannot read ${file}: ${errMessage(err)}` };
  }
}

/** One JSON document; a missing file and a corrupt one are told apart. */
export async function readJsonFile(file: string): Promise<JsonRead> {
  const r = await readText(file);
  if ('missing' in r) return { kind: 'missing' };
  if ('error' in r) return { kind: 'bad', message: r.error };
  try {
    return { kind: 'ok', value: JSON.parse(r.text) };
  } catch (err) {
    return { kind: 'bad', message: `${file} is not valid JSON: ${errMessage(err)}` };
  }
}

export interface JsonLines {
  values: unknown[];
  /** Lines that did not parse (a line being written, or damage). */
  badLines: number;
}

/** JSON Lines; null when the file does not exist. Blank lines are ignored. */
export async function readJsonLines(file: string): Promise<JsonLines | null | { error: string }> {
  const r = await readText(file);
  if ('missing' in r) return null;
  if ('error' in r) return r;
  const values: unknown[] = [];
  let badLines = 0;
  for (const line of r.text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch {
      badLines++;
    }
  }
  return { values, badLines };
}
