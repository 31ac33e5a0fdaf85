// Ground truth for a flat ImageNet val folder (root/val/ILSVRC2012_val_00000001.JPEG, ...).
//
// Accepted files, looked for in root and then in root/val; the first one found (in this order) is used:
//   1. LOC_val_solution.csv (Kaggle's ILSVRC download): a header `ImageId,PredictionString`, then rows
//      `ILSVRC2012_val_00000001,n01751748 <box> [n01751748 <box> ...]`; the first wnid is the class.
//   2. val_labels.txt, then ILSVRC2012_validation_ground_truth.txt (the devkit's name): one line per
//      val image, either
//        - a 1-based class id, line k for the k-th image in sorted file-name order, resolved through
//          a synsets file (below), or
//        - `<file name> <wnid>` (any order).
// Synsets file, for ids (looked for in root): LOC_synset_mapping.txt, synsets.txt or synset_words.txt;
// one class per line, either `<wnid> [words]` (line k is id k) or `<id> <wnid> [words]`.
//
// Caution: the devkit's ILSVRC2012_validation_ground_truth.txt counts ids in the devkit's own
// order (ILSVRC2012_ID in its meta.mat), not in the sorted-wnid order of LOC_synset_mapping.txt
// and synset_words.txt; it needs a synsets file in the devkit's order (e.g. `1 n02119789` lines).
// On the real set a wrong pairing is caught: ILSVRC2012_val_00000001.JPEG is a sea snake (n01751748).
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { dataError, isFile } from './util.js';

export const VAL_LABEL_FILES = ['LOC_val_solution.csv', 'val_labels.txt', 'ILSVRC2012_validation_ground_truth.txt'] as const;
export const SYNSET_FILES = ['LOC_synset_mapping.txt', 'synsets.txt', 'synset_words.txt'] as const;

const WNID = /^n\d{8}$/;
/** A fact of the real validation set, used to catch a ground-truth/synsets order mismatch. */
const FIRST_VAL_IMAGE = 'ILSVRC2012_val_00000001';
const FIRST_VAL_WNID = 'n01751748';

export const isWnid = (s: string): boolean => WNID.test(s);

async function firstFile(dirs: string[], names: readonly string[]): Promise<string | null> {
  for (const name of names) for (const dir of dirs) if (await isFile(path.join(dir, name))) return path.join(dir, name);
  return null;
}

async function readLines(file: string): Promise<string[]> {
  return (await fsp.readFile(file, 'utf8')).split(/\r?\n/).map((l) => l.trim());
}

const stem = (file: string): string => path.basename(file).replace(/\.[^.]*$/, '');

/** id -> wnid from a synsets file. */
export async function readSynsets(file: string): Promise<Map<number, string>> {
  const ids = new Map<number, string>();
  let lineNo = 0;
  let implicit = 0;
  for (const line of await readLines(file)) {
    lineNo++;
    if (line === '') continue;
    const [a, b] = line.split(/\s+/);
    if (isWnid(a!)) ids.set(++implicit, a!);
    else if (/^\d+$/.test(a!) && b !== undefined && isWnid(b)) ids.set(Number(a), b);
    else throw dataError(`ImageNet: ${file}: line ${lineNo} is ${JSON.stringify(line.slice(0, 60))}; expected '<wnid> [words]' or '<id> <wnid> [words]'`);
  }
  if (ids.size === 0) throw dataError(`ImageNet: ${file} lists no synsets`);
  return ids;
}

/** The wnid of each file name in `names` (sorted base names of the flat val folder), from LOC_val_solution.csv. */
async function fromSolutionCsv(csv: string, names: string[]): Promise<string[]> {
  const byStem = new Map<string, string>();
  let lineNo = 0;
  for (const line of await readLines(csv)) {
    lineNo++;
    if (line === '' || (lineNo === 1 && line.startsWith('ImageId'))) continue;
    const comma = line.indexOf(',');
    const wnid = comma < 0 ? undefined : line.slice(comma + 1).trim().split(/\s+/)[0];
    if (comma < 0 || !wnid || !isWnid(wnid)) {
      throw dataError(`ImageNet: ${csv}: line ${lineNo} is ${JSON.stringify(line.slice(0, 60))}; expected 'ImageId,<wnid> <box>...'`);
    }
    byStem.set(stem(line.slice(0, comma).trim()), wnid);
  }
  const missing = names.filter((n) => !byStem.has(stem(n)));
  if (missing.length > 0) {
    throw dataError(
      `ImageNet: ${csv} has no row for ${missing.length} of the ${names.length} val images (${missing.slice(0, 3).join(', ')}` +
        `${missing.length > 3 ? ', ...' : ''}); it does not belong to this val folder`,
    );
  }
  return names.map((n) => byStem.get(stem(n))!);
}

