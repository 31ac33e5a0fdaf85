// The report's stylesheet, inlined into the page (the file must work offline, alone).
// System fonts only: no web fonts to fetch.

export const REPORT_CSS = `
:root { color-scheme: light; --ink: #1d2329; --muted: #5c6670; --line: #d9dee3; --bg: #fff; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg); }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 12px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
h4 { font-size: 14px; margin: 12px 0 6px; color: var(--muted); }
nav ol { display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0; margin: 12px 0 0; list-style: none; }
nav a { color: #1f6fb4; text-decoration: none; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--panel); padding: 1px 4px; border-radius: 3px; }
.subtitle, .source, .folders, footer { color: var(--muted); }
.note { color: var(--muted); font-style: italic; }
.notes { color: #8a4b00; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; }
table.per-class { font-size: 13px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.chart-box { margin: 12px 0 20px; }
svg.chart { max-width: 100%; height: auto; display: block; font-family: inherit; }
svg.chart text { fill: var(--ink); }
svg.chart .tick { font-size: 11px; fill: var(--muted); }
svg.chart .axis-label { font-size: 12px; fill: var(--muted); }
svg.chart .chart-title { font-size: 14px; font-weight: 600; }
svg.chart .grid { stroke: #edf0f2; stroke-width: 1; }
svg.chart .axis { stroke: #8a949e; stroke-width: 1; }
svg.chart .ref { stroke-width: 1.5; stroke-dasharray: 5 4; }
svg.chart .ref-label, svg.chart .point-label { font-size: 11px; }
svg.chart .empty { fill: var(--muted); font-style: italic; }
.run-part { margin-bottom: 18px; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
figure.thumb { margin: 0; width: 84px; text-align: center; font-size: 11px; line-height: 1.25; }
figure.thumb img, .no-image { width: 64px; height: 64px; image-rendering: pixelated; border: 2px solid #2f9e44; border-radius: 3px; display: block; margin: 0 auto 3px; }
figure.thumb.miss img, figure.thumb.miss .no-image { border-color: #c92a2a; }
.no-image { background: var(--panel); color: var(--muted); line-height: 60px; }
.wrong { color: #c92a2a; font-weight: 600; }
.blocks { color: var(--muted); }
footer { margin: 40px auto 24px; font-size: 12px; }
`;
