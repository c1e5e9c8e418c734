/**
 * Grad-CAM (Selvaraju et al. 2017), as Ma et al. 2021 §4 use it: the target is the class
 * probability p_t, the feature map A is the last convolutional block's output (`layer4` for ResNets,
 * the last `block` of the small CNN), α_k = mean over positions of ∂p_t/∂A_k, and the map is
 * ReLU(Σ_k α_k A_k), upsampled bilinearly to the input size.
 *
 * Every model medrobust builds ends in A → global average pool → dense head, so p_t is a function of
 * A through the head alone (engine/dense-head.ts): ∂p_t/∂A is taken in tfjs from one forward pass to
 * the tap, on any engine.
 *
 * Input contract: NHWC float32 images within the model's bounds; targets are class indices. Maps are
 * returned on the host, [n, h, w] at the input size and [n, h′, w′] at the feature map's size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import type { Classifier } from '../engine/contracts.ts';
import { applyDenseHead, type DenseHead, headTensors } from '../engine/dense-head.ts';
import type { SaliencyMaps } from './saliency.ts';

export interface GradCam {
  /** Upsampled to the input size. */
  readonly maps: SaliencyMaps;
  /** At the feature map's resolution. */
  readonly coarse: SaliencyMaps;
  /** The tap explained. */
  readonly tap: string;
  /** p_t per image. */
  readonly probabilities: Float32Array;
}

export function poolingHeadOf(model: Classifier): DenseHead {
  const head = model.poolingHead?.();
  if (head === undefined) {
    throw new MedrobustError(
      'unsupported',
      `Grad-CAM: ${model.info.name} does not end in a global average pool and a dense head`,
      {
        hint: 'Grad-CAM needs the last convolutional block, pooled, then dense layers (every medrobust architecture)',
      },
    );
  }
  return head;
}

export function gradCam(model: Classifier, x: tf.Tensor4D, targets: Int32Array): GradCam {
  const classes = model.info.classNames.length;
  if (targets.length !== x.shape[0] || targets.some((t) => !Number.isInteger(t) || t < 0 || t >= classes)) {
    throw new MedrobustError(
      'invalid-argument',
      `Grad-CAM: targets must be ${x.shape[0]} class indices in 0…${classes - 1}`,
      {
        hint: 'pass the true or the predicted class of each image',
      },
    );
  }
  const head = poolingHeadOf(model);
  const outputs = model.predict(x, [head.tap]);
  const activation = outputs.taps.get(head.tap) as tf.Tensor4D;
  const [count, height, width] = x.shape;
  const [, mapHeight = 0, mapWidth = 0] = activation.shape;
  const result = tf.tidy(() => {
    const tensors = headTensors(head);
    const target = tf.oneHot(tf.tensor1d(targets, 'int32'), classes);
    const probability = (map: tf.Tensor4D) =>
      tf.sum(tf.mul(tf.softmax(applyDenseHead(head, tensors, map)), target), 1) as tf.Tensor1D;
    const { value, grad } = tf.valueAndGrad((map: tf.Tensor4D) => tf.sum(probability(map)))(activation);
    value.dispose();
    const weights = tf.mean(grad, [1, 2], true);
    const coarse = tf.relu(tf.sum(tf.mul(weights, activation), 3, true)) as tf.Tensor4D;
    const upsampled = tf.image.resizeBilinear(coarse, [height, width]);
    return {
      coarse: coarse.dataSync() as Float32Array,
      upsampled: upsampled.dataSync() as Float32Array,
      probabilities: probability(activation).dataSync() as Float32Array,
    };
  });
  tf.dispose([outputs.logits, activation]);
  return {
    maps: { values: result.upsampled, count, height, width },
    coarse: { values: result.coarse, count, height: mapHeight, width: mapWidth },
    tap: head.tap,
    probabilities: result.probabilities,
  };
}

/**
 * Guided Grad-CAM (Selvaraju et al. 2017): the guided-back-propagation gradient of the class
 * probability, channel by channel, times the upsampled Grad-CAM map; shown as |Σ_c …|. Needs a
 * network that runs in tfjs (`guidedGradient`); `cam` is `gradCam` of the same images and targets.
 */
export function guidedGradCam(
  model: Classifier,
  x: tf.Tensor4D,
  targets: Int32Array,
  cam: GradCam,
): SaliencyMaps {
  const guidedGradient = model.guidedGradient;
  if (guidedGradient === undefined) {
    throw new MedrobustError(
      'unsupported',
      `guided Grad-CAM: ${model.info.name} runs outside tfjs (no guided back-propagation)`,
      {
        hint: 'load the model with --engine wasm or cpu for guided Grad-CAM',
      },
    );
  }
  const classes = model.info.classNames.length;
  const target = tf.tensor1d(targets, 'int32');
  const guided = guidedGradient(x, ({ logits }) =>
    tf.tidy(() => tf.sum(tf.mul(tf.softmax(logits), tf.oneHot(target, classes)), 1) as tf.Tensor1D),
  );
  const [count, height, width] = x.shape;
  const values = tf.tidy(() => {
    const map = tf.tensor4d(cam.maps.values, [count, height, width, 1]);
    return tf.abs(tf.sum(tf.mul(guided, map), 3)).dataSync() as Float32Array;
  });
  tf.dispose([target, guided]);
  return { values: Float32Array.from(values), count, height, width };
}
