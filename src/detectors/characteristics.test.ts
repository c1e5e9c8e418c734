/**
 * The hand-written characteristics against reference values:
 * - KDE: sklearn 1.2.1 `KernelDensity(kernel='gaussian', bandwidth=h).fit(P).score_samples(Q)`;
 * - LID MLE: the authors' `mle_batch` (lid_adversarial_subspace_detection, util.py: cdist, sort, drop
 *   the nearest, −k/Σlog(v/v_k)) run with numpy 1.24 on the points below;
 * - LID TLE: scikit-dimension's `TLE._idtle` (Amsaleg et al. 2019) run with numpy 1.24 on the k
 *   neighbours `mle_batch` chooses;
 * - Mahalanobis: class means and sklearn `EmpiricalCovariance().fit(class-centred features).precision_`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { activate } from '../../test/support/engines.ts';
import {
  fitClassGaussian,
  mahalanobisConfidence,
  mahalanobisDistances,
  mahalanobisDistancesTensor,
} from './class-gaussian.ts';
import { featureMatrix } from './classifiers/feature-matrix.ts';
import { gaussianLogDensity, gaussianLogDensityTensor } from './kernel-density.ts';
import { lidAgainst, mleLid, tleLid } from './local-intrinsic-dimensionality.ts';

beforeAll(async () => {
  await activate('cpu');
});

const close = (actual: ArrayLike<number>, expected: readonly number[], digits = 10) => {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, index) => {
    expect(actual[index]).toBeCloseTo(value, digits);
  });
};

describe('Gaussian kernel density', () => {
  const points = featureMatrix([
    [0, 0],
    [1, 0],
    [0, 2],
    [1.5, 1],
  ]);
  const queries = featureMatrix([
    [0.5, 0.5],
    [3, -1],
    [0, 0],
  ]);
  it('equals sklearn KernelDensity.score_samples (normalising constants included)', () => {
    close(
      gaussianLogDensity(points, queries, 1),
      [-2.3573366089470533, -5.242455489477152, -2.5621137467818222],
    );
    close(
      gaussianLogDensity(points, queries, 0.5),
      [-2.030755962754344, -11.758945377018486, -1.7093306663141776],
    );
  });
  it('has a differentiable tfjs twin with the same values', () => {
    const before = tf.memory().numTensors;
    const value = tf.tidy(() =>
      gaussianLogDensityTensor(
        tf.tensor2d(Float32Array.from(points.values), [4, 2]),
        tf.tensor2d(Float32Array.from(queries.values), [3, 2]),
        0.5,
      ).arraySync(),
    );
    close(value, [-2.030755962754344, -11.758945377018486, -1.7093306663141776], 4);
    expect(tf.memory().numTensors).toBe(before);
  });
  it('rejects a bad bandwidth and mismatched dimensions', () => {
    expect(() => gaussianLogDensity(points, queries, 0)).toThrow(/bandwidth must be positive/);
    expect(() => gaussianLogDensity(points, featureMatrix([[1, 2, 3]]), 1)).toThrow(
      /2 dimensions, queries 3/,
    );
  });
});

describe('local intrinsic dimensionality', () => {
  const reference = featureMatrix([
    [0.55, 0.71, 0.29],
    [0.51, 0.89, 0.9],
    [0.13, 0.21, 0.05],
    [0.44, 0.03, 0.46],
    [0.65, 0.28, 0.68],
    [0.59, 0.02, 0.56],
    [0.26, 0.42, 0.28],
    [0.69, 0.44, 0.16],
  ]);
  const queries = featureMatrix([
    [0.54, 0.78, 0.31],
    [0.22, 0.39, 0.94],
  ]);
  it('MLE by hand: distances 1, 2, 4 give 1/ln 2', () => {
    expect(mleLid([1, 2, 4])).toBeCloseTo(1 / Math.LN2, 12);
    expect(mleLid([0, 0, 0])).toBe(0);
  });
  it("MLE equals the authors' mle_batch (clean batch against itself, and queries)", () => {
    close(
      lidAgainst(reference, reference, 4, 'mle'),
      [
        3.404668902469772, 5.755844427205042, 3.666244896752356, 2.523675653372014, 3.597393829638253,
        2.1225929388898446, 8.159734627026822, 4.929127503958848,
      ],
    );
    close(lidAgainst(reference, queries, 4, 'mle'), [4.828128136735854, 20.89226654410413]);
  });
  it("TLE equals scikit-dimension's TLE on the same neighbours", () => {
    close(
      lidAgainst(reference, reference, 4, 'tle'),
      [
        3.804438799653239, 3.8602361476213933, 3.5576968238433606, 2.961985046471974, 3.598932536562646,
        2.786756242152966, 7.490630625250232, 5.253878916855959,
      ],
    );
    close(lidAgainst(reference, queries, 4, 'tle'), [4.962278100792054, 13.634178805519277]);
  });
  it('estimates the dimension of points filling a plane inside 6-d space', () => {
    const rows: number[][] = [];
    for (let a = 0; a < 30; a++) {
      for (let b = 0; b < 30; b++) {
        const u = (a + 0.37 * ((b * 7) % 5)) / 30;
        const v = (b + 0.41 * ((a * 3) % 7)) / 30;
        rows.push([u, v, u + v, u - v, 0.5 * u, 2 * v]);
      }
    }
    const plane = featureMatrix(rows);
    const centre = featureMatrix([rows[15 * 30 + 15] as number[]]);
    for (const estimator of ['mle', 'tle'] as const) {
      const estimate = lidAgainst(plane, centre, 20, estimator)[0] ?? 0;
      expect(estimate).toBeGreaterThan(1.7);
      expect(estimate).toBeLessThan(2.4);
    }
  });
  it('TLE degenerates to 0 without spread and rejects bad input', () => {
    expect(tleLid([0, 0], [0, 0, 0, 0])).toBe(0);
    expect(() => lidAgainst(featureMatrix([[1, 2, 3]]), queries, 4, 'mle')).toThrow(
      /at least 2 reference points/,
    );
    expect(() => lidAgainst(reference, queries, 0, 'mle')).toThrow(/k must be a positive integer/);
  });
});

describe('tied-covariance class Gaussians (Mahalanobis)', () => {
  const features = featureMatrix([
    [0, 1, 2],
    [1, 0, 1],
    [2, 2, 0],
    [0.5, 1.5, 1],
    [3, 1, 2],
    [2, 3, 1],
    [4, 2, 3],
    [3.5, 2.5, 1.5],
  ]);
  const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1]);
  const queries = featureMatrix([
    [1, 1, 1],
    [3, 2, 2],
  ]);
  it('matches sklearn EmpiricalCovariance precision and the distances it implies', () => {
    const gaussian = fitClassGaussian(features, labels, 2);
    close(
      gaussian.precision,
      [
        1.8333333333333335, 0.05555555555555587, 0.11111111111111147, 0.05555555555555589, 2.476719576719577,
        1.2962962962962967, 0.11111111111111147, 1.2962962962962967, 2.5925925925925934,
      ],
      9,
    );
    close(
      mahalanobisDistances(gaussian, queries),
      [0.06560846560846562, 16.629100529100533, 15.714814814814819, 0.06560846560846562],
      9,
    );
    close(mahalanobisConfidence(gaussian, queries), [-0.06560846560846562, -0.06560846560846562], 9);
    const tensor = tf.tidy(() =>
      mahalanobisDistancesTensor(
        gaussian,
        tf.tensor2d(Float32Array.from(queries.values), [2, 3]),
      ).arraySync(),
    );
    close(
      tensor.flat(),
      [0.06560846560846562, 16.629100529100533, 15.714814814814819, 0.06560846560846562],
      3,
    );
  });
  it('names a class without reference images', () => {
    expect(() => fitClassGaussian(features, labels, 3)).toThrow(/class 2 has no reference images/);
  });
});
