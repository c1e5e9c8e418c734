/**
 * Loss landscapes against references:
 * - the surface's origin is the model's CE at x, and a point equals CE at x + ε₁d₁ + ε₂d₂ computed
 *   directly (clipped to [0, 1]);
 * - sharpness of a hand-written 3 × 3 surface;
 * - power iteration against ml-matrix's symmetric eigendecomposition of explicit per-sample
 *   matrices (an explicit finite-difference Hessian of a ReLU network is not a usable reference:
 *   measured on an 8-px model, kinks within the step made it indefinite, eigenvalues −0.55 … 4.37);
 * - the model's curvature estimate is positive and at least the quotient along its random start.
 */
import * as tf from '@tensorflow/tfjs-core';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activate, images, tinyModel } from '../../test/support/engines.ts';
import type { Engine } from '../engine/contracts.ts';
import type { LoadedModel } from '../models/model.ts';
import {
  gradientSignDirection,
  lossSurface,
  paperGrid,
  powerIteration,
  randomSignDirection,
  sharpness,
  topHessianEigenvalue,
} from './loss-landscape.ts';
import { crossEntropy } from './objectives.ts';

let engine: Engine;
let model: LoadedModel;

beforeAll(async () => {
  engine = await activate('cpu');
  model = tinyModel(engine, { arch: 'small-cnn', classes: 3, channels: 1, size: 16, width: 0.25 });
});

afterAll(() => {
  model.network.dispose();
});

function lossAt(classifier: LoadedModel['classifier'], x: tf.Tensor4D, label: number): number {
  return tf.tidy(() => {
    const { logits } = classifier.predict(x);
    return crossEntropy(logits, tf.tensor1d([label], 'int32')).dataSync()[0] ?? Number.NaN;
  });
}

describe('loss surface', () => {
  it('starts at CE(x) and each point is CE at the moved, clipped image; no leaks', () => {
    const x = images(2, 16, 1, 3);
    const labels = Int32Array.from([0, 2]);
    const before = tf.memory().numTensors;
    const own = gradientSignDirection(model.classifier, x, labels);
    const random = randomSignDirection([2, 16, 16, 1], 4);
    const surface = lossSurface(model.classifier, x, labels, own, random, paperGrid, 100);
    expect(surface.losses).toHaveLength(2 * 16 * 16);
    for (const [image, i, j] of [
      [0, 0, 0],
      [1, 0, 0],
      [1, 3, 11],
      [0, 15, 15],
    ] as const) {
      const expected = tf.tidy(() => {
        const moved = tf.clipByValue(
          tf.add(
            tf.slice(x, [image, 0, 0, 0], [1, -1, -1, -1]),
            tf.add(
              tf.mul(tf.slice(own, [image, 0, 0, 0], [1, -1, -1, -1]), (paperGrid[i] ?? 0) / 255),
              tf.mul(tf.slice(random, [image, 0, 0, 0], [1, -1, -1, -1]), (paperGrid[j] ?? 0) / 255),
            ),
          ),
          0,
          1,
        ) as tf.Tensor4D;
        return lossAt(model.classifier, moved, labels[image] ?? 0);
      });
      expect(surface.losses[image * 256 + i * 16 + j]).toBeCloseTo(expected, 5);
    }
    tf.dispose([own, random]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('sharpness is the largest increase within the radius, by hand', () => {
    // grid 0, 1, 2 (/255); origin loss 1.
    const losses = Float32Array.from([1, 1.5, 4, 0.5, 2, 9, 3, 1, 1]);
    const surface = { losses, images: 1, grid: [0, 1, 2] };
    expect(Array.from(sharpness(surface, 0))).toEqual([0]);
    expect(Array.from(sharpness(surface, 1))).toEqual([1]); // max(1.5, 0.5, 2) − 1
    expect(Array.from(sharpness(surface, 2))).toEqual([8]); // 9 − 1
  });
});

describe('input Hessian', () => {
  it('power iteration finds the top eigenvalue of each sample’s own symmetric operator', () => {
    // Two samples, each a 2×2×1 "image" (4 dimensions) with its own symmetric positive definite
    // matrix; reference eigenvalues from ml-matrix's symmetric eigendecomposition.
    const matrices = [
      [
        [4, 1, 0, 0.5],
        [1, 3, 0.2, 0],
        [0, 0.2, 2, 0.1],
        [0.5, 0, 0.1, 1],
      ],
      [
        [1, 0.3, 0, 0],
        [0.3, 1, 0, 0],
        [0, 0, 5, -2],
        [0, 0, -2, 5],
      ],
    ];
    const operator = tf.tensor3d(matrices);
    const product = (vector: tf.Tensor4D) =>
      tf.tidy(
        () => tf.reshape(tf.matMul(operator, tf.reshape(vector, [2, 4, 1])), [2, 2, 2, 1]) as tf.Tensor4D,
      );
    const start = tf.tensor4d(Float32Array.from([1, 1, 1, 1, 1, -1, 0.5, 0.2]), [2, 2, 2, 1]);
    const before = tf.memory().numTensors;
    const estimates = powerIteration(product, start, 200);
    expect(tf.memory().numTensors).toBe(before);
    matrices.forEach((matrix, index) => {
      const top = Math.max(
        ...new EigenvalueDecomposition(new Matrix(matrix), { assumeSymmetric: true }).realEigenvalues,
      );
      expect(estimates[index]).toBeCloseTo(top, 4);
    });
    tf.dispose([operator, start]);
  });

  it('the model’s curvature estimate is positive and at least the curvature along a random direction', () => {
    const x = images(2, 16, 1, 21);
    const labels = Int32Array.from([1, 0]);
    const before = tf.memory().numTensors;
    const top = topHessianEigenvalue(model.classifier, x, labels, { iterations: 15 });
    const random = topHessianEigenvalue(model.classifier, x, labels, { iterations: 1, seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    top.forEach((value, index) => {
      expect(value).toBeGreaterThan(0);
      expect(value).toBeGreaterThanOrEqual((random[index] ?? 0) * 0.99);
    });
    x.dispose();
  });
});
