// Runs the skipnet CLI in-process and captures what it writes, for the CLI tests.
import { vi } from 'vitest';
import { runCli } from '../lib/cli/program.js';

export async function runSkipnet(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => ((out += String(chunk)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => ((err += String(chunk)), true));
  try {
    return { code: await runCli(['node', 'skipnet', ...args]), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
