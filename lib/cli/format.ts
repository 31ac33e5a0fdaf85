// Small text helpers for the CLI: numbers people can read, and two-column tables.

/** 83_300_000 -> "83.3M"; 3.66e9 -> "3.66G". */
export function formatCount(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toPrecision(3)}k`;
  return `${Math.round(n)}`;
}

export function formatPercent(p: number, digits = 2): string {
  return `${p.toFixed(digits)} %`;
}

/** 3723 -> "1h02m03s"; 75 -> "1m15s"; 4.2 -> "4.2s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0');
  return h ? `${h}h${mm}m${String(sec).padStart(2, '0')}s` : `${mm}m${String(sec).padStart(2, '0')}s`;
}

/** Rows of [label, value] as aligned text, one row per line. */
export function formatTable(rows: ReadonlyArray<readonly [string, string]>, indent = '  '): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`).join('\n');
}

/** Per-gate execution rates, compactly: "1:98 2:75 3:100 ..." (percent, gate index = block index). */
export function formatGateRates(rates: readonly number[]): string {
  if (rates.length === 0) return '(no gates)';
  return rates.map((r, i) => `${i + 1}:${Math.round(100 * r)}`).join(' ');
}
