/**
 * Adaptive attacks on detectors (SPEC.md §6; Carlini & Wagner, "Adversarial examples are not easily
 * detected: bypassing ten detection methods", AISec 2017; Yao et al., "A hierarchical feature
 * constraint to camouflage medical adversarial attacks", MICCAI 2021). The attacker knows the fitted
 * detector and runs the paper's PGD (20 steps of ε/10 from a random start, L∞) on
 *   CE(f(x), y) − λ · s(x),
 * where s is the detector's score (higher = adversarial) as a differentiable function of the model's
 * outputs: KD and Mahalanobis exactly (their characteristic, min-max scaling and logistic regression in
 * tfjs); for LID, DFeat and QFeat, which are not differentiable, a surrogate: a logistic regression on
 * the raw feature fitted to the same clean/adversarial training rows.
 *
 * The feature-matching variant, in the spirit of the hierarchical feature constraint, needs no
 * detector: it pulls the adversarial image's features at every stage toward the clean distribution of
 * the class it is pushed into, CE − λ · mean_layers D²_t(f_layer(x)) / d_layer, with D²_t the squared
 * Mahalanobis distance to the target class t (the most likely wrong class at the clean image) under
 * the tied-covariance class Gaussians of the reference features (class-gaussian.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AttackRun, predictClasses } from '../../attacks/attack.ts';
import { projectedGradient } from '../../attacks/projected-gradient.ts';
import { untargeted } from '../../core/goal.ts';
import { scaleTensor } from '../../detectors/binary-classifier.ts';
import { type ClassGaussian, mahalanobisDistancesTensor } from '../../detectors/class-gaussian.ts';
import type { FeatureMatrix } from '../../detectors/classifiers/feature-matrix.ts';
import { fitLogisticRegression } from '../../detectors/classifiers/logistic-regression.ts';
import { fitMinMaxScaler } from '../../detectors/classifiers/min-max-scaler.ts';
import { pooledTaps } from '../../detectors/features.ts';
import type { Classifier, Outputs } from '../../engine/contracts.ts';

/** A differentiable per-image score term of the model's outputs (higher = more adversarial). */
export interface ScoreTerm {
  readonly taps: readonly string[];
  /** [b] scores from one forward pass's outputs; `rows` selects per-image state for the images stepped. */
  readonly score: (outputs: Outputs, rows: tf.Tensor1D | undefined) => tf.Tensor1D;
  /** Frees tensors the term keeps. */
  readonly dispose?: () => void;
}

export interface AdaptiveSettings {
  readonly epsilon: number;
  /** Weight λ of the detector term. */
  readonly weight: number;
  readonly steps?: number;
  readonly seed?: number;
}

/** The paper's PGD with −λ·score added to its cross-entropy objective. */
export function adaptivePgd(
  model: Classifier,
  x: tf.Tensor4D,
  labels: Int32Array,
  term: ScoreTerm,
  settings: AdaptiveSettings,
): tf.Tensor4D {
  const run: AttackRun<unknown> = {
    model,
    x,
    labels,
    goal: untargeted,
    options: {},
    bounds: model.info.bounds,
    classes: model.info.classNames.length,
    seed: settings.seed ?? 0,
  };
  return projectedGradient(run, {
    norm: 'linf',
    epsilon: settings.epsilon,
    steps: settings.steps ?? 20,
    stepSize: settings.epsilon / 10,
    randomStart: true,
    restarts: 1,
    loss: 'cross-entropy',
    confidence: 0,
    label: 'prediction',
    earlyStop: false,
    extraTerm: {
      taps: term.taps,
      term: (outputs, rows) =>
        tf.tidy(() => tf.mul(term.score(outputs, rows), -settings.weight) as tf.Tensor1D),
    },
  });
}

/**
 * A differentiable surrogate for a detector without a gradient: logistic regression (C = 1) on the
 * min-max-scaled raw feature, fitted to the detector's clean (0) and adversarial (1) training rows.
 */
export function surrogateTerm(tap: string, x: FeatureMatrix, y: Uint8Array): ScoreTerm {
  const scaler = fitMinMaxScaler(x);
  const model = fitLogisticRegression(scaler.transform(x), y, { c: 1 });
  const weights = Float32Array.from(model.weights);
  return {
    taps: [tap],
    score: (outputs) =>
      tf.tidy(() => {
        const feature = scaleTensor(scaler, pooledTaps(outputs, [tap]).get(tap) as tf.Tensor2D);
        return tf.add(
          tf.reshape(tf.matMul(feature, tf.tensor2d(weights, [weights.length, 1])), [-1]),
          model.intercept,
        ) as tf.Tensor1D;
      }),
  };
}

/**
 * The feature-matching term: minus the mean, over layers, of the squared Mahalanobis distance to the
 * target class per feature dimension (so maximising the objective pulls features toward that class).
 * `targets` are per image of the batch being attacked.
 */
export function featureMatchingTerm(
  taps: readonly string[],
  gaussians: readonly ClassGaussian[],
  targets: Int32Array,
): ScoreTerm {
  const targetTensor = tf.keep(tf.tensor1d(targets, 'int32'));
  return {
    taps,
    score: (outputs, rows) =>
      tf.tidy(() => {
        const pooled = pooledTaps(outputs, taps);
        const rowTargets = rows === undefined ? targetTensor : tf.gather(targetTensor, rows);
        const perLayer = taps.map((tap, t) => {
          const gaussian = gaussians[t] as ClassGaussian;
          const distances = mahalanobisDistancesTensor(gaussian, pooled.get(tap) as tf.Tensor2D);
          const chosen = tf.sum(tf.mul(distances, tf.oneHot(rowTargets, gaussian.classes)), 1);
          return tf.div(chosen, gaussian.dimensions);
        });
        // The score is "how adversarial": the distance itself (the attack subtracts λ × it).
        return tf.div(tf.addN(perLayer), taps.length) as tf.Tensor1D;
      }),
    dispose: () => targetTensor.dispose(),
  };
}

/** The most likely wrong class of each image at the clean input (the feature-matching target). */
export function likelyWrongClasses(model: Classifier, x: tf.Tensor4D): Int32Array {
  const predictions = predictClasses(model, x);
  return tf.tidy(() => {
    const { logits } = model.predict(x);
    const masked = tf.sub(logits, tf.mul(tf.oneHot(tf.tensor1d(predictions, 'int32'), logits.shape[1]), 1e9));
    return Int32Array.from(tf.argMax(masked, 1).dataSync());
  });
}
