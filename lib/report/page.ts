// The HTML document around the sections. A Content-Security-Policy that allows nothing
// but inline styles and data: images makes the browser itself refuse any outside
// request, so the file stays self-contained even if a later change slips one in.

import { esc } from './escape.js';
import type { Section } from './html.js';
import { REPORT_CSS } from './style.js';

export interface PageInfo {
  title: string;
  subtitle: string;
  generatedAt: Date;
  version: string;
  dataFiles: readonly string[];
}

export function renderPage(info: PageInfo, sections: readonly Section[]): string {
  const nav = sections.map((s, k) => `<li><a href="#${esc(s.id)}">${k + 1}. ${esc(s.title)}</a></li>`).join('');
  const body = sections.map((s, k) => `<section id="${esc(s.id)}">\n<h2>${k + 1}. ${esc(s.title)}</h2>\n${s.html}\n</section>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(info.title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>${esc(info.title)}</h1>
<p class="subtitle">${esc(info.subtitle)}</p>
<nav><ol>${nav}</ol></nav>
</header>
<main>
${body}
</main>
<footer>Written by skipnet ${esc(info.version)} on ${esc(info.generatedAt.toISOString())}. The numbers behind the charts are beside this file: ${info.dataFiles.map((f) => `<code>${esc(f)}</code>`).join(', ')}.</footer>
</body>
</html>
`;
}
