// `skipnet launch`: run a skipnet command as N data-parallel ranks on this node (torchrun's
// contract, so `torchrun ... dist/cli/main.js train ...` works as well). Each rank is this
// same CLI with RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set.

import os from 'node:os';
import type { Command } from 'commander';
import { SkipNetError } from '../errors.js';
import { launch } from '../distributed/launcher.js';
import { positiveInt } from './args.js';

interface LaunchFlags {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr?: string;
  masterPort?: number;
  threadsPerProc?: number;
  gpus?: boolean;
}

function nonNegativeInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new SkipNetError('ERR_BAD_ARG', `${name} expects an integer >= 0, got '${value}'`);
    return n;
  };
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new SkipNetError('ERR_BAD_ARG', `--master-port expects a port in 1..65535, got '${value}'`);
  return n;
}

export function registerLaunch(program: Command): void {
  program
    .command('launch')
    .description('run a command (e.g. train) as data-parallel ranks: one process per rank, gradients averaged over Gloo/NCCL')
    .argument('<command...>', 'the skipnet command every rank runs, after --')
    .requiredOption('-n, --nproc-per-node <n>', 'ranks (processes) on this node', positiveInt('--nproc-per-node'))
    .option('--nnodes <n>', 'nodes in the run', positiveInt('--nnodes'), 1)
    .option('--node-rank <r>', 'this node (0 runs rank 0 and the rendezvous)', nonNegativeInt('--node-rank'), 0)
    .option('--master-addr <host>', "node 0's address (default 127.0.0.1; required with --nnodes > 1)")
    .option('--master-port <port>', 'rendezvous port (default: a free one on one node, 29500 on several)', port)
    .option('--threads-per-proc <n>', 'LibTorch threads of each rank (default: cores / ranks), passed as train --threads', positiveInt('--threads-per-proc'))
    .option('--gpus', 'one GPU per rank (CUDA_VISIBLE_DEVICES); on by default when the command asks for --device cuda')
    .addHelpText(
      'after',
      '\nThe data.batchSize of the run is the global batch: each rank trains on batchSize / ranks of it.\n' +
        'Rank 0 prints progress and writes the checkpoints; a failing rank stops the others.\n\n' +
        'Examples:\n' +
        '  skipnet launch --nproc-per-node 2 -- train --preset cifar10-skipnet38-sp --out runs/ddp\n' +
        '  skipnet launch -n 4 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 -- train --config run.json --device cuda',
    )
    .action(async (command: string[], flags: LaunchFlags) => {
      process.exitCode = await runLaunch(command, flags);
    });
}

/** Whether the rank command asks for a CUDA device (--device cuda..., --set device=cuda...). */
export function wantsCuda(args: readonly string[]): boolean {
  return args.some((a, i) => /^--device=cuda/.test(a) || /^device=cuda/.test(a) || (a === '--device' && /^cuda/.test(args[i + 1] ?? '')));
}

/** The rank command with --threads added to `train` when it has none (ranks share the cores). */
export function withThreads(command: readonly string[], threads: number): string[] {
  const has = command.some((a) => a === '--threads' || a.startsWith('--threads=') || /^threads=/.test(a));
  return command[0] === 'train' && !has ? [...command, '--threads', String(threads)] : [...command];
}

async function runLaunch(command: string[], flags: LaunchFlags): Promise<number> {
  const threads = flags.threadsPerProc ?? Math.max(1, Math.floor(os.availableParallelism() / flags.nprocPerNode));
  const args = withThreads(command, threads);
  // Every rank runs this same CLI, under the same Node options (e.g. a TypeScript loader).
  const cli = process.argv[1];
  if (!cli) throw new SkipNetError('ERR_BAD_ARG', 'skipnet launch: cannot tell which script is the skipnet CLI (process.argv[1] is empty)');
  const result = await launch({
    nprocPerNode: flags.nprocPerNode,
    nnodes: flags.nnodes,
    nodeRank: flags.nodeRank,
    masterAddr: flags.masterAddr,
    masterPort: flags.masterPort,
    command: process.execPath,
    args: [...process.execArgv, cli, ...args],
    pinGpus: flags.gpus ?? wantsCuda(args),
  });
  return result.exitCode;
}
