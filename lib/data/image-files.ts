// Finding image files in a folder tree. Kept apart from folder.ts (which loads sharp) so the
// CLI can list images without loading the image library.
import { readdir } from 'node:fs/promises';
import path from 'node:path';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

/** Plain code-unit order: the same on every machine, whatever the locale. */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Appends the .jpg/.jpeg/.png files below dir to out: recursive, sorted by name, dot files skipped. */
export async function collectImages(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => byCodeUnit(a.name, b.name));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await collectImages(p, out);
    else if ((e.isFile() || e.isSymbolicLink()) && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) out.push(p);
  }
}
