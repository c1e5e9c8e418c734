/**
 * Our wasm kernels against tfjs' cpu reference backend over a table of convolution shapes:
 * strides 1–3, kernels 1–7, same/valid/explicit padding, odd sizes, batch 1 and > 1,
 * grey and RGB. Gradients with respect to the input (Conv2DBackpropInput) and the filter
 * (Conv2DBackpropFilter) must agree to 1e-5 relative. (tfjs refuses gradients of dilated
 * convolutions at the op level, so dilation never reaches these kernels.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activate, leakedTensors, maxRelativeDifference } from '../../../test/support/engines.ts';
import { Random } from '../../core/random.ts';
import { useWasmKernels } from './kernels.ts';

type Padding =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  batch: number;
  size: [number, number];
  channels: [number, number];
  kernel: number;
  stride: number;
  padding: Padding;
  dilation?: number;
}

const explicit = (top: number, bottom: number, left: number, right: number): Padding => [
  [0, 0],
  [top, bottom],
  [left, right],
  [0, 0],
];

const cases: Case[] = [
  { batch: 1, size: [8, 8], channels: [1, 4], kernel: 3, stride: 1, padding: 'same' },
  { batch: 2, size: [9, 7], channels: [3, 5], kernel: 3, stride: 1, padding: 'valid' },
  { batch: 3, size: [7, 7], channels: [3, 4], kernel: 1, stride: 1, padding: 0 },
  { batch: 2, size: [11, 11], channels: [2, 3], kernel: 5, stride: 1, padding: 2 },
  { batch: 2, size: [8, 8], channels: [4, 6], kernel: 3, stride: 2, padding: 1 },
  { batch: 1, size: [7, 7], channels: [4, 6], kernel: 3, stride: 2, padding: 1 },
  { batch: 2, size: [9, 9], channels: [3, 5], kernel: 3, stride: 2, padding: 'same' },
  { batch: 2, size: [10, 10], channels: [3, 5], kernel: 3, stride: 2, padding: 'valid' },
  { batch: 2, size: [8, 8], channels: [4, 8], kernel: 1, stride: 2, padding: 0 },
  { batch: 1, size: [16, 16], channels: [3, 4], kernel: 7, stride: 2, padding: 3 },
  { batch: 2, size: [15, 13], channels: [1, 4], kernel: 7, stride: 2, padding: 3 },
  { batch: 2, size: [13, 13], channels: [2, 3], kernel: 5, stride: 3, padding: 2 },
  { batch: 2, size: [12, 11], channels: [3, 2], kernel: 3, stride: 3, padding: 'same' },
  { batch: 1, size: [9, 10], channels: [2, 3], kernel: 3, stride: 2, padding: explicit(0, 2, 1, 0) },
  { batch: 2, size: [8, 8], channels: [2, 3], kernel: 2, stride: 2, padding: 'valid' },
];

function describeCase(c: Case): string {
  const padding = Array.isArray(c.padding)
    ? `explicit ${JSON.stringify(c.padding.slice(1, 3))}`
    : String(c.padding);
  return `batch ${c.batch}, ${c.size.join('×')}×${c.channels[0]} → ${c.channels[1]}, k${c.kernel} s${c.stride} pad ${padding}${c.dilation ? ` d${c.dilation}` : ''}`;
}

/** Input gradient, filter gradient and output of Σ conv(x, w)·r for a fixed random r. */
function gradients(c: Case) {
  const random = new Random(c.kernel * 100 + c.stride * 10 + c.batch);
  const [height, width] = c.size;
  const [inChannels, outChannels] = c.channels;
  return tf.tidy(() => {
    const x = tf.tensor4d(random.normalArray(c.batch * height * width * inChannels, 1), [
      c.batch,
      height,
      width,
      inChannels,
    ]);
    const w = tf.tensor4d(random.normalArray(c.kernel * c.kernel * inChannels * outChannels, 0.5), [
      c.kernel,
      c.kernel,
      inChannels,
      outChannels,
    ]);
    const conv = (input: tf.Tensor, filter: tf.Tensor) =>
      tf.conv2d(
        input as tf.Tensor4D,
        filter as tf.Tensor4D,
        c.stride,
        c.padding as 'same',
        'NHWC',
        c.dilation ?? 1,
      );
    const weights = tf.tensor(random.normalArray(conv(x, w).size, 1), conv(x, w).shape);
    const [dx, dw] = tf.grads((input: tf.Tensor, filter: tf.Tensor) =>
      tf.sum(tf.mul(conv(input, filter), weights)),
    )([x, w]);
    return { dx: dx?.dataSync() ?? new Float32Array(), dw: dw?.dataSync() ?? new Float32Array() };
  });
}

describe('wasm kernel pack', () => {
  const reference = new Map<Case, { dx: ArrayLike<number>; dw: ArrayLike<number> }>();
  beforeAll(async () => {
    await activate('cpu');
    for (const c of cases) reference.set(c, gradients(c));
    await activate('wasm');
    useWasmKernels('ours');
  });
  afterAll(() => useWasmKernels('ours'));

  it.each(cases.map((c) => [describeCase(c), c] as const))(
    '%s: dX and dW equal the cpu reference',
    (_, c) => {
      const expected = reference.get(c);
      const actual = gradients(c);
      expect(maxRelativeDifference(actual.dx, expected?.dx ?? [])).toBeLessThan(1e-5);
      expect(maxRelativeDifference(actual.dw, expected?.dw ?? [])).toBeLessThan(1e-5);
    },
  );

  it('leaks no tensors and no backend buffers', () => {
    const c = cases[11] as Case;
    gradients(c);
    const before = tf.memory() as { numTensors: number; numDataBuffers: number };
    expect(leakedTensors(() => gradients(c))).toBe(0);
    const after = tf.memory() as { numTensors: number; numDataBuffers: number };
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
  });

  it('Identity shares the buffer instead of copying', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    const buffers = (tf.memory() as { numDataBuffers: number }).numDataBuffers;
    const z = tf.clone(y);
    expect((tf.memory() as { numDataBuffers: number }).numDataBuffers).toBe(buffers);
    expect([...z.dataSync()]).toEqual([1, 2, 3]);
    x.dispose();
    y.dispose();
    expect([...z.dataSync()]).toEqual([1, 2, 3]);
    z.dispose();
  });

  it('the broadcasting batch-norm gradient equals the stock one', () => {
    const run = () =>
      tf.tidy(() => {
        const random = new Random(5);
        const x = tf.tensor4d(random.normalArray(2 * 5 * 5 * 3, 1), [2, 5, 5, 3]);
        const parameters = [0.2, -0.1, 0.3, 0.8, 1.2, 0.5, 1.1, 0.9, 1.3, 0.1, 0, -0.2].map((v) => v);
        const mean = tf.tensor1d(parameters.slice(0, 3));
        const variance = tf.tensor1d(parameters.slice(3, 6));
        const scale = tf.tensor1d(parameters.slice(6, 9));
        const offset = tf.tensor1d(parameters.slice(9, 12));
        const weights = tf.tensor4d(random.normalArray(x.size, 1), x.shape);
        const grads = tf.grads((a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
          tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s, 1e-3), weights)),
        )([x, mean, variance, scale, offset]);
        return grads.map((g) => Array.from(g.dataSync()));
      });
    useWasmKernels('stock');
    const stock = run();
    useWasmKernels('ours');
    const ours = run();
    ours.forEach((gradient, index) => {
      expect(maxRelativeDifference(gradient, stock[index] ?? [])).toBeLessThan(1e-5);
    });
  });
});
