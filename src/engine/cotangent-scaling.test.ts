import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { activate, images, tinyModel } from '../../test/support/engines.ts';
import { createClassifier, withPullbackGradients } from './classifier.ts';
import type { Engine, Objective } from './contracts.ts';
import { cotangentScale } from './cotangent-scaling.ts';

/** Cross-entropy against fixed labels, times a constant factor. */
const crossEntropy =
  (labels: number[], factor = 1): Objective =>
  ({ logits }) =>
    tf.tidy(() => {
      const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), logits.shape[1]);
      return tf.mul(tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1)), factor) as tf.Tensor1D;
    });

/** max |a − b| / max |b|, with no floor: the values here are far below 1e−30. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    difference = Math.max(difference, Math.abs((actual[i] ?? Number.NaN) - (expected[i] ?? Number.NaN)));
    scale = Math.max(scale, Math.abs(expected[i] ?? 0));
  }
  return difference / scale;
}

describe.each(['wasm', 'cpu'] as const)('cotangent scaling on %s', (engineName) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await activate(engineName);
  });

  it('scales only tiny cotangents, by powers of two', () => {
    const scale = tf.tidy(() =>
      cotangentScale(
        tf.tensor2d([
          [0.5, -0.25],
          [2 ** -70, -(2 ** -72)],
          [0, 0],
        ]),
      ).arraySync(),
    );
    expect(scale).toEqual([1, 2 ** 64, 2 ** 64]);
    const middle = tf.tidy(() => cotangentScale(tf.tensor2d([[3 * 2 ** -50, 0]])).arraySync());
    expect(middle).toEqual([2 ** 49]);
  });

  it('computes gradients of tiny objectives more accurately than plain backpropagation, on both routes', () => {
    const model = tinyModel(engine, { arch: 'small-cnn', classes: 2, channels: 1, size: 16, width: 0.25 });
    const x = images(2, 16, 1);
    const labels = [0, 1];
    const tiny = 2 ** -130; // the logit cotangent starts below the smallest normal float (2^−126)
    // Reference: the gradient of the plain loss (normal range), times 2^−130 in float64.
    const plainLoss = model.classifier.valueAndGrad(x, crossEntropy(labels));
    const reference = Array.from(plainLoss.grad.dataSync(), (value) => value * tiny);
    // Plain tfjs differentiation of the tiny objective backpropagates denormals and loses precision.
    const plain = tf.tidy(() =>
      tf
        .grad((input: tf.Tensor) =>
          tf.sum(crossEntropy(labels, tiny)(model.network.forward(input as tf.Tensor4D, [], 'gradient'))),
        )(x)
        .dataSync(),
    );
    const pullback = createClassifier(withPullbackGradients(model.network), {
      name: 'pullback',
      classNames: ['a', 'b'],
      bounds: { lower: 0, upper: 1 },
    });
    const errors = [model.classifier, pullback].map((classifier) => {
      const { value, grad } = classifier.valueAndGrad(x, crossEntropy(labels, tiny));
      const error = relativeError(grad.dataSync(), reference);
      tf.dispose([value, grad]);
      return error;
    });
    // The results are themselves around 1e−40 (denormal: ~1e−5 relative resolution at best).
    // Measured here: scaled 3.4e−5 on both engines (the resolution of ~1e−40 outputs), plain 1.4e−3
    // on wasm and 2e−4 on cpu: denormal arithmetic inside the network loses precision (and time).
    const plainError = relativeError(plain, reference);
    for (const error of errors) {
      expect(error).toBeLessThan(1e-4);
      expect(plainError).toBeGreaterThan(3 * error);
    }
    tf.dispose([x, plainLoss.value, plainLoss.grad]);
    model.network.dispose();
  });
});
