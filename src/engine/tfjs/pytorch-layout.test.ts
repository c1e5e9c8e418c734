/**
 * A hand-built network in PyTorch names and layouts (OIHW filters, [out, in] dense, symmetric
 * padding, running-statistics batch norm) against a naive NCHW reference written from PyTorch's
 * documented semantics. Odd and even sizes with stride 2 catch TensorFlow-style asymmetric padding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { activate, maxRelativeDifference } from '../../../test/support/engines.ts';
import type { Engine } from '../contracts.ts';
import type { NetworkSpec } from '../network-spec.ts';
import type { HostTensor } from '../weights.ts';

const [inC, outC, kernel, stride, padding, classes] = [2, 3, 3, 2, 1, 2];

function fixtureSpec(size: number): NetworkSpec {
  return {
    inputShape: [size, size, inC],
    nodes: [
      { id: 'normalize', inputs: ['input'], layer: { kind: 'normalize', mean: [0.25, 0.5], std: [0.5, 2] } },
      {
        id: 'conv',
        inputs: ['normalize'],
        layer: {
          kind: 'conv2d',
          name: 'conv',
          inChannels: inC,
          outChannels: outC,
          kernelSize: kernel,
          stride,
          padding,
          bias: true,
        },
      },
      {
        id: 'bn',
        inputs: ['conv'],
        layer: { kind: 'batchNorm', name: 'bn', channels: outC, epsilon: 1e-5, momentum: 0.1 },
      },
      { id: 'relu', inputs: ['bn'], layer: { kind: 'relu' } },
      { id: 'pool', inputs: ['relu'], layer: { kind: 'maxPool', kernelSize: 3, stride: 2, padding: 1 } },
      { id: 'gap', inputs: ['pool'], layer: { kind: 'globalAveragePool' } },
      {
        id: 'fc',
        inputs: ['gap'],
        layer: { kind: 'dense', name: 'fc', inFeatures: outC, outFeatures: classes, bias: true },
      },
    ],
    output: 'fc',
    taps: { pool: 'pool', logits: 'fc' },
  };
}

/** Distinct, asymmetric values so any transposition or flip shows. */
const ramp = (count: number, scale: number, offset = 0) =>
  Float32Array.from({ length: count }, (_, i) => Math.sin(1.7 * i + offset) * scale);

const weights = new Map<string, HostTensor>([
  ['conv.weight', { shape: [outC, inC, kernel, kernel], data: ramp(outC * inC * kernel * kernel, 0.5) }],
  ['conv.bias', { shape: [outC], data: Float32Array.from([0.1, -0.2, 0.05]) }],
  ['bn.weight', { shape: [outC], data: Float32Array.from([1.2, 0.8, 1.1]) }],
  ['bn.bias', { shape: [outC], data: Float32Array.from([0.1, 0.3, -0.1]) }],
  ['bn.running_mean', { shape: [outC], data: Float32Array.from([0.05, -0.1, 0.2]) }],
  ['bn.running_var', { shape: [outC], data: Float32Array.from([0.9, 1.3, 0.6]) }],
  ['bn.num_batches_tracked', { shape: [], data: Float32Array.from([12]) }],
  ['fc.weight', { shape: [classes, outC], data: Float32Array.from([0.3, -0.6, 0.9, -0.2, 0.5, 0.7]) }],
  ['fc.bias', { shape: [classes], data: Float32Array.from([0.01, -0.02]) }],
]);

/** PyTorch semantics, NCHW, written out loop by loop. `image` is NHWC (one sample). */
function reference(image: Float32Array, size: number): number[] {
  const at = (t: HostTensor | undefined, i: number) => t?.data[i] ?? Number.NaN;
  const mean = [0.25, 0.5];
  const std = [0.5, 2];
  const x = (c: number, h: number, w: number) =>
    h < 0 || w < 0 || h >= size || w >= size
      ? 0
      : ((image[(h * size + w) * inC + c] ?? 0) - (mean[c] ?? 0)) / (std[c] ?? 1);
  const convSize = Math.floor((size + 2 * padding - kernel) / stride) + 1;
  const activation: number[][][] = [];
  for (let o = 0; o < outC; o++) {
    activation.push([]);
    for (let i = 0; i < convSize; i++) {
      activation[o]?.push([]);
      for (let j = 0; j < convSize; j++) {
        let sum = at(weights.get('conv.bias'), o);
        for (let c = 0; c < inC; c++)
          for (let kh = 0; kh < kernel; kh++)
            for (let kw = 0; kw < kernel; kw++)
              sum +=
                at(weights.get('conv.weight'), ((o * inC + c) * kernel + kh) * kernel + kw) *
                x(c, i * stride - padding + kh, j * stride - padding + kw);
        const normalized =
          ((sum - at(weights.get('bn.running_mean'), o)) /
            Math.sqrt(at(weights.get('bn.running_var'), o) + 1e-5)) *
            at(weights.get('bn.weight'), o) +
          at(weights.get('bn.bias'), o);
        activation[o]?.[i]?.push(Math.max(0, normalized));
      }
    }
  }
  const poolSize = Math.floor((convSize + 2 - 3) / 2) + 1;
  const pooled: number[] = [];
  for (let o = 0; o < outC; o++) {
    let total = 0;
    for (let i = 0; i < poolSize; i++)
      for (let j = 0; j < poolSize; j++) {
        let best = Number.NEGATIVE_INFINITY;
        for (let a = 0; a < 3; a++)
          for (let b = 0; b < 3; b++) {
            const value = activation[o]?.[i * 2 - 1 + a]?.[j * 2 - 1 + b];
            if (value !== undefined) best = Math.max(best, value);
          }
        total += best;
      }
    pooled.push(total / (poolSize * poolSize));
  }
  return Array.from({ length: classes }, (_, k) => {
    let sum = at(weights.get('fc.bias'), k);
    for (let o = 0; o < outC; o++) sum += at(weights.get('fc.weight'), k * outC + o) * (pooled[o] ?? 0);
    return sum;
  });
}

describe.each(['cpu', 'wasm'] as const)('PyTorch-layout fixture on %s', (engineName) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await activate(engineName);
  });

  it.each([
    [7, true, 'predict'],
    [8, true, 'predict'],
    [8, false, 'predict'],
    [7, true, 'gradient'],
  ] as const)(
    'size %i (fold batch norm: %s, %s graph) matches the NCHW reference',
    (size, foldBatchNorm, purpose) => {
      const network = engine.buildNetwork(fixtureSpec(size), weights, { foldBatchNorm });
      const image = ramp(2 * size * size * inC, 0.5, 0.3).map((v) => v + 0.5);
      const logits = tf.tidy(() =>
        network.forward(tf.tensor4d(image, [2, size, size, inC]), [], purpose).logits.arraySync(),
      );
      for (let sample = 0; sample < 2; sample++) {
        const expected = reference(
          image.subarray(sample * size * size * inC, (sample + 1) * size * size * inC),
          size,
        );
        expect(maxRelativeDifference(logits[sample] ?? [], expected)).toBeLessThan(1e-5);
      }
      network.dispose();
    },
  );
});
