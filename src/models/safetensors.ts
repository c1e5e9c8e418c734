/**
 * The safetensors format (Hugging Face, https://github.com/huggingface/safetensors): an unsigned
 * 64-bit little-endian header length N, N bytes of JSON (`name → {dtype, shape, data_offsets}` plus
 * an optional `__metadata__` map of strings), padded with spaces to a multiple of 8, then the
 * little-endian tensor bytes. No maintained npm package reads and writes local safetensors files,
 * so this is written by hand and tested against bytes laid out by hand.
 *
 * Reading converts every numeric dtype to float32 (weights) — integers such as batch norm's
 * `num_batches_tracked` (I64) included. Writing stores float32, except `*.num_batches_tracked`,
 * stored as I64 as PyTorch does, so `load_state_dict(strict=True)` accepts the file.
 */
import { MedrobustError } from '../core/errors.ts';
import type { HostTensor, WeightMap } from '../engine/weights.ts';

const dtypeSizes = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;
type Dtype = keyof typeof dtypeSizes;
const maxHeaderBytes = 100 * 1024 * 1024;

export interface SafetensorsContents {
  readonly tensors: WeightMap;
  readonly metadata: Readonly<Record<string, string>>;
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function decode(dtype: Dtype, view: DataView, count: number): Float32Array {
  const out = new Float32Array(count);
  const size = dtypeSizes[dtype];
  for (let i = 0; i < count; i++) {
    const offset = i * size;
    switch (dtype) {
      case 'F64':
        out[i] = view.getFloat64(offset, true);
        break;
      case 'F32':
        out[i] = view.getFloat32(offset, true);
        break;
      case 'F16':
        out[i] = halfToFloat(view.getUint16(offset, true));
        break;
      case 'BF16':
        out[i] = new Float32Array(new Uint32Array([view.getUint16(offset, true) << 16]).buffer)[0] ?? 0;
        break;
      case 'I64':
        out[i] = Number(view.getBigInt64(offset, true));
        break;
      case 'I32':
        out[i] = view.getInt32(offset, true);
        break;
      case 'I16':
        out[i] = view.getInt16(offset, true);
        break;
      case 'I8':
        out[i] = view.getInt8(offset);
        break;
      case 'U8':
      case 'BOOL':
        out[i] = view.getUint8(offset);
        break;
    }
  }
  return out;
}

export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsContents {
  const corrupt = (what: string): never => {
    throw new MedrobustError('invalid-model', `${source}: not a valid safetensors file: ${what}`, {
      hint: 'the file is truncated or not safetensors; re-save the weights (docs/weights.md shows how from PyTorch)',
    });
  };
  if (bytes.length < 8) corrupt(`only ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > maxHeaderBytes || 8 + headerLength > bytes.length) {
    corrupt(`header length ${headerLength} does not fit in a file of ${bytes.length} bytes`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (error) {
    corrupt(`header is not UTF-8 JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    corrupt('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, HostTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) corrupt('__metadata__ is not an object');
      metadata = Object.fromEntries(
        Object.entries(entry as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
      );
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(dtypeSizes, dtype)) {
      corrupt(
        `tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(dtypeSizes).join(', ')})`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((size) => Number.isInteger(size) && size >= 0)) {
      corrupt(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0)
    ) {
      corrupt(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((product, size) => product * size, 1);
    const size = dtypeSizes[dtype as Dtype];
    if (end < begin || end > dataLength)
      corrupt(`tensor "${name}" bytes [${begin}, ${end}) lie outside the ${dataLength}-byte data section`);
    if (end - begin !== count * size)
      corrupt(
        `tensor "${name}" has ${end - begin} bytes but shape [${shape}] × ${dtype} needs ${count * size}`,
      );
    const slice = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    tensors.set(name, { shape: shape as number[], data: decode(dtype as Dtype, slice, count) });
  }
  return { tensors, metadata };
}

export function serializeSafetensors(
  tensors: WeightMap,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const layout: { tensor: HostTensor; dtype: 'F32' | 'I64'; begin: number }[] = [];
  for (const [name, tensor] of tensors) {
    const dtype = name.endsWith('.num_batches_tracked') ? 'I64' : 'F32';
    const bytes = tensor.data.length * dtypeSizes[dtype];
    header[name] = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + bytes] };
    layout.push({ tensor, dtype, begin: offset });
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  while (encoder.encode(json).length % 8 !== 0) json += ' ';
  const headerBytes = encoder.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const dataStart = 8 + headerBytes.length;
  for (const { tensor, dtype, begin } of layout) {
    for (let i = 0; i < tensor.data.length; i++) {
      const value = tensor.data[i] ?? 0;
      if (dtype === 'I64') view.setBigInt64(dataStart + begin + i * 8, BigInt(Math.round(value)), true);
      else view.setFloat32(dataStart + begin + i * 4, value, true);
    }
  }
  return out;
}
