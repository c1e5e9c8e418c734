/**
 * Norm geometry, written once for every attack (DESIGN.md §5 rule 3): the steepest-ascent direction
 * of a gradient, the projection onto an ε-ball around the clean image, a random start inside the
 * ball, and per-sample distances. Tensors are NHWC image batches; every function returns a new tensor
 * and leaves its arguments alone.
 *
 * - L∞: direction sign(g); projection clips x − x₀ to [−ε, ε]; random start uniform in the cube.
 * - L2: direction g/‖g‖₂ per sample; projection rescales x − x₀ to norm ≤ ε; random start a
 *   Gaussian direction scaled to a uniform radius in [0, ε] (torchattacks' PGDL2 convention).
 */
import * as tf from '@tensorflow/tfjs-core';

export const norms = ['linf', 'l2'] as const;
export type Norm = (typeof norms)[number];

/** Guards divisions by a zero norm (a zero gradient gives a zero step, not NaN). */
const tiny = 1e-12;

function perSampleShape(x: tf.Tensor): number[] {
  return [x.shape[0] ?? 0, ...x.shape.slice(1).map(() => 1)];
}

/** ‖v‖₂ per sample, shape [batch]. */
export function l2Norms(v: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.reshape(v, [v.shape[0] ?? 0, -1])), 1)) as tf.Tensor1D);
}

/** ‖v‖∞ per sample, shape [batch]. */
export function linfNorms(v: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.max(tf.abs(tf.reshape(v, [v.shape[0] ?? 0, -1])), 1) as tf.Tensor1D);
}

export function norms1d(norm: Norm, v: tf.Tensor): tf.Tensor1D {
  return norm === 'linf' ? linfNorms(v) : l2Norms(v);
}

/** The unit-norm steepest-ascent direction for a gradient (its dual-norm direction). */
export function ascentDirection(norm: Norm, gradient: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf') return tf.sign(gradient);
    const length = tf.reshape(l2Norms(gradient), perSampleShape(gradient));
    return tf.div(gradient, tf.add(length, tiny));
  });
}

/**
 * x projected onto the ε-ball around x₀. `epsilon` is one value or one per sample ([batch]).
 */
export function projectToBall(
  norm: Norm,
  x: tf.Tensor4D,
  clean: tf.Tensor4D,
  epsilon: number | tf.Tensor1D,
): tf.Tensor4D {
  return tf.tidy(() => {
    const delta = tf.sub(x, clean);
    const radius = typeof epsilon === 'number' ? tf.scalar(epsilon) : tf.reshape(epsilon, perSampleShape(x));
    if (norm === 'linf') return tf.add(clean, tf.minimum(tf.maximum(delta, tf.neg(radius)), radius));
    const length = tf.reshape(l2Norms(delta), perSampleShape(x));
    const factor = tf.minimum(1, tf.div(radius, tf.add(length, tiny)));
    return tf.add(clean, tf.mul(delta, factor));
  });
}

/** A random point of the ε-ball around x₀ (not yet clipped to the image bounds). */
export function randomInBall(norm: Norm, clean: tf.Tensor4D, epsilon: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf')
      return tf.add(clean, tf.randomUniform(clean.shape, -epsilon, epsilon, 'float32', seed));
    const direction = ascentDirection('l2', tf.randomNormal(clean.shape, 0, 1, 'float32', seed));
    const radius = tf.randomUniform(perSampleShape(clean), 0, epsilon, 'float32', seed + 1);
    return tf.add(clean, tf.mul(direction, radius));
  });
}
