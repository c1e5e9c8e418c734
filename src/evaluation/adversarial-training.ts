/**
 * Adversarial training: each training batch is replaced by adversarial images of the current model
 * before the step.
 *
 *   pgd   PGD adversarial training (Madry, Makelov, Schmidt, Tsipras, Vladu, "Towards deep learning
 *         models resistant to adversarial attacks", ICLR 2018): L∞ PGD with a uniform random start,
 *         `steps` steps of 2.5·ε/steps, on the true label.
 *   fast  fast FGSM training with a random start (Wong, Rice, Kolter, "Fast is better than free:
 *         revisiting adversarial training", ICLR 2020): one step of 1.25·ε from a uniform point of the
 *         ε-ball, projected back onto it.
 *   trades TRADES (Zhang, Yu, Jiao, Xing, El Ghaoui, Jordan, "Theoretically principled trade-off
 *         between robustness and accuracy", ICML 2019): the loss is CE(f(x), y) + β·KL(p(x) ‖ p(x′)),
 *         with x′ found by `steps` sign-gradient steps of ε/4 on that KL from x + 0.001·N(0, 1)
 *         (the reference takes 10 steps of 0.007 at ε = 0.031, β = 6); the clean batch is kept and
 *         x′ goes to the engine's training step as the batch's TRADES twins.
 *
 * ε may warm up linearly over the first epochs. Fast training can overfit catastrophically: its
 * robustness to multi-step attacks collapses within an epoch while its FGSM accuracy rises (Wong et
 * al. §5.2). `overfittingProbe` measures PGD and FGSM accuracy on a fixed held-out batch after each
 * epoch and `catastrophicOverfitting` says when the collapse has happened.
 *
 * The adversarial images are generated with the model in inference mode (batch norm on running
 * statistics), as the reference implementations of both papers do, then the step is a normal
 * training step on them. Every random start is seeded by (seed, epoch, batch), so a resumed run
 * draws the same perturbations as an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getAttack } from '../attacks/registry.ts';
import { Random } from '../core/random.ts';
import type { ImageSet } from '../data/image-set.ts';
import type { Classifier, Outputs } from '../engine/contracts.ts';
import type { AdversarialInput } from '../models/train-loop.ts';

export const adversarialMethods = ['pgd', 'fast', 'trades'] as const;
export type AdversarialMethod = (typeof adversarialMethods)[number];

export interface AdversarialTrainingSettings {
  readonly method: AdversarialMethod;
  /** L∞ radius in the [0, 1] image range. */
  readonly epsilon: number;
  /** PGD steps (pgd; fast always takes one). */
  readonly steps: number;
  /** Epochs over which ε grows linearly from ε/warmup to ε (0: the full ε from the start). */
  readonly warmupEpochs: number;
  /** TRADES' weight of the robust term (default 6, the paper's CIFAR-10 setting). */
  readonly beta?: number;
}

/** Madry et al. take 7 steps at CIFAR scale; Wong et al. one step of 1.25 ε; TRADES 10. */
export const defaultSteps: Record<AdversarialMethod, number> = { pgd: 7, fast: 1, trades: 10 };

/** TRADES' β (Zhang et al. 2019, CIFAR-10). */
export const defaultTradesBeta = 6;

/** ε of an epoch (1-based) under the linear warm-up. */
export function epsilonAt(settings: AdversarialTrainingSettings, epoch: number): number {
  if (settings.warmupEpochs <= 0) return settings.epsilon;
  return settings.epsilon * Math.min(1, epoch / settings.warmupEpochs);
}

/** The attack options of a method at an ε. */
function attackOptions(settings: AdversarialTrainingSettings, epsilon: number) {
  return settings.method === 'fast'
    ? { epsilon, steps: 1, relativeStepSize: 1.25, randomStart: true, label: 'truth' as const }
    : {
        epsilon,
        steps: settings.steps,
        relativeStepSize: 2.5 / settings.steps,
        randomStart: true,
        label: 'truth' as const,
      };
}

/** Adversarial images of a training batch for the current weights (caller disposes). */
export function adversarialBatch(
  classifier: Classifier,
  x: tf.Tensor4D,
  labels: Int32Array,
  settings: AdversarialTrainingSettings,
  epsilon: number,
  seed: number,
): tf.Tensor4D {
  if (epsilon <= 0) return x.clone();
  const result = getAttack('pgd').run(
    classifier,
    { x, labels },
    undefined,
    attackOptions(settings, epsilon),
    {
      seed,
    },
  );
  return result.adversarial;
}

/**
 * TRADES' inner maximisation: x′ in the ε-ball around x (and the model's bounds) maximising
 * KL(p(x) ‖ p(x′)), by `steps` signed-gradient steps of ε/4 from x + 0.001·N(0, 1) (seeded). The
 * model is in inference mode; p(x) is held fixed. Caller disposes the result.
 */
