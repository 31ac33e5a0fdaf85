// Micro-batching with one call in flight. Requests are lists of inputs that share a
// key (the gate threshold); inputs with the same key are packed into one call of at
// most maxBatch inputs, sent when the batch is full or its oldest input has waited
// maxWaitMs. A request larger than maxBatch is spread over several calls. Only one
// call runs at a time; the next batch is chosen oldest-input-first across keys, so no
// key starves. Exclusive tasks (calibration) run between batches, ahead of them.
//
// A failed call that served several requests is retried one request at a time, so an
// error rejects only the request that caused it.

import { SkipNetError } from '../errors.js';

export type RunBatch<R> = (key: number, inputs: Uint8Array[]) => Promise<R[]>;

interface Request<R> {
  results: Array<R | undefined>;
  remaining: number;
  settled: boolean;
  resolve(results: R[]): void;
  reject(err: unknown): void;
}

interface Item<R> {
  input: Uint8Array;
  req: Request<R>;
  index: number;
  enqueuedAt: number;
}

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Errors not worth retrying request by request (e.g. the model was disposed). */
  isFatal?: (err: unknown) => boolean;
}

export class MicroBatcher<R> {
  private readonly queues = new Map<number, Item<R>[]>();
  private readonly exclusive: Array<{ start: () => Promise<void>; reject: (err: unknown) => void }> = [];
  private busy = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private closedWith: unknown = null;
  /** Calls made to `run` (batches, retries). */
  calls = 0;

  constructor(
    private readonly run: RunBatch<R>,
    private readonly opts: BatcherOptions,
  ) {}

  /** Queue `inputs` under `key`; resolves with one result per input, in order. */
  submit(key: number, inputs: Uint8Array[]): Promise<R[]> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (inputs.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      const req: Request<R> = { results: new Array(inputs.length), remaining: inputs.length, settled: false, resolve, reject };
      let queue = this.queues.get(key);
      if (!queue) this.queues.set(key, (queue = []));
      const now = performance.now();
      inputs.forEach((input, index) => queue!.push({ input, req, index, enqueuedAt: now }));
      this.schedule();
    });
  }

  /** Run `fn` alone (no batch in flight), before any queued batch. */
  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<T>((resolve, reject) => {
      this.exclusive.push({ start: () => Promise.resolve().then(fn).then(resolve, reject), reject });
      this.schedule();
    });
  }

  /** Reject everything queued with `err`; later calls reject too. A call in flight finishes. */
  close(err: unknown): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.clearTimer();
    for (const queue of this.queues.values()) for (const item of queue) this.fail(item.req, err);
    this.queues.clear();
    for (const task of this.exclusive.splice(0)) task.reject(err);
  }

  /** Inputs waiting (not yet in a call). */
  get queued(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  // ---------------------------------------------------------------- internals

  private fail(req: Request<R>, err: unknown): void {
    if (req.settled) return;
    req.settled = true;
    req.reject(err);
  }

  private deliver(item: Item<R>, result: R): void {
    const req = item.req;
    if (req.settled) return;
    req.results[item.index] = result;
    if (--req.remaining === 0) {
      req.settled = true;
      req.resolve(req.results as R[]);
    }
  }

  /** Start the next call now if one is due, else arm the timer for the earliest deadline. */
  private schedule(): void {
    if (this.busy || this.closedWith) return;
    if (this.exclusive.length) {
      const task = this.exclusive.shift()!;
      this.busy = true;
      void task.start().finally(() => this.done());
      return;
    }
    const now = performance.now();
    let best: { key: number; queue: Item<R>[] } | null = null;
    let nextDeadline = Infinity;
    for (const [key, queue] of this.queues) {
      // Drop items of requests that already failed.
      while (queue.length && queue[0]!.req.settled) queue.shift();
      if (queue.length === 0) {
        this.queues.delete(key);
        continue;
      }
      const deadline = queue[0]!.enqueuedAt + this.opts.maxWaitMs;
      const due = queue.length >= this.opts.maxBatch || deadline <= now;
      if (due && (!best || queue[0]!.enqueuedAt < best.queue[0]!.enqueuedAt)) best = { key, queue };
      if (!due) nextDeadline = Math.min(nextDeadline, deadline);
    }
    if (best) {
      this.startBatch(best.key, best.queue);
      return;
    }
    if (nextDeadline === Infinity) {
      // Nothing waits: no timer needed (it would only keep the process alive).
      this.clearTimer();
      return;
    }
    if (nextDeadline < this.timerAt) {
      this.clearTimer();
      this.timerAt = nextDeadline;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.timerAt = Infinity;
        this.schedule();
      }, Math.max(0, Math.ceil(nextDeadline - now)));
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  private done(): void {
    this.busy = false;
    this.schedule();
  }

  private startBatch(key: number, queue: Item<R>[]): void {
    const items: Item<R>[] = [];
    while (items.length < this.opts.maxBatch && queue.length) {
      const item = queue.shift()!;
      if (!item.req.settled) items.push(item);
    }
    if (queue.length === 0) this.queues.delete(key);
    if (items.length === 0) {
      this.schedule();
      return;
    }
    this.busy = true;
    void this.execute(key, items).finally(() => this.done());
  }

  private async execute(key: number, items: Item<R>[]): Promise<void> {
    try {
      this.calls++;
      const results = await this.run(
        key,
        items.map((i) => i.input),
      );
      items.forEach((item, i) => this.deliver(item, results[i]!));
      return;
    } catch (err) {
      const requests = [...new Set(items.map((i) => i.req))];
      if (requests.length === 1 || this.opts.isFatal?.(err) || this.closedWith) {
        for (const r of requests) this.fail(r, err);
        return;
      }
      // Several requests shared the call: find the one(s) at fault by running each alone.
      for (const req of requests) {
        const own = items.filter((i) => i.req === req);
        try {
          this.calls++;
          const results = await this.run(
            key,
            own.map((i) => i.input),
          );
          own.forEach((item, i) => this.deliver(item, results[i]!));
        } catch (e) {
          this.fail(req, e);
        }
      }
    }
  }
}

/** The error every queued request gets after dispose(). */
export function disposedError(what = 'this Classifier'): SkipNetError {
  return new SkipNetError('ERR_DISPOSED', `${what} was disposed; load a new one`);
}
