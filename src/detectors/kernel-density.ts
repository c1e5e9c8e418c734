/**
 * Gaussian kernel density, the characteristic of the KD detector (Feinman, Curtin, Shintre, Gardner,
 * "Detecting adversarial samples from artifacts", arXiv 2017; used by Ma et al. 2021 §5). The log
 * density of a query q under n points pᵢ in d dimensions with bandwidth h is
 *   log p(q) = logsumexp_i(−‖q − pᵢ‖² / 2h²) − log n − (d/2)·log(2πh²),
 * sklearn's `KernelDensity(kernel='gaussian', bandwidth=h).score_samples`. The constants matter: the
 * detector compares densities under different classes, whose point counts differ.
 * Written by hand (no maintained npm package computes it); float64, log-sum-exp stabilised.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';

function checkBandwidth(bandwidth: number): void {
  if (!(bandwidth > 0) || !Number.isFinite(bandwidth)) {
    throw new MedrobustError(
      'invalid-argument',
      `kernel density: bandwidth must be positive, got ${bandwidth}`,
      {
        hint: 'the paper uses bandwidth 1.0 on its deep features',
      },
    );
  }
}

/** The normalising constant −log n − (d/2)·log(2πh²). */
export function gaussianLogNormaliser(points: number, dimensions: number, bandwidth: number): number {
  return -Math.log(points) - (dimensions / 2) * Math.log(2 * Math.PI * bandwidth * bandwidth);
}

/** log p(q) for every row q of `queries` under the points' Gaussian KDE. */
export function gaussianLogDensity(
  points: FeatureMatrix,
  queries: FeatureMatrix,
  bandwidth: number,
): Float64Array {
  checkBandwidth(bandwidth);
  if (points.rows === 0) {
    throw new MedrobustError('invalid-argument', 'kernel density: no points to estimate a density from', {
      hint: 'every class needs at least one reference image',
    });
  }
  if (points.columns !== queries.columns) {
    throw new MedrobustError(
      'invalid-argument',
      `kernel density: points have ${points.columns} dimensions, queries ${queries.columns}`,
      { hint: 'take points and queries from the same tap' },
    );
  }
  const d = points.columns;
  const scale = 1 / (2 * bandwidth * bandwidth);
  const constant = gaussianLogNormaliser(points.rows, d, bandwidth);
  const exponents = new Float64Array(points.rows);
  const result = new Float64Array(queries.rows);
  for (let q = 0; q < queries.rows; q++) {
    const qOffset = q * d;
    let largest = Number.NEGATIVE_INFINITY;
    for (let p = 0; p < points.rows; p++) {
      const pOffset = p * d;
      let squared = 0;
      for (let j = 0; j < d; j++) {
        const difference = (queries.values[qOffset + j] ?? 0) - (points.values[pOffset + j] ?? 0);
        squared += difference * difference;
      }
      const exponent = -squared * scale;
      exponents[p] = exponent;
      if (exponent > largest) largest = exponent;
    }
    let sum = 0;
    for (let p = 0; p < points.rows; p++) sum += Math.exp((exponents[p] ?? 0) - largest);
    result[q] = largest + Math.log(sum) + constant;
  }
  return result;
}

/** The same log density as a tfjs expression of [b, d] queries (differentiable; for adaptive attacks). */
export function gaussianLogDensityTensor(
  points: tf.Tensor2D,
  queries: tf.Tensor2D,
  bandwidth: number,
): tf.Tensor1D {
  checkBandwidth(bandwidth);
  return tf.tidy(() => {
    const constant = gaussianLogNormaliser(points.shape[0], points.shape[1], bandwidth);
    const squared = tf.add(
      tf.sub(tf.sum(tf.square(queries), 1, true), tf.mul(2, tf.matMul(queries, points, false, true))),
      tf.reshape(tf.sum(tf.square(points), 1), [1, -1]),
    );
    const exponents = tf.mul(tf.relu(squared), -1 / (2 * bandwidth * bandwidth));
    return tf.add(tf.logSumExp(exponents, 1), constant) as tf.Tensor1D;
  });
}
