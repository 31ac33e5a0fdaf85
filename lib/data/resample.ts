// Bilinear resampling of uint8 RGB exactly as Pillow's Image.resize(size, BILINEAR) computes
// it (libImaging/Resample.c, the filter torchvision's RandomResizedCrop and Resize use on PIL
// images): a triangle filter whose support widens with the shrink factor (antialiased), pixel
// centres aligned ((x + 0.5) * scale), weights normalised and rounded to 22-bit fixed point,
// a horizontal pass into a uint8 image of just the rows the vertical pass needs, then the
// vertical pass. Given the same decoded pixels the output is bit-identical to Pillow's.
//
// Used where the ImageNet pipeline (imagenet-preprocess.ts) enlarges: there libvips samples half
// an output pixel off Pillow's grid and is slower than this loop. Integer arithmetic throughout
// (Math.imul, | 0): the 22-bit weights times 255, plus the rounding term, stay below 2^31.
// Checked bit-identical against Pillow 9.4 (test/data/imagenet-preprocess.test.ts).

const PRECISION_BITS = 32 - 8 - 2;
const ROUND = 1 << (PRECISION_BITS - 1);
const MAX = 256 << PRECISION_BITS;

/** Per output sample: first input index, tap count, and ksize fixed-point weights. */
interface Coeffs {
  ksize: number;
  start: Int32Array;
  count: Int32Array;
  k: Int32Array;
}

const cache = new Map<string, Coeffs>();

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter, in -> out samples. */
function coeffs(inSize: number, outSize: number): Coeffs {
  const key = `${inSize}>${outSize}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale; // bilinear support 1.0
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const k = new Int32Array(outSize * ksize);
  const pre = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C casts truncate toward zero; then clamp to the image.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? pre[x] / ww : pre[x];
      // (int)(0.5 + w * 2^22) in C, or (int)(-0.5 + ...) for negative weights (none for bilinear).
      k[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  const c = { ksize, start, count, k };
  if (cache.size > 4096) cache.clear();
  cache.set(key, c);
  return c;
}

const clip8 = (v: number): number => (v >= MAX ? 255 : v <= 0 ? 0 : v >> PRECISION_BITS);

/**
 * Resize an sw x sh RGB image (HWC) to outW x outH as Pillow's BILINEAR does and write the
 * window [left, left + width) x [top, top + height) of the result to dst at dstOff (HWC,
 * width * 3 bytes a row), mirrored left-right when `mirror`. The window is what a centre
 * crop after the resize keeps; pass the whole output for a plain resize.
 */
export function resizeBilinearRgb(
  src: Uint8Array,
  sw: number,
  sh: number,
  outW: number,
  outH: number,
  window: { left: number; top: number; width: number; height: number },
  dst: Uint8Array,
  dstOff: number,
  mirror = false,
): void {
  const { left, top, width, height } = window;
  if (src.length < sw * sh * 3) throw new RangeError(`resizeBilinearRgb: source holds ${src.length} bytes, ${sw}x${sh}x3 needs ${sw * sh * 3}`);
  if (left < 0 || top < 0 || left + width > outW || top + height > outH || width < 1 || height < 1) {
    throw new RangeError(`resizeBilinearRgb: window ${width}x${height}+${left}+${top} outside the ${outW}x${outH} output`);
  }
  const needH = outW !== sw;
  const needV = outH !== sh;
  const cv = needV ? coeffs(sh, outH) : null;
  // Source rows the vertical pass reads for the window's rows.
  const rowFirst = cv ? cv.start[top] : top;
  const rowLast = cv ? cv.start[top + height - 1] + cv.count[top + height - 1] : top + height;
  const rows = rowLast - rowFirst;

  // Horizontal pass: rows x width (only the window's columns), uint8 as Pillow keeps it.
  let mid: Uint8Array;
  if (needH) {
    const ch = coeffs(sw, outW);
    mid = new Uint8Array(rows * width * 3);
    const { ksize, start, count, k } = ch;
    for (let y = 0; y < rows; y++) {
      const srow = (rowFirst + y) * sw * 3;
      const mrow = y * width * 3;
      for (let x = 0; x < width; x++) {
        const xx = left + x;
        const s0 = start[xx];
        const n = count[xx];
        const kb = xx * ksize;
        let r = ROUND;
        let g = ROUND;
        let b = ROUND;
        for (let t = 0, p = srow + s0 * 3; t < n; t++, p += 3) {
          const w = k[kb + t];
          r = (r + Math.imul(src[p], w)) | 0;
          g = (g + Math.imul(src[p + 1], w)) | 0;
          b = (b + Math.imul(src[p + 2], w)) | 0;
        }
        const o = mrow + x * 3;
        mid[o] = clip8(r);
        mid[o + 1] = clip8(g);
        mid[o + 2] = clip8(b);
      }
    }
  } else {
    // Columns are kept: copy the window's columns of the needed rows.
    mid = new Uint8Array(rows * width * 3);
    for (let y = 0; y < rows; y++) {
      const s = ((rowFirst + y) * sw + left) * 3;
      mid.set(src.subarray(s, s + width * 3), y * width * 3);
    }
  }

  // Vertical pass (or a copy of the window's rows), mirroring on the way out.
  const rowBytes = width * 3;
  // 255 * 2^22 plus the rounding term stays below 2^31: int32 arithmetic is exact.
  const acc = new Int32Array(rowBytes);
  for (let y = 0; y < height; y++) {
    const drow = dstOff + y * rowBytes;
    if (!cv) {
      const mrow = (top + y - rowFirst) * rowBytes;
      if (!mirror) dst.set(mid.subarray(mrow, mrow + rowBytes), drow);
      else for (let x = 0; x < width; x++) copyPixel(mid, mrow + x * 3, dst, drow + (width - 1 - x) * 3);
      continue;
    }
    // Row at a time: the taps' rows, weighted, summed into one accumulator row.
    const yy = top + y;
    const s0 = cv.start[yy] - rowFirst;
    const n = cv.count[yy];
    const kb = yy * cv.ksize;
    acc.fill(ROUND);
    for (let t = 0; t < n; t++) {
      const w = cv.k[kb + t];
      const base = (s0 + t) * rowBytes;
      for (let i = 0; i < rowBytes; i++) acc[i] = (acc[i] + Math.imul(mid[base + i], w)) | 0;
    }
    if (!mirror) {
      for (let i = 0; i < rowBytes; i++) dst[drow + i] = clip8(acc[i]);
    } else {
      for (let x = 0, o = drow + rowBytes - 3; x < rowBytes; x += 3, o -= 3) {
        dst[o] = clip8(acc[x]);
        dst[o + 1] = clip8(acc[x + 1]);
        dst[o + 2] = clip8(acc[x + 2]);
      }
    }
  }
}

function copyPixel(src: Uint8Array, s: number, dst: Uint8Array, d: number): void {
  dst[d] = src[s];
  dst[d + 1] = src[s + 1];
  dst[d + 2] = src[s + 2];
}