/** The wnid of each file from a val_labels.txt / ILSVRC2012_validation_ground_truth.txt style file. */
async function fromLabelList(list: string, names: string[], root: string, valDir: string): Promise<{ wnids: string[]; synsets: string | null }> {
  const lines = (await readLines(list)).filter((l) => l !== '');
  const pairs = lines.map((l) => l.split(/\s+/));
  if (pairs.length > 0 && pairs.every((p) => p.length === 2 && isWnid(p[1]!))) {
    // `<file name> <wnid>` lines: matched by name, any order.
    const byStem = new Map(pairs.map((p) => [stem(p[0]!), p[1]!]));
    const missing = names.filter((n) => !byStem.has(stem(n)));
    if (missing.length > 0) {
      throw dataError(`ImageNet: ${list} has no line for ${missing.length} of the ${names.length} val images (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''})`);
    }
    return { wnids: names.map((n) => byStem.get(stem(n))!), synsets: null };
  }
  const bad = pairs.findIndex((p) => p.length !== 1 || !/^\d+$/.test(p[0]!));
  if (bad >= 0) {
    throw dataError(
      `ImageNet: ${list}: line ${bad + 1} is ${JSON.stringify(lines[bad]!.slice(0, 60))}; expected a 1-based class id per line ` +
        `(in sorted val file-name order) or '<file name> <wnid>' lines`,
    );
  }
  if (lines.length !== names.length) {
    throw dataError(
      `ImageNet: ${list} has ${lines.length} labels but ${valDir} holds ${names.length} val images; ` +
        `it must have one line per image, in sorted file-name order`,
    );
  }
  const synsetsFile = await firstFile([root], SYNSET_FILES);
  if (!synsetsFile) {
    throw dataError(
      `ImageNet: ${list} holds class ids, but no synsets file maps them to wnids; put one of ${SYNSET_FILES.join(', ')} in ${root} ` +
        `('<wnid> [words]' per line, line k = id k, in the order the ids count)`,
    );
  }
  const ids = await readSynsets(synsetsFile);
  const wnids = lines.map((l, k) => {
    const w = ids.get(Number(l));
    if (!w) throw dataError(`ImageNet: ${list}: line ${k + 1} has class id ${l}, which ${synsetsFile} does not define (ids 1..${ids.size})`);
    return w;
  });
  return { wnids, synsets: synsetsFile };
}

export interface ValLabels {
  /** The wnid of each val image, in the order of `names`. */
  wnids: string[];
  /** The files the labels came from (for messages). */
  sources: string[];
}

/**
 * Labels of a flat val folder. names: its image file names (base names, sorted by code unit);
 * the ground-truth file is looked for in root, then in valDir.
 */
export async function readValLabels(names: string[], root: string, valDir: string): Promise<ValLabels> {
  const gt = await firstFile([root, valDir], VAL_LABEL_FILES);
  if (!gt) {
    throw dataError(
      `ImageNet: ${valDir} holds images directly (not in <wnid>/ folders), but no ground-truth file was found in ${root} or ${valDir}; ` +
        `put one of ${VAL_LABEL_FILES.join(', ')} there (see lib/data/imagenet-labels.ts for their formats), ` +
        `or sort the val images into val/<wnid>/ folders`,
    );
  }
  let result: ValLabels;
  if (path.basename(gt) === 'LOC_val_solution.csv') {
    result = { wnids: await fromSolutionCsv(gt, names), sources: [gt] };
  } else {
    const r = await fromLabelList(gt, names, root, valDir);
    result = { wnids: r.wnids, sources: r.synsets ? [gt, r.synsets] : [gt] };
  }
  const first = names.findIndex((n) => stem(n) === FIRST_VAL_IMAGE);
  if (first >= 0 && result.wnids[first] !== FIRST_VAL_WNID) {
    throw dataError(
      `ImageNet: ${result.sources.join(' + ')} label ${FIRST_VAL_IMAGE} as ${result.wnids[first]}, but it is ${FIRST_VAL_WNID} (sea snake): ` +
        `the ids count in a different order than the synsets file lists them (the devkit's ground truth uses the devkit's ` +
        `ILSVRC2012_ID order, LOC_synset_mapping.txt is sorted by wnid); use a matching synsets file or LOC_val_solution.csv`,
    );
  }
  return result;
}
