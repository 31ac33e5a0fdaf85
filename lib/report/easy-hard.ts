// The paper's Fig. 5: which test images a model finds easy (it runs few blocks) and hard
// (it runs many). Picks the images with the fewest and the most executed blocks from
// eval/routing.jsonl and fetches their pixels from the test set.

import { isPlain } from './run-row.js';
import { TestSetCache, thumbnails } from './thumbnails.js';
import type { RoutingRecord, RunData } from './types.js';

export interface EasyHard {
  easy: RoutingRecord[];
  hard: RoutingRecord[];
  /** data: URIs by test index; null when the test set could not be opened (see note). */
  images: Map<number, string> | null;
  classNames: string[];
  note: string | null;
}

/** The `perGroup` images with the fewest blocks and, from the rest, those with the most (ties: lower index first). */
export function pickEasyHard(routing: readonly RoutingRecord[], perGroup: number): { easy: RoutingRecord[]; hard: RoutingRecord[] } {
  const easy = [...routing].sort((a, b) => a.blocks - b.blocks || a.i - b.i).slice(0, perGroup);
  const taken = new Set(easy.map((r) => r.i));
  const hard = [...routing].filter((r) => !taken.has(r.i)).sort((a, b) => b.blocks - a.blocks || a.i - b.i).slice(0, perGroup);
  return { easy, hard };
}

export interface EasyHardOptions {
  perGroup: number;
  /** Thumbnail size in pixels (longer side). */
  size: number;
}

/** Per run name, the figure's data, for gated runs that have routing records. */
export async function prepareEasyHard(runs: readonly RunData[], opts: EasyHardOptions, cache = new TestSetCache()): Promise<Map<string, EasyHard>> {
  const out = new Map<string, EasyHard>();
  for (const run of runs) {
    if (!run.routing || run.routing.length === 0 || isPlain(run)) continue;
    const { easy, hard } = pickEasyHard(run.routing, opts.perGroup);
    const opened = await cache.open(run.eval?.source ?? run.config.source);
    const fromEval = run.eval?.perClass.map((c) => c.name) ?? [];
    if ('note' in opened) {
      out.set(run.name, { easy, hard, images: null, classNames: fromEval, note: opened.note });
      continue;
    }
    let images: Map<number, string>;
    try {
      images = await thumbnails(opened.dataset, [...easy, ...hard].map((r) => r.i), opts.size);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      out.set(run.name, { easy, hard, images: null, classNames: opened.dataset.classNames, note: `the test images could not be read: ${why}` });
      continue;
    }
    const missing = [...easy, ...hard].filter((r) => !images.has(r.i)).length;
    out.set(run.name, {
      easy,
      hard,
      images,
      classNames: opened.dataset.classNames.length > 0 ? opened.dataset.classNames : fromEval,
      note: missing > 0 ? `${missing} routing record(s) name images outside the test set (${opened.dataset.size} images): is this the data the evaluation used?` : null,
    });
  }
  return out;
}
