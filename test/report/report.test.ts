// `skipnet report` on hand-written run folders: the CSV/JSONL numbers, a self-contained
// page, both training stages of an HRL run, notes in place of missing inputs, and errors
// for folders that are not runs. No addon, no browser.

import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodeRequest, ImageDataset } from '../../lib/data/types.js';
import { SkipNetError } from '../../lib/errors.js';
import { buildReport, type ReportResult } from '../../lib/report/build-report.js';
import { pickEasyHard } from '../../lib/report/easy-hard.js';
import { loadRun, loadRuns } from '../../lib/report/load-run.js';
import { MARGIN } from '../../lib/report/svg/frame.js';
import { niceTicks } from '../../lib/report/svg/scale.js';
import { xyChart } from '../../lib/report/svg/xy-chart.js';
import { thumbnails } from '../../lib/report/thumbnails.js';
import type { RoutingRecord } from '../../lib/report/types.js';
import { FULL_MACS, GATED, parseCsv, writeFixtureRuns, type FixtureRuns } from './fixtures.js';
import { runSkipnet } from '../cli-capture.js';

let scratch: string;
let runs: FixtureRuns;
let result: ReportResult;
let html: string;

async function csv(file: string): Promise<Array<Record<string, string>>> {
  return parseCsv(await readFile(file, 'utf8'));
}

