// Starts the local ranks of a data-parallel run (torchrun's contract: RANK, LOCAL_RANK,
// WORLD_SIZE, MASTER_ADDR, MASTER_PORT in each child's environment) and watches them:
//   - signals to the launcher (Ctrl-C, SIGTERM, SIGHUP) are passed on once to every rank, which
//     then stop together at a step boundary (the trainer agrees on it) and save last/;
//   - when a rank fails, the others are stopped (they would only wait for it, or fail without
//     saying why), and the launcher exits with that rank's code after printing which rank it
//     was and the last lines of its stderr.
// Ranks run in their own process groups, so a Ctrl-C in the terminal reaches them only
// through the launcher (once), not also straight from the terminal.

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import os from 'node:os';
import { SkipNetError } from '../errors.js';

export interface LaunchOptions {
  nprocPerNode: number;
  nnodes?: number;
  nodeRank?: number;
  /** Rank 0's host. Default 127.0.0.1 on one node; required on several. */
  masterAddr?: string;
  /** Default: a free port on one node, 29500 on several (every node must agree). */
  masterPort?: number;
  /** What each rank runs. */
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Give each rank one GPU through CUDA_VISIBLE_DEVICES (its local rank's entry of the visible list). */
  pinGpus?: boolean;
  /** Where launcher notes and the ranks' prefixed output go (default: this process's streams). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Rank 0's stdout goes straight to this process's stdout (a TTY stays a TTY: progress bars). Default true. */
  inheritRootStdout?: boolean;
  /** Pass SIGINT/SIGTERM/SIGHUP on to the ranks (default true). */
  forwardSignals?: boolean;
  /** After asking failed runs' ranks to stop (SIGTERM), kill them after this long (default 10 s). */
  killGraceMs?: number;
  /** Lines of each rank's stderr kept for the failure report (default 20). */
  tailLines?: number;
}

export interface RankExit {
  rank: number;
  localRank: number;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LaunchResult {
  /** 0 when every rank succeeded; else the first failed rank's code (128 + n for a signal). */
  exitCode: number;
  /** The rank that failed first, or null. */
  failedRank: number | null;
  ranks: RankExit[];
  masterAddr: string;
  masterPort: number;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? os.constants.signals[signal as keyof typeof os.constants.signals] ?? 1);
}

/** A TCP port free at the moment (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new SkipNetError('ERR_BAD_ARG', `${name} must be an integer >= ${min}, got ${v}`);
}

/** Runs the ranks of this node until all have exited; resolves with the launcher's exit code. */
export async function launch(opts: LaunchOptions): Promise<LaunchResult> {
  const nproc = opts.nprocPerNode;
  const nnodes = opts.nnodes ?? 1;
  const nodeRank = opts.nodeRank ?? 0;
  checkInt('--nproc-per-node', nproc, 1);
  checkInt('--nnodes', nnodes, 1);
  checkInt('--node-rank', nodeRank, 0);
  if (nodeRank >= nnodes) throw new SkipNetError('ERR_BAD_ARG', `--node-rank ${nodeRank} is outside 0..${nnodes - 1}`);
  if (nnodes > 1 && !opts.masterAddr) {
    throw new SkipNetError('ERR_BAD_ARG', '--master-addr is required with --nnodes > 1: the address of the node that runs rank 0 (--node-rank 0)');
  }
  const masterAddr = opts.masterAddr ?? '127.0.0.1';
  const masterPort = opts.masterPort ?? (nnodes > 1 ? 29500 : await freePort());
  const worldSize = nproc * nnodes;
  const out = opts.stdout ?? process.stdout;
  const err = opts.stderr ?? process.stderr;
  const note = (line: string) => err.write(`skipnet launch: ${line}\n`);
  const tailLines = opts.tailLines ?? 20;
  const gpus = (opts.env?.CUDA_VISIBLE_DEVICES ?? process.env.CUDA_VISIBLE_DEVICES)?.split(',').filter(Boolean);

  interface Running {
    exit: RankExit;
    child: ChildProcess;
    tail: string[];
    done: Promise<void>;
  }
  const running: Running[] = [];
  let failed: Running | null = null;
  let interrupted = false;
  let killTimer: NodeJS.Timeout | null = null;

  const signalAll = (sig: NodeJS.Signals) => {
    for (const r of running) {
      if (r.exit.code !== null || r.exit.signal !== null || r.child.pid === undefined) continue;
      try {
        process.kill(-r.child.pid, sig); // its process group: the rank and anything it started
      } catch {
        r.child.kill(sig);
      }
    }
  };
  const stopOthers = () => {
    signalAll('SIGTERM');
    killTimer ??= setTimeout(() => signalAll('SIGKILL'), opts.killGraceMs ?? 10_000);
    killTimer.unref();
  };

  note(
    `${nproc} rank(s) on node ${nodeRank} of ${nnodes} (world size ${worldSize}), rendezvous at ${masterAddr}:${masterPort}`,
  );
  for (let local = 0; local < nproc; local++) {
    const rank = nodeRank * nproc + local;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...opts.env,
      RANK: String(rank),
      LOCAL_RANK: String(local),
      WORLD_SIZE: String(worldSize),
      LOCAL_WORLD_SIZE: String(nproc),
      GROUP_RANK: String(nodeRank),
      MASTER_ADDR: masterAddr,
      MASTER_PORT: String(masterPort),
    };
    if (opts.pinGpus) env.CUDA_VISIBLE_DEVICES = gpus?.length ? gpus[local % gpus.length] : String(local);
    const inheritStdout = rank === 0 && (opts.inheritRootStdout ?? true) && out === process.stdout;
    const child = spawn(opts.command, [...opts.args], {
      env,
      stdio: ['ignore', inheritStdout ? 'inherit' : 'pipe', 'pipe'],
      detached: true,
    });
    const r: Running = { exit: { rank, localRank: local, pid: child.pid, code: null, signal: null }, child, tail: [], done: Promise.resolve() };
    // Rank 0's output reads as a plain run's; the others' lines say whose they are.
    const prefix = rank === 0 ? '' : `[rank ${rank}] `;
    const pipeLines = (stream: NodeJS.ReadableStream | null, to: NodeJS.WritableStream, keep: boolean) => {
      if (!stream) return Promise.resolve();
      let partial = '';
      stream.setEncoding('utf8');
      const emitLine = (line: string) => {
        to.write(prefix + line + '\n');
        if (keep) {
          r.tail.push(line);
          if (r.tail.length > tailLines) r.tail.shift();
        }
      };
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        lines.forEach(emitLine);
      });
      return new Promise<void>((resolve) => {
        const finish = () => {
          if (partial) emitLine(partial);
          partial = '';
          resolve();
        };
        stream.on('end', finish);
        stream.on('close', finish); // also after a failed start, when no 'end' comes
      });
    };
    const streams = Promise.all([pipeLines(child.stdout, out, false), pipeLines(child.stderr, err, true)]);
    const exited = new Promise<void>((resolve) => {
      child.on('error', (e) => {
        r.tail.push(`could not start ${opts.command}: ${e.message}`);
        r.exit.code = 127;
        resolve();
      });
      child.on('exit', (code, signal) => {
        r.exit.code = code;
        r.exit.signal = signal;
        resolve();
      });
    });
    r.done = exited.then(async () => {
      // The first rank to fail is decided when it exits (its peers fail right after, because of it).
      // After a forwarded signal every rank is on its way out: let them finish saving.
      const code = exitCodeOf(r.exit.code, r.exit.signal);
      const first = code !== 0 && !failed && !interrupted;
      if (first) {
        failed = r;
        stopOthers();
      }
      await streams;
      if (!first) return;
      const how = r.exit.signal ? `was killed by ${r.exit.signal}` : `exited with code ${code}`;
      note(`rank ${rank} (pid ${r.exit.pid}) ${how}; stopped the other ranks`);
      if (r.tail.length) err.write(`skipnet launch: last lines of rank ${rank}'s stderr:\n${r.tail.map((l) => `  ${l}`).join('\n')}\n`);
    });
    running.push(r);
  }

  const onSignal = (sig: NodeJS.Signals) => {
    if (!interrupted) note(`${sig}: passing it on to every rank (they stop at the next step and save; ${sig} again to quit at once)`);
    interrupted = true;
    signalAll(sig);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = opts.forwardSignals ?? true;
  // If this process dies, the ranks (in their own groups) must not outlive it.
  const killAll = () => signalAll('SIGKILL');
  if (forward) for (const s of signals) process.on(s, onSignal);
  process.on('exit', killAll);
  try {
    await Promise.all(running.map((r) => r.done));
  } finally {
    if (forward) for (const s of signals) process.off(s, onSignal);
    process.off('exit', killAll);
    if (killTimer) clearTimeout(killTimer);
  }

  const firstFailed = failed as Running | null;
  const codes = running.map((r) => exitCodeOf(r.exit.code, r.exit.signal));
  const exitCode = firstFailed ? exitCodeOf(firstFailed.exit.code, firstFailed.exit.signal) : (codes.find((c) => c !== 0) ?? 0);
  if (firstFailed) note(`failed: rank ${firstFailed.exit.rank} exited first with code ${exitCode}`);
  return { exitCode, failedRank: firstFailed?.exit.rank ?? null, ranks: running.map((r) => r.exit), masterAddr, masterPort };
}
