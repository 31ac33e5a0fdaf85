// One colour per run, the same in every chart of the report. Chosen to stay apart for
// the common colour-vision deficiencies and on white; runs past the list cycle.

const COLOURS = ['#1f6fb4', '#e0701b', '#2f9e44', '#c92a2a', '#7048b6', '#8c5a3c', '#d6409f', '#5c6670', '#a3a31a', '#1a9fb0'];

export function runColour(index: number): string {
  return COLOURS[index % COLOURS.length]!;
}