const cli = (...args: string[]) => runSkipnet(...args);

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'skipnet-report-'));
  runs = await writeFixtureRuns(path.join(scratch, 'a'));
  result = await buildReport({ runDirs: [runs.sp, runs.hrl, runs.plain], out: path.join(scratch, 'out', 'report.html') });
  html = await readFile(result.html, 'utf8');
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('data files', () => {
  it('runs.csv has one row per run with the final numbers from the best source', async () => {
    const rows = await csv(result.files.runs);
    expect(Object.keys(rows[0]!).slice(0, 13)).toEqual([
      'name', 'stage', 'arch', 'depth', 'gate', 'alpha', 'top1', 'top5', 'cp', 'flopsReduction', 'macsMean', 'wallSeconds', 'steps',
    ]);
    expect(rows.map((r) => r.name)).toEqual(['sp', 'hrl', 'plain']);
    const [sp, hrl, plain] = rows as [Record<string, string>, Record<string, string>, Record<string, string>];
    // SP: finished, numbers from summary.json.
    expect(sp).toMatchObject({ stage: 'sp', gate: 'rnn', depth: '20', alpha: '', top1: '80', steps: '100', wallSeconds: '61.5', metricsFrom: 'summary' });
    // HRL: still running (no summary.json) but evaluated with `skipnet eval`: eval.json wins.
    expect(hrl).toMatchObject({ stage: 'hrl', alpha: '0.5', top1: '77.5', metricsFrom: 'eval', steps: '60', wallSeconds: '30' });
    const ev = JSON.parse(await readFile(path.join(runs.hrl, 'eval', 'eval.json'), 'utf8'));
    expect(Number(hrl.cp)).toBeCloseTo(ev.cp, 12);
    expect(Number(hrl.flopsReduction)).toBeCloseTo(100 - ev.cp, 12);
    expect(Number(hrl.macsMean)).toBeCloseTo(ev.macsPerImage.mean, 6);
    // Plain ResNet: included, CP 100.
    expect(plain).toMatchObject({ gate: 'none', top1: '82', cp: '100', flopsReduction: '0', fullMacs: String(FULL_MACS) });
  });

  it('curves.csv holds both stages of the HRL run on one step axis', async () => {
    const rows = await csv(result.files.curves);
    const hrl = rows.filter((r) => r.run === 'hrl');
    const spPart = hrl.filter((r) => r.stage === 'sp');
    const own = hrl.filter((r) => r.stage === 'hrl');
    // The SP run's 10 train and 2 eval lines, then the HRL run's own 6 + 1 (the torn line and the unknown type skipped).
    expect(spPart).toHaveLength(12);
    expect(spPart.every((r) => r.source === 'sp')).toBe(true);
    expect(own.filter((r) => r.type === 'train').map((r) => [Number(r.stageStep), Number(r.step)])).toEqual(
      [10, 20, 30, 40, 50, 60].map((s) => [s, s + 100]),
    );
    expect(own.find((r) => r.type === 'eval')).toMatchObject({ step: '160', stageStep: '60', acc: '75', source: 'hrl' });
    // A run without init has its own stage only; a plain ResNet's training CP is 100.
    expect(new Set(rows.filter((r) => r.run === 'sp').map((r) => r.stage))).toEqual(new Set(['sp']));
    expect(rows.filter((r) => r.run === 'plain' && r.type === 'train').every((r) => r.cp === '100')).toBe(true);
    expect(rows.filter((r) => r.run === 'sp' && r.type === 'train')[0]).toMatchObject({ step: '10', lr: String(0.1 * (1 - 10 / 101)) });
  });

  it('gates.csv and sweep.csv carry the per-gate rates and the threshold sweep', async () => {
    const gates = await csv(result.files.gates);
    expect(gates.filter((g) => g.run === 'sp')).toHaveLength(GATED);
    expect(gates.filter((g) => g.run === 'plain')).toHaveLength(0);
    const hrlGates = gates.filter((g) => g.run === 'hrl');
    const ev = JSON.parse(await readFile(path.join(runs.hrl, 'eval', 'eval.json'), 'utf8'));
    expect(hrlGates.map((g) => Number(g.execRate))).toEqual(ev.gateExecRates);
    expect(hrlGates.map((g) => g.gate)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
    expect(hrlGates.every((g) => g.source === 'eval')).toBe(true);

    const sweep = await csv(result.files.sweep);
    expect(sweep.map((p) => [p.run, p.threshold])).toEqual([['hrl', '0.3'], ['hrl', '0.5'], ['hrl', '0.7']]);
    expect(Number(sweep[1]!.macsPercentOfFull)).toBeCloseTo((100 * ev.macsPerImage.mean) / FULL_MACS, 9);
  });

  it('runs.jsonl has one object per run with config, eval and logs', async () => {
    const lines = (await readFile(result.files.runsJsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.name)).toEqual(['sp', 'hrl', 'plain']);
    const hrl = lines[1];
    expect(hrl.config.stage).toBe('hrl');
    expect(hrl.eval.top1).toBe(77.5);
    expect(hrl.sweep).toHaveLength(3);
    expect(hrl.routing).toEqual({ images: 40, correct: 32 });
    expect(hrl.init).toMatchObject({ init: 'runs/sp/last', dir: runs.sp, step: 100 });
    expect(hrl.metrics.train).toHaveLength(6);
    expect(hrl.notes.join(' ')).toMatch(/metrics\.jsonl: 1 unreadable line/);
    expect(lines[0].eval).toBeNull();
  });
});

describe('report.html', () => {
  it('is self-contained: no external URLs, no scripts, images inline', () => {
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?(?!#)/i);
    for (const m of html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/g)) expect(m[1]).toMatch(/^(data:image\/png;base64,|#)/);
    expect(html).toContain("Content-Security-Policy");
  });

  it('has every section, with charts', () => {
    for (const id of ['summary', 'curves', 'gates', 'tradeoff', 'macs', 'easy-hard']) expect(html).toContain(`<section id="${id}">`);
    expect((html.match(/<svg class="chart"/g) ?? []).length).toBeGreaterThanOrEqual(9);
    expect(html).toContain('SP → HRL');
    // The plain ResNet is a reference line in the accuracy/computation charts.
    expect(html).toContain('plain: plain ResNet, 82.00 %');
  });

  it('places every run at its absolute MACs in the MACs chart, plain ResNets included', async () => {
    // So that plain ResNets of other depths compare with SkipNet at their own cost.
    const ev = JSON.parse(await readFile(path.join(runs.hrl, 'eval', 'eval.json'), 'utf8'));
    expect(html).toContain(`<title>plain: top-1 82.00 %, ${(FULL_MACS / 1e6).toFixed(1)}M MACs per image</title>`);
    expect(html).toContain(`<title>hrl: top-1 77.50 %, ${(ev.macsPerImage.mean / 1e6).toFixed(1)}M MACs per image</title>`);
    expect(html).toContain('<title>plain: top-1 82.00 %, CP 100.00 %</title>');
  });

  it('shows the easy and hard images of the HRL run with their labels and predictions', () => {
    const imgs = html.match(/<img src="data:image\/png;base64,[A-Za-z0-9+/=]+"/g) ?? [];
    expect(imgs).toHaveLength(32); // 16 easy + 16 hard of the 40 test images
    expect(html).toContain('Fewest blocks (easy)');
    expect(html).toContain('Most blocks (hard)');
    expect(html).toMatch(/class\d<br>→ <span class="wrong">class\d<\/span>/);
  });

  it('says how to get what is missing instead of failing', () => {
    // The SP run has no eval/: notes with the command, in the sweep, MACs and routing sections.
    expect(html).toContain('No threshold sweep for sp; run <code>skipnet eval &lt;run&gt; --out &lt;run&gt;/eval --sweep</code>');
    expect(html).toMatch(/No eval\/eval\.json for sp, plain; .*<code>skipnet eval &lt;run&gt; --out &lt;run&gt;\/eval<\/code>/);
    expect(html).toMatch(/No eval\/routing\.jsonl for sp;/);
  });

  it('escapes text from the run folders', async () => {
    const dir = path.join(scratch, 'esc', '<b>&"x"');
    await cp(runs.sp, dir, { recursive: true });
    const r = await buildReport({ runDirs: [dir], out: path.join(scratch, 'esc-out', 'r.html') });
    const page = await readFile(r.html, 'utf8');
    expect(page).not.toContain('<b>&"x"');
    expect(page).toContain('&lt;b&gt;&amp;&quot;x&quot;');
  });
});

describe('inputs', () => {
  it('writes to <first run dir>/report/report.html by default', async () => {
    const root = path.join(scratch, 'default-out');
    const r = await writeFixtureRuns(root);
    const out = await buildReport({ runDirs: [r.plain] });
    expect(out.html).toBe(path.join(r.plain, 'report', 'report.html'));
    expect((await readFile(path.join(r.plain, 'report', 'runs.csv'), 'utf8')).split('\n')[1]).toMatch(/^plain,/);
  });

  it('finds the SP run of a moved HRL run next to it, and notes an SP run that is gone', async () => {
    const root = path.join(scratch, 'moved');
    const r = await writeFixtureRuns(root);
    // Rename runs/ so that config.outDir no longer matches: the sibling fallback finds sp/.
    const moved = path.join(root, 'elsewhere');
    await cp(path.join(root, 'runs'), moved, { recursive: true });
    const hrl = await loadRun(path.join(moved, 'hrl'));
    expect(hrl.initRun).toMatchObject({ dir: path.join(moved, 'sp'), step: 100 });

    await rm(path.join(moved, 'sp'), { recursive: true });
    await rm(r.sp, { recursive: true });
    const alone = await loadRun(path.join(moved, 'hrl'));
    expect(alone.initRun).toBeNull();
    expect(alone.initNote).toMatch(/init: runs\/sp\/last\) was not found/);
    const out = await buildReport({ runDirs: [path.join(moved, 'hrl')], out: path.join(root, 'o', 'r.html') });
    expect(await readFile(out.html, 'utf8')).toContain('was not found; only the HRL stage is shown');
  });

  it('notes a test set that cannot be opened and still writes the report', async () => {
    const root = path.join(scratch, 'nodata');
    // download: true must not make the report fetch anything: it is opened as download: false.
    const r = await writeFixtureRuns(root, { evalSource: { kind: 'cifar10', root: path.join(root, 'no-such-cifar'), download: true } });
    const out = await buildReport({ runDirs: [r.hrl], out: path.join(root, 'o', 'r.html') });
    const page = await readFile(out.html, 'utf8');
    expect(page).toMatch(/the test data \(cifar10:[^)]*no-such-cifar\) could not be opened/);
    expect(page).not.toContain('<img');
    expect(page).toContain('class="no-image"');
  });

  it('rejects folders that are not runs, naming the folder and what is missing', async () => {
    const half = path.join(scratch, 'half');
    await mkdir(half, { recursive: true });
    await writeFile(path.join(half, 'config.json'), '{}');
    const err = await loadRun(half).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SkipNetError);
    expect(err).toMatchObject({ code: 'ERR_BAD_ARG' });
    expect((err as Error).message).toContain(half);
    expect((err as Error).message).toMatch(/missing metrics\.jsonl/);

    const empty = path.join(scratch, 'empty');
    await mkdir(empty, { recursive: true });
    await expect(loadRun(empty)).rejects.toThrow(/missing config\.json and metrics\.jsonl/);
    await expect(loadRun(path.join(scratch, 'nope'))).rejects.toMatchObject({ code: 'ERR_BAD_ARG', message: expect.stringMatching(/does not exist/) });

    await writeFile(path.join(half, 'metrics.jsonl'), '');
    await writeFile(path.join(half, 'config.json'), '{ not json');
    await expect(loadRun(half)).rejects.toThrow(/config\.json is not valid JSON/);
  });

  it('gives clashing folder names their parent folder', async () => {
    const other = path.join(scratch, 'b');
    const r2 = await writeFixtureRuns(other);
    const loaded = await loadRuns([runs.sp, r2.sp]);
    expect(loaded.map((r) => r.name)).toEqual(['runs/sp', 'runs/sp (2)']);
  });
});

