// The commander program and the one place errors become exit codes. Kept apart
// from main.ts (which only runs it) so tests can drive the CLI in-process.

import { Command, CommanderError } from 'commander';
import { isSkipNetError } from '../errors.js';
import { packageVersion } from '../train/version.js';
import { registerEval } from './eval-command.js';
import { registerInfo } from './info-command.js';
import { registerLaunch } from './launch-command.js';
import { registerPredict } from './predict-command.js';
import { registerPresets } from './presets-command.js';
import { registerReport } from './report-command.js';
import { registerTrain } from './train-command.js';

export function buildProgram(): Command {
  const program = new Command('skipnet')
    .description('SkipNet: ResNets that learn to skip blocks per image (LibTorch addon)')
    .version(packageVersion(), '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    // Throw instead of process.exit so runCli decides the exit code (and tests can run in-process).
    .exitOverride()
    // Usage errors in the same form as every other error.
    .configureOutput({ outputError: (str, write) => write(`skipnet: ${str.replace(/^error: /, '')}`) });
  registerTrain(program);
  registerEval(program);
  registerPredict(program);
  registerInfo(program);
  registerPresets(program);
  registerLaunch(program);
  registerReport(program);
  return program;
}

/**
 * Print an error for people and return the exit code. SkipNetErrors are expected
 * failures (bad config, missing data...): message and code only, never a stack.
 * SKIPNET_DEBUG=1 adds stacks and causes.
 */
export function reportError(err: unknown): number {
  const debug = Boolean(process.env.SKIPNET_DEBUG);
  if (isSkipNetError(err)) {
    const [first, ...rest] = err.message.split('\n');
    // "invalid config:" + indented lines reads best as "invalid config (ERR_CONFIG):".
    const head = first!.endsWith(':') ? `${first!.slice(0, -1)} (${err.code}):` : `${first} (${err.code})`;
    process.stderr.write(`skipnet: ${head}\n${rest.map((l) => l + '\n').join('')}`);
    if (debug) process.stderr.write(`${err.stack}\n${err.cause ? `cause: ${String((err.cause as Error).stack ?? err.cause)}\n` : ''}`);
    return err.code === 'ERR_ABORTED' ? 130 : 1;
  }
  if (err instanceof CommanderError) return err.exitCode; // commander already printed it
  // Anything else is a bug: show everything needed to report it.
  process.stderr.write(`skipnet: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
  return 1;
}

export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}
