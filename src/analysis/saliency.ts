/**
 * Saliency maps (Ma et al. 2021 §4, claim 2 of SPEC.md: medical images have large regions of high
 * gradient, which is why small perturbations move them so far).
 * - Gradient map, the paper's: |Σ_c ∂CE(x, y)/∂x_c| per pixel, CE against the true class y.
 * - SmoothGrad (Smilkov et al. 2017): the same map averaged over n copies of x + N(0, σ²),
 *   σ = noise × (upper − lower bound); defaults n = 25, noise = 0.15 (the paper's suggested 10–20 %).
 * - Integrated gradients (Sundararajan et al. 2017) of the class probability p_y from a black
 *   baseline x′ (the lower bound): (x − x′) ⊙ ∫₀¹ ∂p_y(x′ + α(x − x′))/∂x dα by the midpoint rule
 *   over `steps` points; its attributions sum to p_y(x) − p_y(x′) (completeness), which is checked.
 *   The map is |Σ_c attribution_c|.
 * Numbers for comparing maps across models and datasets (scale-free, so a medical and a natural
 * model compare): the fraction of pixels whose value is at least `threshold` × the map's maximum,
 * and the normalised spatial entropy H(p)/log(h·w) of p = map / Σ map (1 = spread evenly, 0 = one
 * pixel); the mean value is reported as well, in the image's units.
 *
 * Input contract: NHWC float32 images within the model's bounds; labels are class indices. Maps are
 * returned on the host as [n, h, w] float32.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import type { Classifier } from '../engine/contracts.ts';
import { crossEntropyGradient } from './objectives.ts';

export interface SaliencyMaps {
  /** [count, height, width], row-major. */
  readonly values: Float32Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
}

function checkLabels(x: tf.Tensor4D, labels: Int32Array, classes: number, where: string): void {
  if (labels.length !== x.shape[0]) {
    throw new MedrobustError(
      'invalid-argument',
      `${where}: ${labels.length} labels for ${x.shape[0]} images`,
      {
        hint: 'give one class index per image',
      },
    );
  }
  for (const label of labels) {
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new MedrobustError('invalid-argument', `${where}: class ${label} is outside 0…${classes - 1}`, {
        hint: "labels are class indices of the model's classes",
      });
    }
  }
}

/** The values of a tensor on the host; the tensor is disposed. */
function readAndDispose(tensor: tf.Tensor): Float32Array {
  const values = tensor.dataSync() as Float32Array;
  tensor.dispose();
  return values;
}

/** |Σ_c g_c| of an NHWC gradient → [n, h, w] on the host. */
function channelSumMagnitude(gradient: tf.Tensor4D): Float32Array {
  return readAndDispose(tf.tidy(() => tf.abs(tf.sum(gradient, 3))));
}

function maps(values: Float32Array, x: tf.Tensor4D): SaliencyMaps {
  const [count, height, width] = x.shape;
  return { values, count, height, width };
}

/** The paper's gradient map |Σ_c ∂CE/∂x_c|. */
export function gradientSaliency(model: Classifier, x: tf.Tensor4D, labels: Int32Array): SaliencyMaps {
  checkLabels(x, labels, model.info.classNames.length, 'gradient saliency');
  const target = tf.tensor1d(labels, 'int32');
  const gradient = crossEntropyGradient(model, x, target);
  const values = channelSumMagnitude(gradient);
  tf.dispose([target, gradient]);
  return maps(values, x);
}

export interface SmoothGradOptions {
  readonly samples?: number;
  /** σ as a fraction of the input range. */
  readonly noise?: number;
  readonly seed?: number;
  /** Most images per gradient call: noisy copies are stacked into one batch up to this size. */
  readonly batchLimit?: number;
}

/** How many stacked copies of an n-image batch fit in one call. */
function copiesPerCall(count: number, limit: number): number {
  return Math.max(1, Math.floor(limit / Math.max(1, count)));
}

/** Σ over the leading `copies` blocks of an [copies·n, h, w, c] gradient of |Σ_c g| → [n, h, w]. */
function summedMagnitudes(gradient: tf.Tensor4D, copies: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [total, height, width] = gradient.shape;
    const maps = tf.reshape(tf.abs(tf.sum(gradient, 3)), [copies, total / copies, height, width]);
    return tf.sum(maps, 0) as tf.Tensor3D;
  });
}

/** SmoothGrad: the gradient map averaged over noisy copies of each image. */
export function smoothGradSaliency(
  model: Classifier,
  x: tf.Tensor4D,
  labels: Int32Array,
  options: SmoothGradOptions = {},
): SaliencyMaps {
  const samples = options.samples ?? 25;
  const noise = options.noise ?? 0.15;
  if (!Number.isInteger(samples) || samples < 1 || !(noise >= 0)) {
    throw new MedrobustError('invalid-argument', `SmoothGrad: samples ${samples}, noise ${noise}`, {
      hint: 'samples is a whole number ≥ 1 and noise a fraction of the input range ≥ 0',
    });
  }
  checkLabels(x, labels, model.info.classNames.length, 'SmoothGrad');
  const random = new Random(options.seed ?? 0);
  const { lower, upper } = model.info.bounds;
  const sigma = noise * (upper - lower);
  const perCall = copiesPerCall(x.shape[0], options.batchLimit ?? 256);
  let total = tf.zeros([x.shape[0], x.shape[1], x.shape[2]]) as tf.Tensor3D;
  for (let done = 0; done < samples; done += perCall) {
    const copies = Math.min(perCall, samples - done);
    // Noisy copies may leave the image range, as in SmoothGrad; the model is defined there too.
    const noisy = tf.tidy(() => {
      const tiled = tf.tile(x, [copies, 1, 1, 1]);
      return tf.add(tiled, tf.tensor(random.normalArray(tiled.size, sigma), tiled.shape)) as tf.Tensor4D;
    });
    const target = tf.tensor1d(Array.from({ length: copies }, () => Array.from(labels)).flat(), 'int32');
    const gradient = crossEntropyGradient(model, noisy, target);
    const next = tf.tidy(() => tf.add(total, summedMagnitudes(gradient, copies)) as tf.Tensor3D);
    tf.dispose([noisy, target, gradient, total]);
    total = next;
  }
  const values = readAndDispose(tf.tidy(() => tf.div(total, samples)));
  total.dispose();
  return maps(values, x);
}

