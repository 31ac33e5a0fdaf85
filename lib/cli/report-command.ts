// `skipnet report <runDir...>`: one self-contained HTML report (tables, charts, easy and
// hard test images) of one or more training runs, with the numbers as CSV/JSONL beside it.

import type { Command } from 'commander';
import path from 'node:path';
import { buildReport } from '../report/build-report.js';
import type { RunRow } from '../report/run-row.js';
import { formatPercent } from './format.js';

interface ReportFlags {
  out?: string;
  json?: boolean;
}

/** One line per run: enough to see the result without opening the page. */
function runLines(rows: readonly RunRow[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  return rows
    .map((r) => {
      const top1 = r.top1 === null ? 'not evaluated yet' : `top-1 ${formatPercent(r.top1)}`;
      const cp = r.cp === null ? '' : `  CP ${formatPercent(r.cp)}`;
      return `  ${r.name.padEnd(width)}  ${r.stage.toUpperCase().padEnd(3)}  ${top1}${cp}`;
    })
    .join('\n');
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write an HTML report (curves, gate rates, accuracy vs computation, easy/hard images) and CSVs for run folders')
    .argument('<runDir...>', 'run folders written by `skipnet train --out` (an `eval/` from `skipnet eval --out <run>/eval --sweep` adds more)')
    .option('-o, --out <file.html>', 'the HTML file; CSV and JSONL files go beside it (default: <first run dir>/report/report.html)')
    .option('--json', 'print the written paths and the per-run numbers as one JSON object')
    .action(async (runDirs: string[], flags: ReportFlags) => {
      const result = await buildReport({ runDirs, out: flags.out });
      if (flags.json) {
        process.stdout.write(JSON.stringify({ html: result.html, files: result.files, runs: result.rows }) + '\n');
        return;
      }
      const rel = (p: string) => path.relative(process.cwd(), p) || p;
      process.stdout.write(`${runLines(result.rows)}\n\nreport: ${rel(result.html)}\ndata:   ${Object.values(result.files).map(rel).join(', ')}\n`);
    });
}