describe('skipnet report (CLI)', () => {
  it('prints one line per run and the files written', async () => {
    const out = path.join(scratch, 'cli', 'r.html');
    const r = await cli('report', runs.sp, runs.plain, '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/sp\s+SP\s+top-1 80\.00 %\s+CP/);
    expect(r.out).toMatch(/plain\s+SP\s+top-1 82\.00 %\s+CP 100\.00 %/);
    expect(r.out).toContain('r.html');
    expect(await readFile(out, 'utf8')).toMatch(/^<!doctype html>/);
  });

  it('fails with exit code 1 and a message for a bad run folder', async () => {
    const r = await cli('report', path.join(scratch, 'empty'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/skipnet: .*empty is not a skipnet run folder: missing config\.json and metrics\.jsonl .*\(ERR_BAD_ARG\)/);
  });
});

describe('helpers', () => {
  it('picks the images with the fewest and the most blocks, without overlap', () => {
    const rec = (i: number, blocks: number): RoutingRecord => ({ i, label: 0, pred: 0, correct: true, blocks, executed: '', macs: 0 });
    const routing = [rec(0, 5), rec(1, 2), rec(2, 9), rec(3, 2), rec(4, 7)];
    const { easy, hard } = pickEasyHard(routing, 2);
    expect(easy.map((r) => r.i)).toEqual([1, 3]);
    expect(hard.map((r) => r.i)).toEqual([2, 4]);
    const few = pickEasyHard(routing.slice(0, 3), 2);
    expect([...few.easy, ...few.hard].map((r) => r.i).sort()).toEqual([0, 1, 2]);
  });

  it('encodes thumbnails from in-memory and decode-per-batch datasets', async () => {
    const base = { name: 'fake', size: 3, height: 4, width: 4, channels: 1, numClasses: 2, classNames: ['a', 'b'], labels: Int32Array.from([0, 1, 0]) };
    const memory: ImageDataset = { ...base, readImage: (i, out, o) => out.fill(40 * (i + 1), o, o + 16) };
    const uris = await thumbnails(memory, [2, 0, 7], 64);
    expect([...uris.keys()]).toEqual([2, 0]); // 7 is outside the set
    const png = Buffer.from(uris.get(2)!.replace(/^data:image\/png;base64,/, ''), 'base64');
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 64, height: 64 });
    expect((await sharp(png).raw().toBuffer())[0]).toBe(120);

    // ImageNet-style: no readImage, decodeImages reports which file filled each slot (1 was bad, replaced by 2).
    const encoded: ImageDataset = {
      ...base,
      channels: 3,
      readImage: () => {
        throw new Error('decoded per batch');
      },
      decodeImages: async (req: DecodeRequest) => {
        req.out.fill(200);
        return Int32Array.from(req.indices, (i) => (i === 1 ? 2 : i));
      },
    };
    expect([...(await thumbnails(encoded, [0, 1], 64)).keys()]).toEqual([0]);
  });

  it('keeps a reference line label inside the plot when the line runs along its top', () => {
    // A plain ResNet more accurate than every SkipNet point: its line is the top of the y axis.
    const chart = (top1: number) =>
      xyChart({
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        series: [{ label: 's', colour: '#000', points: [[50, 72], [60, 73]], line: false }],
        hLines: [{ at: top1, label: 'plain' }],
        yDomain: [70, 75],
      });
    const place = (svg: string) => {
      const line = /<line class="ref"[^>]* y1="([\d.]+)"/.exec(svg);
      const label = /<text class="ref-label"[^>]* y="([\d.]+)"[^>]*>plain</.exec(svg);
      expect(line && label).toBeTruthy();
      return { line: Number(line![1]), label: Number(label![1]), top: MARGIN.top };
    };
    const atTop = place(chart(75));
    expect(atTop.line).toBeCloseTo(atTop.top, 5);
    expect(atTop.label).toBeGreaterThan(atTop.line + 11); // below the line, its whole height inside
    const lower = place(chart(72.5));
    expect(lower.label).toBeLessThan(lower.line); // above the line where there is room
    expect(lower.label - 11).toBeGreaterThanOrEqual(lower.top);
  });

  it('makes nice axis ticks', () => {
    expect(niceTicks(0, 100, 5).values).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(47.3, 49.9, 5)).toMatchObject({ min: 47, max: 50, step: 1 });
    expect(niceTicks(3, 3).values.length).toBeGreaterThan(1);
  });
});
