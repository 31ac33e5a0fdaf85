// Reader for MATLAB level-5 MAT-files (what `save -v6` and `save -v7` write, and the format of the
// SVHN *_32x32.mat files). Layout: a 128-byte header (text, subsystem offset, version 0x0100, and an
// endian indicator 'IM' for little-endian / 'MI' for big-endian files), then data elements. Each
// top-level element is an miMATRIX (one named array) or an miCOMPRESSED (a zlib stream holding one
// miMATRIX). An miMATRIX holds, as sub-elements: array flags (class), dims, name, real part
// [, imaginary part].
//
// Only what numeric-array readers need is decoded: the real part of numeric arrays of any class.
// Cell, struct, object, char and sparse arrays are listed with their name, class and dims but no
// data. v7.3 files are HDF5 and are rejected with a hint.
import zlib from 'node:zlib';
import { dataError } from './util.js';

export type MatClass =
  | 'cell' | 'struct' | 'object' | 'char' | 'sparse'
  | 'double' | 'single' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';

/** The real part as stored. 64-bit integers are widened to Float64Array (exact up to 2^53). */
export type MatData = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

export interface MatVariable {
  name: string;
  className: MatClass;
  /** MATLAB dims, column-major: element (i, j, k...) sits at i + d0*j + d0*d1*k... */
  dims: number[];
  complex: boolean;
  /**
   * Real part, in the *storage* type (MATLAB stores e.g. a double array as uint8 when every value
   * fits); null for non-numeric classes. uint8/int8 data is a view into the file (or inflated)
   * buffer, not a copy.
   */
  real: MatData | null;
}

// Data types of the element tags (MAT-file format, table "MAT-File Data Types").
const MI_INT8 = 1;
const MI_UINT8 = 2;
const MI_INT16 = 3;
const MI_UINT16 = 4;
const MI_INT32 = 5;
const MI_UINT32 = 6;
const MI_SINGLE = 7;
const MI_DOUBLE = 9;
const MI_INT64 = 12;
const MI_UINT64 = 13;
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;
const MI_UTF8 = 16;

const NUMERIC_BYTES: Record<number, number> = {
  [MI_INT8]: 1, [MI_UINT8]: 1, [MI_INT16]: 2, [MI_UINT16]: 2, [MI_INT32]: 4, [MI_UINT32]: 4,
  [MI_SINGLE]: 4, [MI_DOUBLE]: 8, [MI_INT64]: 8, [MI_UINT64]: 8,
};

// Array classes (mxCLASS ids), index = id.
const CLASS_BY_ID: (MatClass | undefined)[] = [
  undefined, 'cell', 'struct', 'object', 'char', 'sparse',
  'double', 'single', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
];
const FIRST_NUMERIC_CLASS = 6; // double

const FLAG_COMPLEX = 0x0800; // bit 4 of the flags byte (byte 2 of the first flags word)

interface Tag {
  type: number;
  nbytes: number;
  /** Offset of the data. */
  data: number;
  /** Offset of the next element. */
  next: number;
}

