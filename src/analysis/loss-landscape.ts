/**
 * Loss landscapes around an input (Ma et al. 2021 §4, Fig. 6; SPEC.md §4; claim: medical models
 * have sharp loss surfaces, so a small step goes far).
 * - Surface: CE(x + ε₁·d₁ + ε₂·d₂, y) over a grid of (ε₁, ε₂), clipped to the model's bounds. The
 *   paper's grid is ε₁, ε₂ ∈ {0, 0.5, …, 7.5}/255 with d₁ = sign(∇ₓCE) of the model itself and
 *   d₂ = sign(∇ₓCE) of an independently trained model of the same task (`gradientSignDirection` of
 *   the other model); a random sign direction (`randomSignDirection`) is the control.
 * - Sharpness at radius r: the largest loss increase over the grid points with max(ε₁, ε₂) ≤ r.
 * - The top eigenvalue of the input Hessian of CE by power iteration, each Hessian–vector product
 *   taken by central differences of input gradients, Hv ≈ (∇CE(x + hv) − ∇CE(x − hv)) / 2h, so it
 *   works on every engine (no second-order autodiff). For ReLU networks the input Hessian is positive
 *   semi-definite almost everywhere (only the softmax is curved), so this is the largest curvature.
 *
 * Input contract: NHWC float32 images within the model's bounds; labels are class indices.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import type { Classifier } from '../engine/contracts.ts';
import { crossEntropy, crossEntropyGradient } from './objectives.ts';

function gradientFor(model: Classifier, x: tf.Tensor4D, labels: Int32Array): tf.Tensor4D {
  const target = tf.tensor1d(labels, 'int32');
  const gradient = crossEntropyGradient(model, x, target);
  target.dispose();
  return gradient;
}

/** sign(∇ₓ CE(model(x), y)): the FGSM direction of `model` (pass another model for the paper's second axis). */
export function gradientSignDirection(model: Classifier, x: tf.Tensor4D, labels: Int32Array): tf.Tensor4D {
  const gradient = gradientFor(model, x, labels);
  const direction = tf.sign(gradient) as tf.Tensor4D;
  gradient.dispose();
  return direction;
}

/** A uniformly random ±1 direction of the given shape. */
export function randomSignDirection(
  shape: readonly [number, number, number, number],
  seed: number,
): tf.Tensor4D {
  const random = new Random(seed);
  const size = shape.reduce((product, value) => product * value, 1);
  return tf.tensor4d(
    Float32Array.from({ length: size }, () => (random.uniform() < 0.5 ? -1 : 1)),
    shape as [number, number, number, number],
  );
}

/** The paper's grid: 0, 0.5, …, 7.5 (in units of 1/255). */
export const paperGrid: readonly number[] = Object.freeze(
  Array.from({ length: 16 }, (_, index) => index * 0.5),
);

export interface LossSurface {
  /** [images, grid, grid]: losses[n][i][j] at ε₁ = grid[i]/255, ε₂ = grid[j]/255. */
  readonly losses: Float32Array;
  readonly images: number;
  /** In units of 1/255. */
  readonly grid: readonly number[];
}

/** CE over the grid for every image, clipped to the bounds; `batch` grid points per forward pass. */
export function lossSurface(
  model: Classifier,
  x: tf.Tensor4D,
  labels: Int32Array,
  first: tf.Tensor4D,
  second: tf.Tensor4D,
  grid: readonly number[] = paperGrid,
  batch = 256,
): LossSurface {
  const count = x.shape[0];
  if (
    labels.length !== count ||
    first.shape.join() !== x.shape.join() ||
    second.shape.join() !== x.shape.join()
  ) {
    throw new MedrobustError(
      'invalid-argument',
      'lossSurface: images, labels and directions must match in shape',
      {
        hint: 'pass one label per image and two direction tensors of the images’ shape',
      },
    );
  }
  const { lower, upper } = model.info.bounds;
  const size = grid.length;
  const losses = new Float32Array(count * size * size);
  const points = Array.from({ length: size * size }, (_, index) => [
    (grid[Math.floor(index / size)] ?? 0) / 255,
    (grid[index % size] ?? 0) / 255,
  ]);
  for (let image = 0; image < count; image++) {
    for (let start = 0; start < points.length; start += batch) {
      const chunk = points.slice(start, start + batch);
      const values = tf.tidy(() => {
        const base = tf.slice(x, [image, 0, 0, 0], [1, -1, -1, -1]);
        const a = tf.slice(first, [image, 0, 0, 0], [1, -1, -1, -1]);
        const b = tf.slice(second, [image, 0, 0, 0], [1, -1, -1, -1]);
        const e1 = tf.tensor4d(
          chunk.map(([one]) => one ?? 0),
          [chunk.length, 1, 1, 1],
        );
        const e2 = tf.tensor4d(
          chunk.map(([, two]) => two ?? 0),
          [chunk.length, 1, 1, 1],
        );
        const moved = tf.clipByValue(
          tf.add(base, tf.add(tf.mul(e1, a), tf.mul(e2, b))),
          lower,
          upper,
        ) as tf.Tensor4D;
        const { logits } = model.predict(moved);
        return crossEntropy(logits, tf.fill([chunk.length], labels[image] ?? 0, 'int32') as tf.Tensor1D);
      });
      losses.set(values.dataSync(), image * size * size + start);
      values.dispose();
    }
  }
  return { losses, images: count, grid };
}

