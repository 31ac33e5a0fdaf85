// A small seeded PRNG: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator,
// 32-bit variant, from PractRand), seeded through splitmix32. Deterministic across
// runs, platforms and Node versions: only 32-bit integer arithmetic is used.

/** splitmix32 step: returns [output, nextState]. */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, state];
}

/**
 * Mix any number of non-negative integers (e.g. seed, epoch, rank, batch) into one
 * 32-bit seed. Values up to 2^53 are accepted (high and low 32 bits are both mixed).
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x6a09e667;
  for (const p of parts) {
    if (!Number.isFinite(p)) throw new Error(`mixSeed: not a finite number: ${p}`);
    const v = Math.trunc(p);
    const lo = v >>> 0;
    const hi = Math.floor(Math.abs(v) / 4294967296) >>> 0;
    for (const w of [lo, hi ^ (v < 0 ? 0x80000000 : 0)]) {
      h = Math.imul(h ^ w, 0x9e3779b1);
      h = Math.imul(h ^ (h >>> 15), 0x85ebca77);
      h ^= h >>> 13;
    }
  }
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** seed: any integer (numbers beyond 32 bits are mixed in, not truncated). */
  constructor(seed: number) {
    let s = mixSeed(seed);
    let out: number;
    [out, s] = splitmix32(s);
    this.a = out | 0;
    [out, s] = splitmix32(s);
    this.b = out | 0;
    [out, s] = splitmix32(s);
    this.c = out | 0;
    this.d = 1; // sfc32's counter
    for (let i = 0; i < 12; i++) this.nextU32(); // warm up
  }

  /** Uniform integer in [0, 2^32). */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); 1 <= n <= 2^32. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw new RangeError(`Rng.nextInt: n must be an integer in [1, 2^32], got ${n}`);
    }
    if (n === 1) return 0;
    const limit = 4294967296 - (4294967296 % n); // largest multiple of n <= 2^32
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }

  /** In-place Fisher-Yates shuffle; returns the same array. */
  shuffle<T extends { length: number; [i: number]: any }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
