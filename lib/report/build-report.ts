// `skipnet report` without the CLI: load the runs, render the page, write report.html
// and the data files beside it.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packageVersion } from '../train/version.js';
import { curvesCsv, DATA_FILES, gatesCsv, runsCsv, runsJsonl, sweepCsv } from './data-files.js';
import { prepareEasyHard } from './easy-hard.js';
import { loadRuns } from './load-run.js';
import { renderPage } from './page.js';
import { runRow, type RunRow } from './run-row.js';
import { curvesSection } from './sections/curves.js';
import { easyHardSection } from './sections/easy-hard.js';
import { gatesSection } from './sections/gates.js';
import { macsSection } from './sections/macs.js';
import { summarySection } from './sections/summary.js';
import { tradeoffSection } from './sections/tradeoff.js';
import { runColour } from './svg/palette.js';
import { TestSetCache } from './thumbnails.js';

export interface ReportOptions {
  runDirs: readonly string[];
  /** The HTML file; default `<first run dir>/report/report.html`. */
  out?: string;
  /** Images per easy/hard group (default 16) and their size in pixels (default 64). */
  perGroup?: number;
  thumbSize?: number;
  /** Shown in the footer; default now. */
  now?: Date;
}

export interface ReportResult {
  html: string;
  /** The data files written beside it, by kind. */
  files: Record<keyof typeof DATA_FILES, string>;
  rows: RunRow[];
}

export function defaultReportPath(firstRunDir: string): string {
  return path.join(firstRunDir, 'report', 'report.html');
}

export async function buildReport(opts: ReportOptions): Promise<ReportResult> {
  const runs = await loadRuns(opts.runDirs);
  const perGroup = opts.perGroup ?? 16;
  const colours = runs.map((_, k) => runColour(k));
  const rows = runs.map(runRow);
  const figures = await prepareEasyHard(runs, { perGroup, size: opts.thumbSize ?? 64 }, new TestSetCache());

  const html = renderPage(
    {
      title: `SkipNet report: ${runs.length === 1 ? runs[0]!.name : `${runs.length} runs`}`,
      subtitle: runs.map((r) => r.name).join(' · '),
      generatedAt: opts.now ?? new Date(),
      version: packageVersion(),
      dataFiles: Object.values(DATA_FILES),
    },
    [
      summarySection(runs, rows, colours),
      curvesSection(runs, colours),
      gatesSection(runs, colours),
      tradeoffSection(runs, colours),
      macsSection(runs, colours),
      easyHardSection(runs, figures, perGroup),
    ],
  );

  const out = path.resolve(opts.out ?? defaultReportPath(opts.runDirs[0]!));
  const dir = path.dirname(out);
  await mkdir(dir, { recursive: true });
  const files = {
    curves: path.join(dir, DATA_FILES.curves),
    runs: path.join(dir, DATA_FILES.runs),
    gates: path.join(dir, DATA_FILES.gates),
    sweep: path.join(dir, DATA_FILES.sweep),
    runsJsonl: path.join(dir, DATA_FILES.runsJsonl),
  };
  await Promise.all([
    writeFile(out, html),
    writeFile(files.curves, curvesCsv(runs)),
    writeFile(files.runs, runsCsv(rows)),
    writeFile(files.gates, gatesCsv(runs)),
    writeFile(files.sweep, sweepCsv(runs)),
    writeFile(files.runsJsonl, runsJsonl(runs)),
  ]);
  return { html: out, files, rows };
}
