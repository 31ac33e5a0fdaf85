// safetensors, read and written in TypeScript: an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets}} (plus optional __metadata__), then the
// raw little-endian bytes. The reader trusts nothing in the file: every length, offset,
// shape and dtype is checked before a byte is used, and nothing in it is executed.
import { readFile, writeFile, rename } from 'node:fs/promises';
import type { TensorEntry } from './binding-types.js';
import { SkipNetError } from './errors.js';

const DTYPE_BYTES: Record<string, number> = { F32: 4, I64: 8, F64: 8, I32: 4, U8: 1 };
const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsFile {
  tensors: TensorEntry[];
  metadata: Record<string, string>;
}

/** Any dtype the format names that this package reads; lib/ only keeps F32 and I64 for models. */
export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

function fail(source: string, problem: string): never {
  throw new SkipNetError('ERR_WEIGHTS', `${source} is not a valid safetensors file: ${problem}`);
}

export function encodeSafetensors(tensors: RawTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'the file'): { tensors: RawTensor[]; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) fail(source, `it has ${bytes.byteLength} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(MAX_HEADER, bytes.byteLength - 8))) {
    fail(source, `the header length ${headerLen} exceeds the file (${bytes.byteLength} bytes)`);
  }
  const hlen = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hlen)));
  } catch (err) {
    fail(source, `the header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(source, 'the header is not a JSON object');
  const dataStart = 8 + hlen;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: RawTensor[] = [];
  const spans: Array<[number, number, string]> = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null) fail(source, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(source, `__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) fail(source, `entry '${name}' is not an object`);
    if (typeof t.dtype !== 'string' || !(t.dtype in DTYPE_BYTES)) fail(source, `tensor '${name}' has unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || t.shape.length > 8 || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(source, `tensor '${name}' has an invalid shape ${JSON.stringify(t.shape)}`);
    }
    const offs = t.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(source, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataLen) fail(source, `tensor '${name}' spans bytes ${begin}..${end}, but the data section has ${dataLen}`);
    const count = (t.shape as number[]).reduce((a, b) => a * b, 1);
    if (count * DTYPE_BYTES[t.dtype] !== end - begin) {
      fail(source, `tensor '${name}' has shape [${t.shape}] of ${t.dtype} (${count * DTYPE_BYTES[t.dtype]} bytes) but ${end - begin} bytes of data`);
    }
    spans.push([begin, end, name]);
    // A copy, so the tensor's bytes are aligned and independent of the file buffer.
    tensors.push({ name, dtype: t.dtype, shape: t.shape as number[], data: bytes.slice(dataStart + begin, dataStart + end) });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) fail(source, `tensors '${spans[i - 1][2]}' and '${spans[i][2]}' overlap`);
  }
  return { tensors, metadata };
}

/** Only F32/I64 tensors cross into the model; anything else is a clear error. */
export function modelTensors(raw: RawTensor[], source: string): TensorEntry[] {
  return raw.map((t) => {
    if (t.dtype !== 'F32' && t.dtype !== 'F64' && t.dtype !== 'I64') {
      throw new SkipNetError('ERR_WEIGHTS', `${source}: tensor '${t.name}' is ${t.dtype}; model weights must be F32 (I64 for counters)`);
    }
    return { name: t.name, dtype: t.dtype, shape: t.shape, data: t.data };
  });
}

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new SkipNetError('ERR_WEIGHTS', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  return { tensors: modelTensors(tensors, path), metadata };
}

/** Written to a temporary file, then renamed: a crash never leaves half a file behind. */
export async function writeSafetensors(path: string, tensors: RawTensor[], metadata: Record<string, string> = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, encodeSafetensors(tensors, metadata));
  await rename(tmp, path);
}
