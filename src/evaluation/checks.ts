/**
 * Gradient-health checks that become flags in results (DESIGN.md §5 rule 8, after AutoAttack's
 * checks): a robustness number is only as good as the gradients behind it. Each flag has a stable
 * code documented under the same anchor in docs/checks.md.
 */
import * as tf from '@tensorflow/tfjs-core';
import { crossEntropyLoss } from '../attacks/losses.ts';
import type { Classifier } from '../engine/contracts.ts';

export interface Flag {
  readonly code:
    | 'softmax-outputs'
    | 'zero-gradients'
    | 'nan-gradients'
    | 'non-deterministic'
    | 'black-box-beats-white-box'
    | 'apgd-weaker-than-pgd';
  readonly severity: 'warning' | 'error';
  readonly message: string;
}

export function flagDocs(flag: Flag): string {
  return `docs/checks.md#${flag.code}`;
}

/** Checks on one batch of clean images: outputs look like logits, gradients are finite and non-zero, runs repeat. */
export function gradientHealthFlags(model: Classifier, x: tf.Tensor4D, labels: Int32Array): Flag[] {
  const flags: Flag[] = [];
  const count = labels.length;
  const { first, second } = tf.tidy(() => ({
    first: model.predict(x).logits.arraySync(),
    second: model.predict(x).logits.arraySync(),
  }));
  const looksLikeProbabilities = first.every(
    (row) =>
      row.every((value) => value >= 0 && value <= 1) &&
      Math.abs(row.reduce((sum, value) => sum + value, 0) - 1) < 1e-3,
  );
  if (looksLikeProbabilities) {
    flags.push({
      code: 'softmax-outputs',
      severity: 'error',
      message:
        'the model outputs probabilities (rows in [0, 1] summing to 1), not logits: losses saturate and attacks are weakened',
    });
  }
  const differs = first.some((row, i) =>
    row.some((value, j) => Math.abs(value - (second[i]?.[j] ?? Number.NaN)) > 1e-5),
  );
  if (differs) {
    flags.push({
      code: 'non-deterministic',
      severity: 'warning',
      message:
        'the same images gave different logits twice: randomness in the model makes gradient attacks unreliable (use EOT)',
    });
  }
  const labelTensor = tf.tensor1d(labels, 'int32');
  const { value, grad } = model.valueAndGrad(x, ({ logits }) => crossEntropyLoss(logits, labelTensor));
  const perImage = tf.tidy(() => tf.max(tf.abs(tf.reshape(grad, [count, -1])), 1).dataSync());
  tf.dispose([value, grad, labelTensor]);
  const nan = perImage.filter((norm) => Number.isNaN(norm)).length;
  const zero = perImage.filter((norm) => norm === 0).length;
  if (nan > 0) {
    flags.push({
      code: 'nan-gradients',
      severity: 'error',
      message: `${nan} of ${count} probe images have NaN loss gradients`,
    });
  }
  if (zero > 0) {
    flags.push({
      code: 'zero-gradients',
      severity: 'warning',
      message: `${zero} of ${count} probe images have an all-zero loss gradient: gradient attacks cannot move them (saturated softmax or gradient masking)`,
    });
  }
  return flags;
}
