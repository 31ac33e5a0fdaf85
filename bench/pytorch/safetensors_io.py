"""Minimal safetensors reader/writer (plain Python + torch, no `safetensors` package).

Why our own: the Debian torch install has no safetensors wheel, and the format is
tiny. Layout (https://github.com/huggingface/safetensors#format):
  8 bytes   little-endian u64 N = header length
  N bytes   JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}
  rest      raw little-endian tensor bytes; offsets are relative to the start of this area
We pad the header with spaces to a multiple of 8 (as the reference writer does) so the
data area stays aligned, and write tensors in sorted-name order (deterministic files).
"""
import json
import struct
import sys

import torch

# Only the dtypes the project exchanges with the C++ side.
_TO_TORCH = {
    'F32': torch.float32,
    'F64': torch.float64,
    'I64': torch.int64,
    'I32': torch.int32,
    'U8': torch.uint8,
}
_FROM_TORCH = {v: k for k, v in _TO_TORCH.items()}

assert sys.byteorder == 'little', 'raw tensor bytes are assumed little-endian'


def loads(buf):
    """Parse safetensors bytes -> (dict name -> tensor (own memory), metadata dict)."""
    buf = memoryview(bytes(buf))
    if len(buf) < 8:
        raise ValueError('safetensors: file shorter than 8 bytes')
    (n,) = struct.unpack('<Q', buf[:8])
    if 8 + n > len(buf):
        raise ValueError(f'safetensors: header length {n} exceeds file size {len(buf)}')
    header = json.loads(bytes(buf[8:8 + n]).decode('utf-8'))
    meta = header.pop('__metadata__', {}) or {}
    data = buf[8 + n:]
    out = {}
    for name, info in header.items():
        dtype = _TO_TORCH.get(info['dtype'])
        if dtype is None:
            raise ValueError(f'safetensors: unsupported dtype {info["dtype"]} for {name}')
        shape = [int(s) for s in info['shape']]
        begin, end = (int(o) for o in info['data_offsets'])
        numel = 1
        for s in shape:
            numel *= s
        itemsize = torch.tensor([], dtype=dtype).element_size()
        if end - begin != numel * itemsize or end > len(data):
            raise ValueError(f'safetensors: bad data_offsets for {name}: {begin}..{end}, shape {shape}')
        if numel == 0:
            # torch.frombuffer rejects empty buffers (e.g. probs [0,B] of an ungated model).
            t = torch.empty(shape, dtype=dtype)
        else:
            # clone(): frombuffer aliases the (read-only) bytes; callers get writable tensors.
            t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(shape).clone()
        out[name] = t
    return out, meta


def load(path):
    """Read a .safetensors file -> dict name -> tensor. Metadata via load_with_metadata."""
    return load_with_metadata(path)[0]


def load_with_metadata(path):
    with open(path, 'rb') as f:
        return loads(f.read())


def dumps(tensors, metadata=None):
    """dict name -> tensor -> safetensors bytes. Tensors are moved to CPU and made contiguous."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to('cpu').contiguous()
        dt = _FROM_TORCH.get(t.dtype)
        if dt is None:
            raise ValueError(f'safetensors: unsupported dtype {t.dtype} for {name}')
        raw = t.numpy().tobytes() if t.numel() else b''
        header[name] = {'dtype': dt, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    return struct.pack('<Q', len(hb)) + hb + b''.join(chunks)


def save(path, tensors, metadata=None):
    with open(path, 'wb') as f:
        f.write(dumps(tensors, metadata))