/** The largest loss increase over grid points with max(ε₁, ε₂) ≤ radius (units of 1/255), per image. */
export function sharpness(surface: LossSurface, radius: number): Float32Array {
  const size = surface.grid.length;
  return Float32Array.from({ length: surface.images }, (_, image) => {
    const offset = image * size * size;
    const origin = surface.losses[offset] ?? 0;
    let largest = 0;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        if (Math.max(surface.grid[i] ?? 0, surface.grid[j] ?? 0) > radius + 1e-9) continue;
        largest = Math.max(largest, (surface.losses[offset + i * size + j] ?? 0) - origin);
      }
    }
    return largest;
  });
}

/** Per-sample L2 norms of an NHWC tensor → [n, 1, 1, 1]. */
function sampleNorms(v: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(v), [1, 2, 3], true)) as tf.Tensor4D);
}

/**
 * Power iteration run per sample: `product(v)` applies each sample's symmetric operator to its own
 * slice of v ([n, …] → [n, …]); returns each sample's last Rayleigh quotient vᵀAv, which converges to
 * its eigenvalue of largest magnitude.
 */
export function powerIteration(
  product: (vector: tf.Tensor4D) => tf.Tensor4D,
  start: tf.Tensor4D,
  iterations: number,
): Float32Array {
  let vector = tf.tidy(() => tf.div(start, tf.maximum(sampleNorms(start), 1e-30)) as tf.Tensor4D);
  let eigenvalue = tf.zeros([start.shape[0]]) as tf.Tensor1D;
  for (let iteration = 0; iteration < iterations; iteration++) {
    const applied = product(vector);
    const next = tf.tidy(() => ({
      // Rayleigh quotient vᵀAv (v has unit norm) and the next unit vector.
      quotient: tf.sum(tf.mul(applied, vector), [1, 2, 3]) as tf.Tensor1D,
      vector: tf.div(applied, tf.maximum(sampleNorms(applied), 1e-30)) as tf.Tensor4D,
    }));
    tf.dispose([applied, vector, eigenvalue]);
    vector = next.vector;
    eigenvalue = next.quotient;
  }
  const values = Float32Array.from(eigenvalue.dataSync());
  tf.dispose([vector, eigenvalue]);
  return values;
}

/**
 * Top eigenvalue of each image's input Hessian of CE, by power iteration (`iterations` steps from a
 * seeded random start) on finite-difference Hessian–vector products with step `step`. ReLU and
 * max-pool kinks within `step` of x make the finite differences noisy: treat the value as an
 * estimate of local curvature at that scale.
 */
export function topHessianEigenvalue(
  model: Classifier,
  x: tf.Tensor4D,
  labels: Int32Array,
  options: { readonly iterations?: number; readonly step?: number; readonly seed?: number } = {},
): Float32Array {
  const iterations = options.iterations ?? 20;
  const step = options.step ?? 1e-3;
  const random = new Random(options.seed ?? 0);
  const start = tf.tensor(random.normalArray(x.size, 1), x.shape) as tf.Tensor4D;
  const hessianVectorProduct = (vector: tf.Tensor4D): tf.Tensor4D => {
    // Unclipped: the Hessian is a property of the function, not of the valid image range.
    const plus = tf.tidy(() => tf.add(x, tf.mul(vector, step)) as tf.Tensor4D);
    const minus = tf.tidy(() => tf.sub(x, tf.mul(vector, step)) as tf.Tensor4D);
    const up = gradientFor(model, plus, labels);
    const down = gradientFor(model, minus, labels);
    const product = tf.tidy(() => tf.div(tf.sub(up, down), 2 * step) as tf.Tensor4D);
    tf.dispose([plus, minus, up, down]);
    return product;
  };
  const values = powerIteration(hessianVectorProduct, start, iterations);
  start.dispose();
  return values;
}
