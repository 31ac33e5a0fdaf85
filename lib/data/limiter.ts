// A first-in-first-out limit on concurrent async tasks. The per-batch decoder shares one
// across batches: the next batch's images queue behind the current batch's, so libuv's pool
// stays busy across batch boundaries instead of draining at the end of every batch, and the
// batch the consumer waits for always goes first.
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`Limiter: limit must be a positive integer, got ${limit}`);
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Run fn when a slot is free (in call order); the slot is released when fn settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // hand the slot over without releasing it
      else this.running--;
    }
  }
}