/** A bounds-checked view of one buffer (the file, or one inflated miCOMPRESSED element). */
class Cursor {
  readonly dv: DataView;
  constructor(
    readonly buf: Uint8Array,
    readonly le: boolean,
    readonly file: string,
    /** How to say where byte offsets are, e.g. "" or " (inside the compressed element at byte 128)". */
    readonly where: string,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  u32(pos: number): number {
    return this.dv.getUint32(pos, this.le);
  }

  truncated(what: string, pos: number): Error {
    return dataError(
      `${this.file}: MAT-file truncated: ${what} at byte ${pos}${this.where} runs past the end of the data ` +
        `(${this.buf.length} bytes); the file is incomplete: download or copy it again`,
    );
  }

  corrupt(what: string, pos: number): Error {
    return dataError(`${this.file}: corrupt MAT-file: ${what} at byte ${pos}${this.where}`);
  }

  /** Read the element tag at pos; its data must end by `end`. */
  tag(pos: number, end: number): Tag {
    if (pos + 8 > end) throw this.truncated('a data element tag', pos);
    const first = this.u32(pos);
    // Small data element: bytes count in the upper 16 bits, type in the lower, data in the tag's second word.
    if (first >>> 16 !== 0) {
      const nbytes = first >>> 16;
      if (nbytes > 4) throw this.corrupt(`small data element claims ${nbytes} bytes (at most 4)`, pos);
      return { type: first & 0xffff, nbytes, data: pos + 4, next: pos + 8 };
    }
    const nbytes = this.u32(pos + 4);
    const data = pos + 8;
    if (data + nbytes > end) throw this.truncated(`a ${nbytes}-byte data element`, pos);
    // Elements are padded to 8 bytes, except compressed ones (the next element follows at once).
    const next = first === MI_COMPRESSED ? data + nbytes : data + Math.ceil(nbytes / 8) * 8;
    return { type: first, nbytes, data, next: Math.min(next, end) };
  }

  /** Read a numeric sub-element's values in its storage type. */
  numeric(t: Tag, pos: number, what: string): MatData {
    const size = NUMERIC_BYTES[t.type];
    if (size === undefined) throw this.corrupt(`${what} has data type ${t.type}, not a numeric type`, pos);
    if (t.nbytes % size !== 0) throw this.corrupt(`${what} is ${t.nbytes} bytes, not a whole number of ${size}-byte values`, pos);
    const n = t.nbytes / size;
    const { buf, dv, le } = this;
    switch (t.type) {
      case MI_UINT8:
        return buf.subarray(t.data, t.data + n);
      case MI_INT8:
        return new Int8Array(buf.buffer, buf.byteOffset + t.data, n);
    }
    // Multi-byte values: copy through DataView (handles byte order and unaligned offsets).
    const get = (k: number): number => {
      const o = t.data + k * size;
      switch (t.type) {
        case MI_INT16: return dv.getInt16(o, le);
        case MI_UINT16: return dv.getUint16(o, le);
        case MI_INT32: return dv.getInt32(o, le);
        case MI_UINT32: return dv.getUint32(o, le);
        case MI_SINGLE: return dv.getFloat32(o, le);
        case MI_DOUBLE: return dv.getFloat64(o, le);
        case MI_INT64: return Number(dv.getBigInt64(o, le));
        default: return Number(dv.getBigUint64(o, le));
      }
    };
    const out =
      t.type === MI_INT16 ? new Int16Array(n)
      : t.type === MI_UINT16 ? new Uint16Array(n)
      : t.type === MI_INT32 ? new Int32Array(n)
      : t.type === MI_UINT32 ? new Uint32Array(n)
      : t.type === MI_SINGLE ? new Float32Array(n)
      : new Float64Array(n);
    for (let k = 0; k < n; k++) out[k] = get(k);
    return out;
  }
}

/** Parse the miMATRIX whose data spans [start, end). Returns null for an empty placeholder. */
function parseMatrix(cur: Cursor, start: number, end: number, elementPos: number): MatVariable | null {
  if (start === end) return null; // an empty miMATRIX (MATLAB writes these for empty cells)
  const flags = cur.tag(start, end);
  if (flags.type !== MI_UINT32 || flags.nbytes !== 8) throw cur.corrupt('array flags are not an 8-byte miUINT32 element', start);
  const word = cur.u32(flags.data);
  const className = CLASS_BY_ID[word & 0xff];
  if (!className) throw cur.corrupt(`unknown array class ${word & 0xff}`, elementPos);
  const complex = (word & FLAG_COMPLEX) !== 0;

  const dimsTag = cur.tag(flags.next, end);
  if (dimsTag.type !== MI_INT32 || dimsTag.nbytes % 4 !== 0 || dimsTag.nbytes < 8) {
    throw cur.corrupt('dimensions are not an miINT32 element with at least 2 values', flags.next);
  }
  const dims: number[] = [];
  for (let k = 0; k < dimsTag.nbytes / 4; k++) dims.push(cur.dv.getInt32(dimsTag.data + 4 * k, cur.le));
  if (dims.some((d) => d < 0)) throw cur.corrupt(`negative dimension in [${dims.join(', ')}]`, flags.next);

  const nameTag = cur.tag(dimsTag.next, end);
  if (nameTag.type !== MI_INT8 && nameTag.type !== MI_UINT8 && nameTag.type !== MI_UTF8) {
    throw cur.corrupt(`array name has data type ${nameTag.type}, expected miINT8`, dimsTag.next);
  }
  const name = Buffer.from(cur.buf.buffer, cur.buf.byteOffset + nameTag.data, nameTag.nbytes).toString('latin1');

  let real: MatData | null = null;
  const classId = word & 0xff;
  if (classId >= FIRST_NUMERIC_CLASS) {
    const realTag = cur.tag(nameTag.next, end);
    real = cur.numeric(realTag, nameTag.next, `real part of '${name}'`);
    const count = dims.reduce((a, b) => a * b, 1);
    if (real.length !== count) {
      throw cur.corrupt(`'${name}' has dims [${dims.join(', ')}] (${count} values) but its real part holds ${real.length}`, nameTag.next);
    }
  }
  return { name, className, dims, complex, real };
}

/** Throw unless buf starts with a level-5 MAT-file header; returns true for little-endian files. */
function readHeader(buf: Uint8Array, file: string): boolean {
  const head = Buffer.from(buf.buffer, buf.byteOffset, Math.min(buf.length, 128));
  const text = head.subarray(0, 116).toString('latin1');
  if (text.startsWith('MATLAB 7.3 MAT-file')) {
    throw dataError(
      `${file} is a MATLAB v7.3 MAT-file (HDF5), which this reader does not support; ` +
        `re-save it in MATLAB with save(file, ..., '-v7') (or use the official files, which are v5)`,
    );
  }
  const indicator = buf.length >= 128 ? head.subarray(126, 128).toString('latin1') : '';
  if (indicator !== 'IM' && indicator !== 'MI') {
    const why = buf.length < 128 ? `it is ${buf.length} bytes, shorter than the 128-byte header` : `bytes 126-127 are not the endian indicator 'IM' or 'MI'`;
    throw dataError(
      `${file} is not a MATLAB v5 MAT-file: ${why} (starts with ${JSON.stringify(text.slice(0, 20))}); ` +
        `expected a file written by MATLAB's save -v6/-v7 or scipy.io.savemat`,
    );
  }
  const le = indicator === 'IM';
  const version = head.readUInt16LE(124);
  const v = le ? version : ((version & 0xff) << 8) | (version >> 8);
  if (v !== 0x0100) throw dataError(`${file}: MAT-file version 0x${v.toString(16).padStart(4, '0')} is not 0x0100 (level 5)`);
  return le;
}

/** Parse a whole level-5 MAT-file held in memory; the variables in file order. */
export function parseMat5(buf: Uint8Array, file: string): MatVariable[] {
  const le = readHeader(buf, file);
  const cur = new Cursor(buf, le, file, '');
  const out: MatVariable[] = [];
  let pos = 128;
  while (pos < buf.length) {
    const t = cur.tag(pos, buf.length);
    if (t.type === MI_MATRIX) {
      const v = parseMatrix(cur, t.data, t.data + t.nbytes, pos);
      if (v) out.push(v);
    } else if (t.type === MI_COMPRESSED) {
      let inflated: Buffer;
      try {
        inflated = zlib.inflateSync(buf.subarray(t.data, t.data + t.nbytes));
      } catch (e) {
        throw dataError(
          `${file}: cannot decompress the compressed element at byte ${pos}: ${(e as Error).message}; ` +
            `the file is truncated or damaged: download or copy it again`,
          e,
        );
      }
      const inner = new Cursor(inflated, le, file, ` (inside the compressed element at byte ${pos})`);
      const it = inner.tag(0, inflated.length);
      if (it.type === MI_MATRIX) {
        const v = parseMatrix(inner, it.data, it.data + it.nbytes, 0);
        if (v) out.push(v);
      }
    }
    // Any other top-level element type is not an array (and MATLAB does not write one): skip it.
    pos = t.next;
  }
  return out;
}
