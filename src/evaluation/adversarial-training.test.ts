import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { activate, images, tinyModel } from '../../test/support/engines.ts';
import type { Engine } from '../engine/contracts.ts';
import {
  type AdversarialTrainingSettings,
  adversarialBatch,
  catastrophicOverfitting,
  epsilonAt,
  tradesBatch,
} from './adversarial-training.ts';

const pgd: AdversarialTrainingSettings = { method: 'pgd', epsilon: 8 / 255, steps: 3, warmupEpochs: 4 };

describe('epsilonAt', () => {
  it('grows ε linearly over the warm-up, then holds it', () => {
    expect([1, 2, 3, 4, 5, 9].map((epoch) => epsilonAt(pgd, epoch) * 255)).toEqual([2, 4, 6, 8, 8, 8]);
    expect(epsilonAt({ ...pgd, warmupEpochs: 0 }, 1)).toBe(8 / 255);
  });
});

describe('catastrophicOverfitting (Wong et al. 2020 §5.2)', () => {
  const probe = (pgdAccuracy: number, fgsmAccuracy: number) => ({ pgdAccuracy, fgsmAccuracy });
  it('fires when PGD accuracy collapses while FGSM accuracy rises', () => {
    expect(catastrophicOverfitting([probe(0.42, 0.55), probe(0.45, 0.58), probe(0.02, 0.91)])).toBe(true);
  });
  it('does not fire on steady training, a small dip, a single epoch, or when FGSM falls too', () => {
    expect(catastrophicOverfitting([probe(0.3, 0.4), probe(0.35, 0.45), probe(0.38, 0.47)])).toBe(false);
    expect(catastrophicOverfitting([probe(0.45, 0.55), probe(0.4, 0.6)])).toBe(false);
    expect(catastrophicOverfitting([probe(0.02, 0.99)])).toBe(false);
    expect(catastrophicOverfitting([probe(0.45, 0.6), probe(0.05, 0.1)])).toBe(false);
    // Below 0.1 absolute: noise at the bottom of the scale is not a collapse.
    expect(catastrophicOverfitting([probe(0.12, 0.5), probe(0.05, 0.6)])).toBe(false);
  });
});

describe('adversarialBatch', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await activate('wasm');
  });

  it('stays in the ε-ball and [0, 1], is seeded, raises the loss, and leaks no tensors', () => {
    const { classifier } = tinyModel(engine, {
      arch: 'small-cnn',
      classes: 2,
      channels: 1,
      size: 16,
      width: 0.25,
    });
    const x = images(8, 16, 1);
    const labels = Int32Array.from([0, 1, 0, 1, 0, 1, 0, 1]);
    const before = tf.memory().numTensors;
    for (const settings of [pgd, { ...pgd, method: 'fast' as const, steps: 1 }]) {
      const first = adversarialBatch(classifier, x, labels, settings, 4 / 255, 11);
      const again = adversarialBatch(classifier, x, labels, settings, 4 / 255, 11);
      const other = adversarialBatch(classifier, x, labels, settings, 4 / 255, 12);
      const distance = tf.tidy(() => tf.max(tf.abs(tf.sub(first, x))).dataSync()[0] ?? 0);
      expect(distance).toBeLessThanOrEqual(4 / 255 + 1e-6);
      expect(distance).toBeGreaterThan(0);
      expect(tf.tidy(() => tf.min(first).dataSync()[0] ?? -1)).toBeGreaterThanOrEqual(0);
      expect(tf.tidy(() => tf.max(first).dataSync()[0] ?? 2)).toBeLessThanOrEqual(1);
      expect(Array.from(again.dataSync())).toEqual(Array.from(first.dataSync()));
      expect(Array.from(other.dataSync())).not.toEqual(Array.from(first.dataSync()));
      const loss = (input: tf.Tensor4D) =>
        tf.tidy(() => {
          const { logits } = classifier.predict(input);
          return (
            tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), 2), logits).dataSync()[0] ??
            0
          );
        });
      expect(loss(first)).toBeGreaterThan(loss(x));
      tf.dispose([first, again, other]);
    }
    const zero = adversarialBatch(classifier, x, labels, pgd, 0, 1);
    expect(Array.from(zero.dataSync())).toEqual(Array.from(x.dataSync()));
    zero.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('TRADES twins stay in the ε-ball and [0, 1], are seeded, raise KL(p(x) ‖ p(x′)), and leak nothing', () => {
    const { classifier } = tinyModel(engine, {
      arch: 'small-cnn',
      classes: 2,
      channels: 1,
      size: 16,
      width: 0.25,
    });
    const x = images(8, 16, 1);
    const before = tf.memory().numTensors;
    const divergence = (twins: tf.Tensor4D) =>
      tf.tidy(() => {
        const p = tf.logSoftmax(classifier.predict(x).logits);
        const q = tf.logSoftmax(classifier.predict(twins).logits);
        return tf.sum(tf.mul(tf.exp(p), tf.sub(p, q))).dataSync()[0] ?? 0;
      });
    const first = tradesBatch(classifier, x, 8 / 255, 5, 3);
    const again = tradesBatch(classifier, x, 8 / 255, 5, 3);
    const other = tradesBatch(classifier, x, 8 / 255, 5, 4);
    const start = tradesBatch(classifier, x, 8 / 255, 0, 3); // the 0.001·N(0, 1) start alone
    const distance = tf.tidy(() => tf.max(tf.abs(tf.sub(first, x))).dataSync()[0] ?? 0);
    expect(distance).toBeLessThanOrEqual(8 / 255 + 1e-6);
    expect(distance).toBeGreaterThan(4 / 255);
    expect(tf.tidy(() => tf.min(first).dataSync()[0] ?? -1)).toBeGreaterThanOrEqual(0);
    expect(tf.tidy(() => tf.max(first).dataSync()[0] ?? 2)).toBeLessThanOrEqual(1);
    expect(Array.from(again.dataSync())).toEqual(Array.from(first.dataSync()));
    expect(Array.from(other.dataSync())).not.toEqual(Array.from(first.dataSync()));
    expect(divergence(first)).toBeGreaterThan(10 * divergence(start));
    tf.dispose([first, again, other, start]);
    const zero = tradesBatch(classifier, x, 0, 5, 1);
    expect(Array.from(zero.dataSync())).toEqual(Array.from(x.dataSync()));
    zero.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
