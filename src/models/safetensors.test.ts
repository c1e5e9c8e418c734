import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../core/errors.ts';
import type { HostTensor } from '../engine/weights.ts';
import { parseSafetensors, serializeSafetensors } from './safetensors.ts';

/** Lays out a safetensors file byte by byte, as the format's README describes it. */
function handMade(header: object, data: number[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('reads hand-laid F32, F16, BF16 and I64 tensors', () => {
    const bytes = handMade(
      {
        __metadata__: { format: 'pt' },
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F16', shape: [2], data_offsets: [8, 12] },
        c: { dtype: 'BF16', shape: [1], data_offsets: [12, 14] },
        d: { dtype: 'I64', shape: [], data_offsets: [14, 22] },
      },
      [
        // 1.5f = 0x3fc00000, -2f = 0xc0000000 (little endian)
        0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0,
        // half 1.0 = 0x3c00, half -0.5 = 0xb800
        0x00, 0x3c, 0x00, 0xb8,
        // bfloat16 3.0 = 0x4040
        0x40, 0x40,
        // int64 42
        42, 0, 0, 0, 0, 0, 0, 0,
      ],
    );
    const { tensors, metadata } = parseSafetensors(bytes, 'hand.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    expect([...(tensors.get('a')?.data ?? [])]).toEqual([1.5, -2]);
    expect([...(tensors.get('b')?.data ?? [])]).toEqual([1, -0.5]);
    expect([...(tensors.get('c')?.data ?? [])]).toEqual([3]);
    expect(tensors.get('d')).toEqual({ shape: [], data: new Float32Array([42]) });
  });

  it('round-trips weights and stores batch counters as I64 with an 8-byte aligned header', () => {
    const tensors = new Map<string, HostTensor>([
      ['conv.weight', { shape: [2, 1, 1, 1], data: new Float32Array([0.25, -3.5]) }],
      ['bn.num_batches_tracked', { shape: [], data: new Float32Array([7]) }],
    ]);
    const bytes = serializeSafetensors(tensors, { producer: 'test' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    expect(header['bn.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data_offsets: [8, 16] });
    expect(header['conv.weight'].dtype).toBe('F32');
    const parsed = parseSafetensors(bytes, 'round-trip');
    expect(parsed.tensors).toEqual(tensors);
    expect(parsed.metadata).toEqual({ producer: 'test' });
  });

  const good = serializeSafetensors(new Map([['w', { shape: [3], data: new Float32Array([1, 2, 3]) }]]));
  it.each([
    ['too short', good.subarray(0, 5), /shorter than the 8-byte header length/],
    ['truncated data', good.subarray(0, good.length - 4), /outside the .*data section/],
    ['truncated header', good.subarray(0, 20), /does not fit/],
    ['header not JSON', handMade({}, []).fill(0x7b, 8), /header is not UTF-8 JSON|does not fit/],
    [
      'unknown dtype',
      handMade({ w: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Array(8).fill(0)),
      /unsupported dtype/,
    ],
    [
      'bad shape',
      handMade({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, [0, 0, 0, 0]),
      /invalid shape/,
    ],
    [
      'size mismatch',
      handMade({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]),
      /needs 8/,
    ],
  ])('rejects a file with %s, naming the file', (_, bytes, message) => {
    expect(() => parseSafetensors(bytes, 'broken.safetensors')).toThrowError(MedrobustError);
    expect(() => parseSafetensors(bytes, 'broken.safetensors')).toThrowError(message);
    expect(() => parseSafetensors(bytes, 'broken.safetensors')).toThrowError(/^broken\.safetensors: /);
  });
});
