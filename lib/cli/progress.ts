// A one-line progress bar for terminals, redrawn in place with \r. Written by hand
// (a few lines) instead of a dependency; redraws are throttled so a fast loop does
// not spend its time writing to the terminal.

export interface ProgressState {
  step: number;
  steps: number;
  lr: number;
  loss?: number; // windowed mean from the last 'train' event
  acc?: number;
  execPercent?: number; // mean gate execution rate, percent
  imgPerSec?: number;
  etaSeconds?: number;
}

const REDRAW_MS = 100;

export class ProgressBar {
  private lastDraw = 0;
  private lastLine = '';
  private state: ProgressState | null = null;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(state: ProgressState, force = false): void {
    this.state = state;
    const now = Date.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.draw();
  }

  /** Print a full line above the bar, then redraw the bar. */
  log(line: string): void {
    this.clear();
    this.out.write(line + '\n');
    if (this.state) this.draw();
  }

  /** Remove the bar (before the final summary, or on error). */
  clear(): void {
    if (this.lastLine) this.out.write('\r' + ' '.repeat(this.lastLine.length) + '\r');
    this.lastLine = '';
  }

  private draw(): void {
    const s = this.state!;
    const columns = this.out.columns || 100;
    const frac = s.steps > 0 ? Math.min(1, s.step / s.steps) : 0;
    const parts = [
      `${s.step}/${s.steps}`,
      `${(100 * frac).toFixed(1)}%`,
      s.loss !== undefined ? `loss ${s.loss.toFixed(3)}` : '',
      s.acc !== undefined ? `acc ${s.acc.toFixed(1)}%` : '',
      s.execPercent !== undefined ? `exec ${s.execPercent.toFixed(0)}%` : '',
      `lr ${s.lr.toPrecision(2)}`,
      s.imgPerSec !== undefined ? `${s.imgPerSec.toFixed(0)} img/s` : '',
      s.etaSeconds !== undefined ? `ETA ${formatEta(s.etaSeconds)}` : '',
    ].filter(Boolean);
    const text = parts.join('  ');
    // Fixed width so the bar does not jump as the text grows; the line is cut to the terminal instead.
    const barWidth = 20;
    const filled = Math.round(barWidth * frac);
    let line = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${text}`;
    if (line.length > columns - 1) line = line.slice(0, columns - 1);
    // Pad over the previous line's tail instead of clearing first (no flicker).
    const pad = Math.max(0, this.lastLine.length - line.length);
    this.out.write('\r' + line + ' '.repeat(pad));
    this.lastLine = line;
  }
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}
