/**
 * Guided back-propagation (Springenberg et al. 2015) against a network small enough to work by hand:
 * 2×2 grey input → 1×1 convolution with weights (1, −1) and biases (−0.3, 0.4) → ReLU → global
 * average pool → dense [[1, −2], [0, 0]]; objective: logit 0.
 * At pixel value x, channel 0 is active when x > 0.3 and channel 1 when x < 0.4, and the gradient
 * reaching each ReLU output is W₀ₖ/4 (+1/4 for channel 0, −2/4 for channel 1). Plain gradient:
 * (1/4)([x > 0.3]·1 + [x < 0.4]·2). Guided: channel 1's negative gradient is stopped at its ReLU,
 * leaving (1/4)[x > 0.3]. For x = (0.5, 0.1, 0.35, 0.9): plain (0.25, 0.5, 0.75, 0.25), guided
 * (0.25, 0, 0.25, 0.25). The native engine offers no guided gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { activate } from '../../test/support/engines.ts';
import { createClassifier } from './classifier.ts';
import type { NetworkSpec } from './network-spec.ts';

const spec: NetworkSpec = {
  inputShape: [2, 2, 1],
  nodes: [
    {
      id: 'c',
      inputs: ['input'],
      layer: {
        kind: 'conv2d',
        name: 'c',
        inChannels: 1,
        outChannels: 2,
        kernelSize: 1,
        stride: 1,
        padding: 0,
        bias: true,
      },
    },
    { id: 'r', inputs: ['c'], layer: { kind: 'relu' } },
    { id: 'pool', inputs: ['r'], layer: { kind: 'globalAveragePool' } },
    {
      id: 'fc',
      inputs: ['pool'],
      layer: { kind: 'dense', name: 'fc', inFeatures: 2, outFeatures: 2, bias: true },
    },
  ],
  output: 'fc',
  taps: { pool: 'pool' },
};

const weights = new Map([
  ['c.weight', { shape: [2, 1, 1, 1], data: Float32Array.from([1, -1]) }],
  ['c.bias', { shape: [2], data: Float32Array.from([-0.3, 0.4]) }],
  ['fc.weight', { shape: [2, 2], data: Float32Array.from([1, -2, 0, 0]) }],
  ['fc.bias', { shape: [2], data: Float32Array.from([0, 0]) }],
]);

describe('guided back-propagation', () => {
  it('stops negative gradients at every ReLU, by hand; the plain gradient is unchanged', async () => {
    const engine = await activate('cpu');
    const network = engine.buildNetwork(spec, weights);
    const model = createClassifier(network, {
      name: 'hand',
      classNames: ['a', 'b'],
      bounds: { lower: 0, upper: 1 },
    });
    const x = tf.tensor4d([0.5, 0.1, 0.35, 0.9], [1, 2, 2, 1]);
    const logit0 = ({ logits }: { logits: tf.Tensor2D }) =>
      tf.tidy(() => tf.reshape(tf.slice(logits, [0, 0], [-1, 1]), [-1]) as tf.Tensor1D);
    const before = tf.memory().numTensors;
    const { value, grad } = model.valueAndGrad(x, logit0);
    const guided = model.guidedGradient?.(x, logit0);
    expect(Array.from(grad.dataSync())).toEqual([0.25, 0.5, 0.75, 0.25].map((v) => expect.closeTo(v, 6)));
    expect(Array.from(guided?.dataSync() ?? [])).toEqual(
      [0.25, 0, 0.25, 0.25].map((v) => expect.closeTo(v, 6)),
    );
    tf.dispose([value, grad, guided as tf.Tensor]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    network.dispose();
  });
});
