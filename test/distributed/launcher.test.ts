// skipnet launch: the ranks' environment, a failing rank stopping the others, and a real
// two-rank training run through the CLI.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { wantsCuda, withThreads } from '../../lib/cli/launch-command.js';
import { launch } from '../../lib/distributed/launcher.js';

const scratch = mkdtempSync(join(tmpdir(), 'skipnet-launch-'));

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

describe('skipnet launch', () => {
  it("gives every rank torchrun's environment", async () => {
    const out = capture();
    const script = `const e = process.env; console.log(JSON.stringify([e.RANK, e.LOCAL_RANK, e.WORLD_SIZE, e.MASTER_ADDR, e.MASTER_PORT, e.CUDA_VISIBLE_DEVICES]))`;
    const r = await launch({ nprocPerNode: 2, nnodes: 2, nodeRank: 1, masterAddr: '10.1.2.3', command: process.execPath, args: ['-e', script], pinGpus: true, env: { CUDA_VISIBLE_DEVICES: '5,7' }, stdout: out.stream, stderr: capture().stream, forwardSignals: false });
    expect(r.exitCode).toBe(0);
    const lines = out.text().trim().split('\n').sort();
    expect(lines).toEqual([
      '[rank 2] ["2","0","4","10.1.2.3","29500","5"]',
      '[rank 3] ["3","1","4","10.1.2.3","29500","7"]',
    ]);
  });

  it('stops the others when a rank fails, and exits with its code, naming it and showing its stderr', async () => {
    const err = capture();
    const script = `if (process.env.RANK === '1') { console.error('something broke on rank 1'); process.exit(3); } setInterval(() => {}, 1000);`;
    const t = performance.now();
    const r = await launch({ nprocPerNode: 2, command: process.execPath, args: ['-e', script], stdout: capture().stream, stderr: err.stream, forwardSignals: false });
    expect(performance.now() - t).toBeLessThan(8_000);
    expect(r.exitCode).toBe(3);
    expect(r.failedRank).toBe(1);
    expect(r.ranks.find((x) => x.rank === 0)!.signal).toBe('SIGTERM');
    expect(err.text()).toMatch(/rank 1 \(pid \d+\) exited with code 3; stopped the other ranks/);
    expect(err.text()).toMatch(/last lines of rank 1's stderr:\n {2}something broke on rank 1/);
  });

  it('adds --threads to train, and knows when a command wants CUDA', () => {
    expect(withThreads(['train', '--preset', 'x'], 1)).toEqual(['train', '--preset', 'x', '--threads', '1']);
    expect(withThreads(['train', '--threads', '4'], 1)).toEqual(['train', '--threads', '4']);
    expect(withThreads(['eval', 'runs/x'], 1)).toEqual(['eval', 'runs/x']);
    expect(wantsCuda(['train', '--device', 'cuda:0'])).toBe(true);
    expect(wantsCuda(['train', '--set', 'device=cuda'])).toBe(true);
    expect(wantsCuda(['train', '--device', 'cpu'])).toBe(false);
  });

  it('trains with 2 ranks through the CLI: rank 0 writes the run, global batch reported', async () => {
    const outDir = join(scratch, 'run');
    const { code, stdout, stderr } = await cli([
      'launch', '--nproc-per-node', '2', '--',
      'train', '--json', '--steps', '4', '--out', outDir,
      '--set', 'data.source={"kind":"synthetic","size":64,"testSize":32,"height":16,"width":16,"numClasses":4}',
      '--set', 'model.depth=8', '--set', 'data.batchSize=8', '--set', 'evalEvery=2', '--set', 'logEvery=1',
    ]);
    expect(code, stderr).toBe(0);
    const events = eventsOf(stdout);
    expect(events.filter((e) => e.type === 'train').map((e) => e.step)).toEqual([1, 2, 3, 4]);
    expect(events.filter((e) => e.type === 'start')).toHaveLength(1); // rank 0 alone reports
    expect(stdout).not.toMatch(/\[rank 1\]/);
    const start = events.find((e) => e.type === 'start') as unknown as { batchesPerEpoch: number; spec: { threads: number } };
    expect(start.batchesPerEpoch).toBe(8); // 32 samples per rank / 4 per rank and step
    const metrics = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics.filter((m) => m.type === 'train')).toHaveLength(4); // one writer: no duplicates
    expect(existsSync(join(outDir, 'last', 'weights.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')).steps).toBe(4);
  });

  it('resumes across world sizes: a 2-rank checkpoint in 1 process, and that one in 2 ranks', async () => {
    const outDir = join(scratch, 'run'); // the previous test's 2-rank run, 4 steps
    const weightsAt = () => readFileSync(join(outDir, 'last', 'weights.safetensors'));
    const before = weightsAt();
    // 1 process continues the 2-rank run: same global batch (8), steps 5-6.
    const one = await cli(['train', '--json', '--resume', outDir, '--steps', '6']);
    expect(one.code, one.stderr).toBe(0);
    expect(eventsOf(one.stdout).filter((e) => e.type === 'train').map((e) => e.step)).toEqual([5, 6]);
    const afterOne = weightsAt();
    expect(afterOne.equals(before)).toBe(false);
    // 2 ranks continue the 1-process checkpoint: steps 7-8, each rank on half the batch.
    const two = await cli(['launch', '--nproc-per-node', '2', '--', 'train', '--json', '--resume', outDir, '--steps', '8']);
    expect(two.code, two.stderr).toBe(0);
    const events = eventsOf(two.stdout);
    expect(events.filter((e) => e.type === 'train').map((e) => e.step)).toEqual([7, 8]);
    expect((events.find((e) => e.type === 'start') as unknown as { batchesPerEpoch: number }).batchesPerEpoch).toBe(8);
    expect(JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')).steps).toBe(8);
    expect(weightsAt().equals(afterOne)).toBe(false);
  });

  it('HRL with an execution target on 2 ranks: alpha follows the global batch\'s executed fraction', async () => {
    const outDir = join(scratch, 'hrl-target');
    const { code, stdout, stderr } = await cli([
      'launch', '--nproc-per-node', '2', '--',
      'train', '--json', '--steps', '4', '--out', outDir, '--init', join(scratch, 'run'),
      '--set', 'data.source={"kind":"synthetic","size":64,"testSize":32,"height":16,"width":16,"numClasses":4}',
      '--set', 'model.depth=8', '--set', 'data.batchSize=8', '--set', 'evalEvery=4', '--set', 'logEvery=1',
      '--set', 'stage=hrl', '--set', 'hrl.alpha=0.5', '--set', 'hrl.executionTarget={"rate":0.3,"alphaStep":2}',
    ]);
    expect(code, stderr).toBe(0);
    const train = eventsOf(stdout).filter((e) => e.type === 'train') as unknown as { gateExecRates: number[]; alpha: number }[];
    expect(train).toHaveLength(4);
    // The logged rates are the global batch's (the addon sums them over the ranks): the alpha
    // rank 0 reports is the recurrence over them, and the one the checkpoint carries.
    let alpha = 0.5;
    for (const e of train) {
      const executed = e.gateExecRates.reduce((x, y) => x + y, 0) / e.gateExecRates.length;
      alpha = Math.max(0, alpha + 2 * (executed - 0.3));
      expect(e.alpha).toBeCloseTo(alpha, 12);
    }
    expect(JSON.parse(readFileSync(join(outDir, 'last', 'state.json'), 'utf8')).hrlAlpha).toBeCloseTo(alpha, 12);
  });
});

/** Runs the CLI from the sources in a child process. */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

function eventsOf(stdout: string): { type: string; step?: number }[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; step?: number });
}
