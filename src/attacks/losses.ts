/**
 * Per-sample losses an attack maximises, shape [batch], all written on logits (never softmax).
 * Untargeted forms push away from `labels`; targeted forms pull towards `targets`.
 *
 * - cross-entropy: CE(z, y) untargeted, −CE(z, t) targeted.
 * - margin (Carlini & Wagner, "Towards evaluating the robustness of neural networks", S&P 2017,
 *   the f₆ objective; the paper's CW-L∞ with κ = 100): −max(z_y − max_{j≠y} z_j + κ, 0) untargeted,
 *   −max(max_{j≠t} z_j − z_t + κ, 0) targeted.
 * - DLR (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 *   parameter-free attacks", ICML 2020, eq. 6 and 7): −(z_y − max_{j≠y} z_j)/(z_π1 − z_π3)
 *   untargeted (≥ 3 classes), −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2) targeted (≥ 4 classes), π
 *   sorting the logits in decreasing order. With two classes every shift- and scale-invariant
 *   function of the logits is a function of sign(z_y − z_other) alone, so it has no gradient; the
 *   two-class variant (`dlr` on a binary model) divides the margin by the clean image's margin size
 *   |z_y − z_other|(x₀) + 10⁻¹²: a per-image constant, so it keeps DLR's invariance to the logits'
 *   scale at the clean point and its gradient is the margin's. Documented in docs/attacks.md.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../engine/contracts.ts';

export const lossNames = ['cross-entropy', 'margin', 'dlr'] as const;
export type LossName = (typeof lossNames)[number];

export function oneHot(labels: tf.Tensor1D, classes: number): tf.Tensor2D {
  return tf.oneHot(tf.cast(labels, 'int32'), classes) as tf.Tensor2D;
}

/** max_{j≠y} z_j per sample. */
function largestOther(logits: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.max(tf.sub(logits, tf.mul(mask, 1e9)), 1) as tf.Tensor1D;
}

export function crossEntropyLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(
    () => tf.neg(tf.sum(tf.mul(oneHot(labels, logits.shape[1]), tf.logSoftmax(logits)), 1)) as tf.Tensor1D,
  );
}

/** z_y − max_{j≠y} z_j: positive while the model still prefers y. */
export function logitMargin(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const mask = oneHot(labels, logits.shape[1]);
    return tf.sub(tf.sum(tf.mul(logits, mask), 1), largestOther(logits, mask)) as tf.Tensor1D;
  });
}

export interface LossSettings {
  readonly loss: LossName;
  /** κ of the margin loss. */
  readonly confidence: number;
  /** Two-class DLR only: |z_y − z_other| at the clean images, [batch]. */
  readonly cleanMarginScale?: tf.Tensor1D;
}

/**
 * The loss to maximise. `labels` are the labels to move away from (untargeted) and `targets` the
 * classes to reach (targeted, else undefined).
 */
export function attackLoss(
  settings: LossSettings,
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  targets: tf.Tensor1D | undefined,
): tf.Tensor1D {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    switch (settings.loss) {
      case 'cross-entropy':
        return targets === undefined
          ? crossEntropyLoss(logits, labels)
          : tf.neg(crossEntropyLoss(logits, targets));
      case 'margin': {
        const margin =
          targets === undefined ? logitMargin(logits, labels) : tf.neg(logitMargin(logits, targets));
        return tf.neg(tf.relu(tf.add(margin, settings.confidence))) as tf.Tensor1D;
      }
      case 'dlr': {
        if (classes === 2) {
          const margin =
            targets === undefined ? logitMargin(logits, labels) : tf.neg(logitMargin(logits, targets));
          const scale = settings.cleanMarginScale ?? tf.onesLike(margin);
          return tf.neg(tf.div(margin, tf.add(scale, 1e-12))) as tf.Tensor1D;
        }
        // The k-th largest logit, differentiable: topk gives the indices (tfjs has no TopK gradient),
        // a one-hot selection gives the value
        // (Read back and rebuilt so the ranking is a constant of the backward pass.)
        const ranks = Math.min(classes, 4);
        const order = tf.tensor2d(
          tf.topk(logits, ranks).indices.dataSync(),
          [logits.shape[0], ranks],
          'int32',
        );
        const ranked = (k: number) =>
          tf.sum(
            tf.mul(logits, oneHot(tf.squeeze(tf.slice(order, [0, k], [-1, 1]), [1]) as tf.Tensor1D, classes)),
            1,
          );
        const first = ranked(0);
        const third = ranked(2);
        if (targets === undefined) {
          return tf.neg(
            tf.div(logitMargin(logits, labels), tf.add(tf.sub(first, third), 1e-12)),
          ) as tf.Tensor1D;
        }
        if (classes < 4) {
          // Targeted DLR needs a fourth logit; with three classes the untargeted denominator is used.
          const difference = tf.sub(
            tf.sum(tf.mul(logits, oneHot(labels, classes)), 1),
            tf.sum(tf.mul(logits, oneHot(targets, classes)), 1),
          );
          return tf.neg(tf.div(difference, tf.add(tf.sub(first, third), 1e-12))) as tf.Tensor1D;
        }
        const fourth = ranked(3);
        const difference = tf.sub(
          tf.sum(tf.mul(logits, oneHot(labels, classes)), 1),
          tf.sum(tf.mul(logits, oneHot(targets, classes)), 1),
        );
        const denominator = tf.add(tf.sub(first, tf.div(tf.add(third, fourth), 2)), 1e-12);
        return tf.neg(tf.div(difference, denominator)) as tf.Tensor1D;
      }
    }
  });
}

/**
 * What the two-class DLR divides by: |z_y − z_other| at the clean images, [batch]; undefined when
 * the loss does not need it (any other loss, or three or more classes). The caller disposes it.
 */
export function cleanMarginScale(
  loss: LossName,
  model: Classifier,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
): tf.Tensor1D | undefined {
  if (loss !== 'dlr' || model.info.classNames.length !== 2) return undefined;
  return tf.tidy(() => tf.abs(logitMargin(model.predict(x).logits, labels)));
}
