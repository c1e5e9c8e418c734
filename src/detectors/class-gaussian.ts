/**
 * Class-conditional Gaussians with a tied covariance, the characteristic of the Mahalanobis detector
 * (Lee, Lee, Lee, Shin, "A simple unified framework for detecting out-of-distribution samples and
 * adversarial attacks", NeurIPS 2018, §2). From clean features fᵢ with classes yᵢ:
 *   μ_c = mean of class c,  Σ = (1/N) Σᵢ (fᵢ − μ_yᵢ)(fᵢ − μ_yᵢ)ᵀ,  P = Σ⁺ (pseudo-inverse),
 * and the confidence score of a feature f is M(f) = max_c −(f − μ_c)ᵀ P (f − μ_c) (higher = closer to
 * some class, i.e. more in-distribution). The authors' code uses sklearn's EmpiricalCovariance (the
 * 1/N estimate) and a pseudo-inverse; so does this file (ml-matrix for the linear algebra).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Matrix, pseudoInverse } from 'ml-matrix';
import { MedrobustError } from '../core/errors.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';

export interface ClassGaussian {
  /** [classes × d] class means. */
  readonly means: Float64Array;
  /** [d × d] precision (pseudo-inverse of the tied covariance). */
  readonly precision: Float64Array;
  readonly classes: number;
  readonly dimensions: number;
}

export function fitClassGaussian(
  features: FeatureMatrix,
  labels: ArrayLike<number>,
  classes: number,
): ClassGaussian {
  const { rows, columns: d, values } = features;
  if (labels.length !== rows) {
    throw new MedrobustError(
      'invalid-argument',
      `Mahalanobis: ${labels.length} labels for ${rows} features`,
      {
        hint: 'give one class per reference image',
      },
    );
  }
  const counts = new Float64Array(classes);
  const means = new Float64Array(classes * d);
  for (let i = 0; i < rows; i++) {
    const c = labels[i] ?? 0;
    counts[c] = (counts[c] ?? 0) + 1;
    for (let j = 0; j < d; j++) means[c * d + j] = (means[c * d + j] ?? 0) + (values[i * d + j] ?? 0);
  }
  for (let c = 0; c < classes; c++) {
    const count = counts[c] ?? 0;
    if (count === 0) {
      throw new MedrobustError('invalid-argument', `Mahalanobis: class ${c} has no reference images`, {
        hint: 'the reference set (training images) must contain every class',
      });
    }
    for (let j = 0; j < d; j++) means[c * d + j] = (means[c * d + j] ?? 0) / count;
  }
  const centred = new Matrix(rows, d);
  for (let i = 0; i < rows; i++) {
    const c = labels[i] ?? 0;
    for (let j = 0; j < d; j++) centred.set(i, j, (values[i * d + j] ?? 0) - (means[c * d + j] ?? 0));
  }
  const covariance = centred.transpose().mmul(centred).div(rows);
  const precision = Float64Array.from(pseudoInverse(covariance).to1DArray());
  return { means, precision, classes, dimensions: d };
}

/** Squared Mahalanobis distance of each query to each class mean: [queries × classes]. */
export function mahalanobisDistances(gaussian: ClassGaussian, queries: FeatureMatrix): Float64Array {
  const { means, precision, classes, dimensions: d } = gaussian;
  if (queries.columns !== d) {
    throw new MedrobustError(
      'invalid-argument',
      `Mahalanobis: fitted on ${d} dimensions, queries have ${queries.columns}`,
      { hint: 'take queries from the tap the detector was fitted on' },
    );
  }
  const result = new Float64Array(queries.rows * classes);
  const difference = new Float64Array(d);
  for (let q = 0; q < queries.rows; q++) {
    for (let c = 0; c < classes; c++) {
      for (let j = 0; j < d; j++) difference[j] = (queries.values[q * d + j] ?? 0) - (means[c * d + j] ?? 0);
      let total = 0;
      for (let a = 0; a < d; a++) {
        let row = 0;
        for (let b = 0; b < d; b++) row += (precision[a * d + b] ?? 0) * (difference[b] ?? 0);
        total += (difference[a] ?? 0) * row;
      }
      result[q * classes + c] = total;
    }
  }
  return result;
}

/** Lee et al.'s confidence score max_c −D²_c per query. */
export function mahalanobisConfidence(gaussian: ClassGaussian, queries: FeatureMatrix): Float64Array {
  const distances = mahalanobisDistances(gaussian, queries);
  const { classes } = gaussian;
  return Float64Array.from({ length: queries.rows }, (_, q) => {
    let best = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) best = Math.max(best, -(distances[q * classes + c] ?? 0));
    return best;
  });
}

/** float32 copies of a Gaussian's means and precision, made once per Gaussian (adaptive attacks use them every step). */
const float32Copies = new WeakMap<ClassGaussian, { means: Float32Array; precision: Float32Array }>();

function float32Of(gaussian: ClassGaussian): { means: Float32Array; precision: Float32Array } {
  let copies = float32Copies.get(gaussian);
  if (copies === undefined) {
    copies = { means: Float32Array.from(gaussian.means), precision: Float32Array.from(gaussian.precision) };
    float32Copies.set(gaussian, copies);
  }
  return copies;
}

/** [b × classes] squared distances as a tfjs expression of [b, d] features (differentiable). */
export function mahalanobisDistancesTensor(gaussian: ClassGaussian, features: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const { classes, dimensions: d } = gaussian;
    const copies = float32Of(gaussian);
    const means = tf.tensor2d(copies.means, [classes, d]);
    const precision = tf.tensor2d(copies.precision, [d, d]);
    // D²_c = fᵀPf − 2 fᵀPμ_c + μ_cᵀPμ_c
    const projected = tf.matMul(features, precision);
    const quadratic = tf.sum(tf.mul(projected, features), 1, true);
    const cross = tf.matMul(projected, means, false, true);
    const meanTerms = tf.reshape(tf.sum(tf.mul(tf.matMul(means, precision), means), 1), [1, classes]);
    return tf.add(tf.sub(quadratic, tf.mul(2, cross)), meanTerms) as tf.Tensor2D;
  });
}
