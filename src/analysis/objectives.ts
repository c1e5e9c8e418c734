/**
 * The objectives the analyses differentiate (the attacks layer has its own; analyses may not import
 * it). Each is written inside its own tf.tidy, as every objective: intermediates recorded on the
 * gradient tape are freed.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../engine/contracts.ts';

/** Per-sample cross-entropy of the logits against fixed class indices. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(
    () => tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labels, logits.shape[1])), 1)) as tf.Tensor1D,
  );
}

/** ∇ₓ CE(model(x), labels), each sample's own gradient. */
export function crossEntropyGradient(model: Classifier, x: tf.Tensor4D, labels: tf.Tensor1D): tf.Tensor4D {
  const { value, grad } = model.valueAndGrad(x, ({ logits }) => crossEntropy(logits, labels));
  value.dispose();
  return grad;
}