export function tradesBatch(
  classifier: Classifier,
  x: tf.Tensor4D,
  epsilon: number,
  steps: number,
  seed: number,
): tf.Tensor4D {
  if (epsilon <= 0) return x.clone();
  const { lower, upper } = classifier.info.bounds;
  const stepSize = epsilon / 4;
  const logNatural = tf.tidy(() => tf.logSoftmax(classifier.predict(x).logits));
  const noise = new Random(seed).normalArray(x.size, 0.001);
  let current = tf.tidy(
    () => tf.clipByValue(tf.add(x, tf.tensor(noise, x.shape)), lower, upper) as tf.Tensor4D,
  );
  const objective = (outputs: Outputs): tf.Tensor1D =>
    tf.sum(tf.mul(tf.exp(logNatural), tf.sub(logNatural, tf.logSoftmax(outputs.logits))), 1);
  try {
    for (let step = 0; step < steps; step++) {
      const next = tf.tidy(() => {
        const { value, grad } = classifier.valueAndGrad(current, objective);
        value.dispose();
        const moved = tf.add(current, tf.mul(tf.sign(grad), stepSize));
        const projected = tf.minimum(tf.maximum(moved, tf.sub(x, epsilon)), tf.add(x, epsilon));
        return tf.clipByValue(projected, lower, upper) as tf.Tensor4D;
      });
      current.dispose();
      current = next;
    }
    return current;
  } finally {
    logNatural.dispose();
  }
}

/**
 * The batch hook of `trainEpoch` for a method at an ε: PGD and fast training replace the batch by
 * its adversarial images; TRADES keeps it and adds the twins. `seedOf` gives each batch its seed.
 */
export function adversaryFor(
  classifier: Classifier,
  settings: AdversarialTrainingSettings,
  epsilon: number,
  seedOf: (batchIndex: number) => number,
): (x: tf.Tensor4D, labels: Int32Array, batchIndex: number) => AdversarialInput {
  return (x, labels, batchIndex) => {
    const seed = seedOf(batchIndex);
    if (settings.method === 'trades') {
      return {
        x: x.clone(),
        trades: {
          adversarial: tradesBatch(classifier, x, epsilon, settings.steps, seed),
          beta: settings.beta ?? defaultTradesBeta,
        },
      };
    }
    return { x: adversarialBatch(classifier, x, labels, settings, epsilon, seed) };
  };
}

export interface OverfittingProbe {
  /** Accuracy under PGD-10 (random start) at ε on the probe batch. */
  readonly pgdAccuracy: number;
  /** Accuracy under FGSM at ε on the probe batch. */
  readonly fgsmAccuracy: number;
}

/** PGD-10 and FGSM accuracy on a fixed batch (Wong et al.'s check, on held-out images). */
export function overfittingProbe(
  classifier: Classifier,
  probe: ImageSet,
  epsilon: number,
  seed: number,
): OverfittingProbe {
  const [count, height, width, channels] = probe.shape;
  const labels = Int32Array.from(probe.labels.subarray(0, count));
  const x = tf.tensor4d(probe.images, [count, height, width, channels]);
  try {
    const accuracy = (name: 'pgd' | 'fgsm', options: Record<string, unknown>) => {
      const result = getAttack(name).run(
        classifier,
        { x, labels },
        undefined,
        { epsilon, ...options },
        { seed },
      );
      result.adversarial.dispose();
      let correct = 0;
      for (let index = 0; index < count; index++) if (result.predictions[index] === labels[index]) correct++;
      return correct / count;
    };
    return {
      pgdAccuracy: accuracy('pgd', { steps: 10, relativeStepSize: 0.25, randomStart: true, label: 'truth' }),
      fgsmAccuracy: accuracy('fgsm', { label: 'truth' }),
    };
  } finally {
    x.dispose();
  }
}

/**
 * True when PGD accuracy on the probe has fallen to less than half its best so far (and by at least
 * 0.1) while FGSM accuracy is at least what it was at that best epoch: robustness that only holds
 * against the attack the model trains on.
 */
export function catastrophicOverfitting(history: readonly OverfittingProbe[]): boolean {
  const latest = history.at(-1);
  if (latest === undefined || history.length < 2) return false;
  let best = history[0] as OverfittingProbe;
  for (const probe of history.slice(0, -1)) if (probe.pgdAccuracy > best.pgdAccuracy) best = probe;
  return (
    latest.pgdAccuracy < 0.5 * best.pgdAccuracy &&
    best.pgdAccuracy - latest.pgdAccuracy >= 0.1 &&
    latest.fgsmAccuracy >= best.fgsmAccuracy
  );
}
