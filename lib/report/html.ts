// Small HTML building blocks shared by the sections. Every argument named `text` is
// escaped here; arguments named `html` are markup the report built itself.

import { esc } from './escape.js';

export interface Section {
  id: string;
  title: string;
  html: string;
}

/** A short remark in place of something that cannot be shown; `command` is set in code type. */
export function note(text: string, command?: string): string {
  return `<p class="note">${esc(text)}${command ? ` <code>${esc(command)}</code>` : ''}</p>`;
}

export function heading(level: 3 | 4, text: string): string {
  return `<h${level}>${esc(text)}</h${level}>`;
}

export interface Column<T> {
  head: string;
  cell: (row: T) => string;
  /** Right-aligned (numbers). */
  num?: boolean;
}

/** A table whose cells are already escaped strings (use esc() or the formatters). */
export function table<T>(columns: ReadonlyArray<Column<T>>, rows: readonly T[], className = ''): string {
  const th = columns.map((c) => `<th${c.num ? ' class="num"' : ''}>${esc(c.head)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${columns.map((c) => `<td${c.num ? ' class="num"' : ''}>${c.cell(r)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<div class="table-wrap"><table${className ? ` class="${esc(className)}"` : ''}><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/** A number for a table cell, '–' when absent. */
export function fixed(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}

/** A chart inside a figure box. */
export function figure(svg: string): string {
  return `<figure class="chart-box">${svg}</figure>`;
}
