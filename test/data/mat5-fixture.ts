// Writes small MATLAB level-5 MAT-files for the tests, laid out as MATLAB writes them: 128-byte
// header, one miMATRIX per variable (optionally each inside an miCOMPRESSED zlib stream), small
// data elements for payloads of at most 4 bytes, 8-byte padding, either byte order.
import zlib from 'node:zlib';

const MI = { int8: 1, uint8: 2, int32: 5, uint32: 6, double: 9, matrix: 14, compressed: 15 } as const;
const CLASS = { double: 6, uint8: 9 } as const;

export interface MatVarSpec {
  name: string;
  /** Array class. */
  cls: 'uint8' | 'double';
  dims: number[];
  /** Values in MATLAB column-major order. */
  data: ArrayLike<number>;
  /** Storage type of the real part (MATLAB stores small-integer doubles as uint8); default = cls. */
  storage?: 'uint8' | 'double';
}

export interface MatFileOptions {
  compress?: boolean;
  bigEndian?: boolean;
  headerText?: string;
}

class Writer {
  constructor(private readonly le: boolean) {}

  u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  }

  /** One data element: tag + data + padding (small format for <= 4 bytes, as MATLAB does). */
  element(type: number, data: Buffer, small = true): Buffer {
    if (small && data.length <= 4) {
      const word = ((data.length << 16) | type) >>> 0;
      return Buffer.concat([this.u32(word), data, Buffer.alloc(4 - data.length)]);
    }
    const pad = (8 - (data.length % 8)) % 8;
    return Buffer.concat([this.u32(type), this.u32(data.length), data, Buffer.alloc(pad)]);
  }

  values(type: 'uint8' | 'double' | 'int32', vals: ArrayLike<number>): Buffer {
    const size = type === 'uint8' ? 1 : type === 'int32' ? 4 : 8;
    const b = Buffer.alloc(vals.length * size);
    for (let k = 0; k < vals.length; k++) {
      const v = vals[k]!;
      if (type === 'uint8') b[k] = v;
      else if (type === 'int32') this.le ? b.writeInt32LE(v, 4 * k) : b.writeInt32BE(v, 4 * k);
      else this.le ? b.writeDoubleLE(v, 8 * k) : b.writeDoubleBE(v, 8 * k);
    }
    return b;
  }

  matrix(v: MatVarSpec): Buffer {
    const flags = Buffer.concat([this.u32(CLASS[v.cls]), this.u32(0)]);
    const storage = v.storage ?? v.cls;
    const body = Buffer.concat([
      this.element(MI.uint32, flags, false),
      this.element(MI.int32, this.values('int32', v.dims), false),
      this.element(MI.int8, Buffer.from(v.name, 'latin1')),
      this.element(MI[storage], this.values(storage, v.data)),
    ]);
    return this.element(MI.matrix, body, false);
  }
}

export function matHeader(text: string, bigEndian = false): Buffer {
  const h = Buffer.alloc(128, 0x20);
  h.write(text.slice(0, 116), 0, 'latin1');
  h.fill(0, 116, 124); // subsystem data offset
  if (bigEndian) {
    h.writeUInt16BE(0x0100, 124);
    h.write('MI', 126, 'latin1');
  } else {
    h.writeUInt16LE(0x0100, 124);
    h.write('IM', 126, 'latin1');
  }
  return h;
}

/** A whole MAT-file holding `vars`. */
export function matFile(vars: MatVarSpec[], opts: MatFileOptions = {}): Buffer {
  const w = new Writer(!opts.bigEndian);
  const parts = [matHeader(opts.headerText ?? 'MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024', opts.bigEndian)];
  for (const v of vars) {
    const m = w.matrix(v);
    if (!opts.compress) parts.push(m);
    else {
      const z = zlib.deflateSync(m);
      parts.push(w.u32(MI.compressed), w.u32(z.length), z); // compressed elements are not padded
    }
  }
  return Buffer.concat(parts);
}

/** The value the tests store at X(row, col, channel, image) (0-based). */
export const pixel = (n: number, row: number, col: number, c: number): number => (n * 53 + row * 7 + col * 3 + c * 101 + ((row * col) % 5)) & 255;

/** SVHN-shaped X (uint8 32x32x3xN, column-major) and y (N x 1) for the given labels. */
export function svhnVars(labels: number[], first = 0, yStorage: 'uint8' | 'double' = 'double'): MatVarSpec[] {
  const n = labels.length;
  const X = new Uint8Array(32 * 32 * 3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) for (let col = 0; col < 32; col++) for (let row = 0; row < 32; row++) {
      X[row + 32 * col + 1024 * c + 3072 * i] = pixel(first + i, row, col, c);
    }
  }
  // MATLAB drops trailing singleton dims: a one-image X is 32x32x3.
  const dims = n === 1 ? [32, 32, 3] : [32, 32, 3, n];
  return [
    { name: 'X', cls: 'uint8', dims, data: X },
    { name: 'y', cls: 'double', dims: [n, 1], data: labels, storage: yStorage },
  ];
}
