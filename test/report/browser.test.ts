// The report as a browser shows it: headless Chromium opens report.html from disk and
// checks that the charts drew (non-empty boxes), that every image decoded, that the page
// asked for nothing but itself, and takes a full-page screenshot. Needs /usr/bin/chromium
// (scripts/setup.sh installs it); skipped with a message without it.

import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../lib/report/build-report.js';
import { writeFixtureRuns } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`report browser test skipped: ${CHROMIUM} not found (apt-get install chromium, or run scripts/setup.sh)`);

describe.skipIf(!hasChromium)(`report.html in headless Chromium${hasChromium ? '' : ` (skipped: ${CHROMIUM} not found)`}`, () => {
  let scratch: string;
  let browser: Browser;
  let html: string;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'skipnet-report-browser-'));
    const runs = await writeFixtureRuns(path.join(scratch, 'fixture'));
    html = (await buildReport({ runDirs: [runs.sp, runs.hrl, runs.plain], out: path.join(scratch, 'out', 'report.html') })).html;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('draws every chart and image, loads nothing else, and screenshots', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const url = pathToFileURL(html).href;
    await page.goto(url, { waitUntil: 'load' });

    // Each chart has drawn marks (curve paths, bars, markers) with a real size on the page.
    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.map((svg) => {
        const marks = [...svg.querySelectorAll('path.series, rect.bar, circle.marker')].map((el) => el.getBoundingClientRect());
        const box = svg.getBoundingClientRect();
        return {
          title: svg.getAttribute('aria-label') ?? '',
          width: box.width,
          height: box.height,
          marks: marks.length,
          // A path or bar may be flat in one direction (a constant lr, an empty bin), never in both.
          drawn: marks.filter((r) => r.width > 0 || r.height > 0).length,
          areas: marks.filter((r) => r.width > 0 && r.height > 0).length,
        };
      }),
    );
    expect(charts.length).toBeGreaterThanOrEqual(9);
    for (const c of charts) {
      expect(c.width, c.title).toBeGreaterThan(300);
      expect(c.height, c.title).toBeGreaterThan(150);
      expect(c.drawn, c.title).toBeGreaterThan(0);
      expect(c.areas, c.title).toBeGreaterThan(0);
    }
    // The loss curves bend: the first chart's paths have area, not just length.
    const loss = await page.$$eval('#curves figure:first-of-type svg path.series', (ps) => ps.map((p) => p.getBoundingClientRect().height));
    expect(loss.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...loss)).toBeGreaterThan(20);

    // Every thumbnail decoded (naturalWidth is 0 for a broken image).
    const imgs = await page.$$eval('img', (els) => els.map((img) => ({ complete: img.complete, w: img.naturalWidth, h: img.naturalHeight })));
    expect(imgs).toHaveLength(32);
    for (const i of imgs) expect(i).toEqual({ complete: true, w: 64, h: 64 });

    // Only the file itself was requested (data: URIs do not count as requests here), and nothing complained.
    expect(requests.filter((r) => !r.startsWith('data:'))).toEqual([url]);
    expect(problems).toEqual([]);

    const shot = path.join(scratch, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = await readFile(shot);
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(1200);
    expect(meta.height).toBeGreaterThan(3000); // six sections, nine-plus charts, two image grids
    const stats = await sharp(png).stats();
    // Not blank: the channels vary (white page with coloured charts and images).
    expect(Math.max(...stats.channels.map((c) => c.stdev))).toBeGreaterThan(10);
    expect(png.length).toBeGreaterThan(50_000);
    await page.close();
  });
});
