#!/usr/bin/env node
// Screenshots an HTML report with headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core, a dev dependency): the README's picture of the reproduction's report.
//
//   node scripts/screenshot-report.mjs <report.html> <out.png> [--width 1280] [--full]
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [html, png, ...rest] = process.argv.slice(2);
if (!html || !png) {
  process.stderr.write('usage: node scripts/screenshot-report.mjs <report.html> <out.png> [--width 1280] [--full]\n');
  process.exit(2);
}
const executablePath = process.env.SKIPNET_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  process.stderr.write(`no Chromium at ${executablePath}: apt-get install chromium, or set SKIPNET_CHROMIUM\n`);
  process.exit(1);
}
const widthAt = rest.indexOf('--width');
const width = widthAt >= 0 ? Number(rest[widthAt + 1]) : 1280;
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  await page.goto(pathToFileURL(path.resolve(html)).href, { waitUntil: 'load' });
  await page.screenshot({ path: png, fullPage: rest.includes('--full') });
  process.stdout.write(`wrote ${png}\n`);
} finally {
  await browser.close();
}