export interface IntegratedGradients {
  readonly maps: SaliencyMaps;
  /** Signed attributions [n, h, w, c]. */
  readonly attributions: Float32Array;
  /** Σ attributions per image. */
  readonly totals: Float32Array;
  /** p_y(x) − p_y(baseline) per image: what `totals` approximates. */
  readonly differences: Float32Array;
}

/** Integrated gradients of the class probability from a black baseline. */
export function integratedGradients(
  model: Classifier,
  x: tf.Tensor4D,
  labels: Int32Array,
  options: { readonly steps?: number; readonly batchLimit?: number } = {},
): IntegratedGradients {
  const steps = options.steps ?? 32;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new MedrobustError('invalid-argument', `integrated gradients: steps ${steps}`, {
      hint: 'steps is a whole number ≥ 1 (32–64 are usual)',
    });
  }
  checkLabels(x, labels, model.info.classNames.length, 'integrated gradients');
  const probabilityOf =
    (target: tf.Tensor1D) =>
    ({ logits }: { logits: tf.Tensor2D }) =>
      tf.tidy(() => tf.sum(tf.mul(tf.softmax(logits), tf.oneHot(target, logits.shape[1])), 1) as tf.Tensor1D);
  const baseline = tf.fill(x.shape, model.info.bounds.lower) as tf.Tensor4D;
  const delta = tf.sub(x, baseline) as tf.Tensor4D;
  const perCall = copiesPerCall(x.shape[0], options.batchLimit ?? 256);
  let integral = tf.zerosLike(x) as tf.Tensor4D;
  for (let done = 0; done < steps; done += perCall) {
    const copies = Math.min(perCall, steps - done);
    // The midpoints α = (k + ½)/steps of this call's steps, stacked along the batch.
    const points = tf.tidy(
      () =>
        tf.concat(
          Array.from({ length: copies }, (_, k) => tf.add(baseline, tf.mul(delta, (done + k + 0.5) / steps))),
        ) as tf.Tensor4D,
    );
    const target = tf.tensor1d(Array.from({ length: copies }, () => Array.from(labels)).flat(), 'int32');
    const { value, grad } = model.valueAndGrad(points, probabilityOf(target));
    const next = tf.tidy(() => {
      const [, height, width, channels] = x.shape;
      const summed = tf.sum(tf.reshape(grad, [copies, x.shape[0], height, width, channels]), 0);
      return tf.add(integral, tf.div(summed, steps)) as tf.Tensor4D;
    });
    tf.dispose([points, target, value, grad, integral]);
    integral = next;
  }
  const attributionTensor = tf.mul(delta, integral) as tf.Tensor4D;
  const attributions = attributionTensor.dataSync() as Float32Array;
  const totals = readAndDispose(tf.tidy(() => tf.sum(attributionTensor, [1, 2, 3])));
  const target = tf.tensor1d(labels, 'int32');
  const probability = probabilityOf(target);
  const differences = readAndDispose(
    tf.tidy(() => {
      const atInput = model.predict(x);
      const atBaseline = model.predict(baseline);
      return tf.sub(probability(atInput), probability(atBaseline));
    }),
  );
  const values = channelSumMagnitude(attributionTensor);
  tf.dispose([target, baseline, delta, integral, attributionTensor]);
  return { maps: maps(values, x), attributions, totals, differences };
}

export interface SaliencyStatistics {
  /** Fraction of pixels ≥ threshold × the map's maximum. */
  readonly aboveThreshold: number;
  /** H(map / Σ map) / log(pixels), in [0, 1]. */
  readonly entropy: number;
  readonly mean: number;
  readonly maximum: number;
}

/** Statistics of one map (values [h × w], non-negative). */
export function saliencyStatistics(map: ArrayLike<number>, threshold = 0.5): SaliencyStatistics {
  let maximum = 0;
  let total = 0;
  for (let i = 0; i < map.length; i++) {
    const value = map[i] ?? 0;
    maximum = Math.max(maximum, value);
    total += value;
  }
  let above = 0;
  let entropy = 0;
  for (let i = 0; i < map.length; i++) {
    const value = map[i] ?? 0;
    if (maximum > 0 && value >= threshold * maximum) above++;
    if (total > 0 && value > 0) {
      const p = value / total;
      entropy -= p * Math.log(p);
    }
  }
  return {
    aboveThreshold: maximum > 0 ? above / map.length : 0,
    entropy: map.length > 1 && total > 0 ? entropy / Math.log(map.length) : 0,
    mean: map.length > 0 ? total / map.length : 0,
    maximum,
  };
}

/** The map of image `index`. */
export function mapOf(maps: SaliencyMaps, index: number): Float32Array {
  const size = maps.height * maps.width;
  return maps.values.subarray(index * size, (index + 1) * size);
}
