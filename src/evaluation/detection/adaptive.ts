/**
 * Adaptive attacks on detectors (SPEC.md §6; Carlini & Wagner, "Adversarial examples are not easily
 * detected: bypassing ten detection methods", AISec 2017; Yao et al., "A hierarchical feature
 * constraint to camouflage medical adversarial attacks", MICCAI 2021). The attacker knows the fitted
 * detector and runs the paper's PGD (20 steps of ε/10 from a random start, L∞) on
 *   −max(0, Z_y − max_{j≠y} Z_j + κ) − λ · max(0, s(x) − τ)   (κ = 2: the CW margin loss),
 * a hinge at the detector's threshold τ (AdaptiveSettings.threshold), where s is the detector's score (higher = adversarial) as a differentiable function of the model's
 * outputs: KD and Mahalanobis exactly (their characteristic, min-max scaling and logistic regression in
 * tfjs); for LID, DFeat and QFeat, which are not differentiable, a surrogate: a logistic regression on
 * the raw feature fitted to the same clean/adversarial training rows.
 *
 * The feature-matching variant, in the spirit of the hierarchical feature constraint, needs no
 * detector: it pulls the adversarial image's features at every stage toward the clean distribution of
 * the class it is pushed into, CE − λ · max(0, mean_layers D²_t(f_layer(x)) / d_layer − m_t), with D²_t
 * the squared Mahalanobis distance to the target class t (the most likely wrong class at the clean
 * image) under the tied-covariance class Gaussians of the reference features (class-gaussian.ts), and
 * m_t its median over clean reference images of class t (the pull stops inside the clean distribution).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackRun } from '../../attacks/attack.ts';
import { projectedGradient } from '../../attacks/projected-gradient.ts';
import { untargeted } from '../../core/goal.ts';
import { logisticClassifier, scaleTensor } from '../../detectors/binary-classifier.ts';
import {
  type ClassGaussian,
  mahalanobisDistances,
  mahalanobisDistancesTensor,
} from '../../detectors/class-gaussian.ts';
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
  /**
   * The score below which an input passes (the detector's threshold): the term is a hinge,
   * −λ·max(0, s(x) − threshold), so once an image passes the detector the cross-entropy alone moves it
   * (without the hinge, a large λ drives scores far below the clean ones and never fools the model).
   */
  readonly threshold: number;
  readonly steps?: number;
  readonly seed?: number;
}

/** The paper's PGD schedule on the CW margin (κ = 2) with the detector hinge added. */
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
    // Both terms are hinges: the CW margin stops pulling once the image is misclassified by κ = 2
    // logits, the detector term once it passes; a cross-entropy term never saturates and, with the
    // detector term, either dominates or is dominated depending on λ.
    loss: 'margin',
    confidence: 2,
    label: 'prediction',
    earlyStop: false,
    extraTerm: {
      taps: term.taps,
      term: (outputs, rows) =>
        tf.tidy(
          () =>
            tf.mul(
              tf.relu(tf.sub(term.score(outputs, rows), settings.threshold)),
              -settings.weight,
            ) as tf.Tensor1D,
        ),
    },
  });
}

/**
 * A differentiable surrogate for a detector without a gradient: logistic regression (C = 1) on the
 * min-max-scaled raw feature, fitted to the detector's clean (0) and adversarial (1) training rows.
 */
export function surrogateTerm(tap: string, x: FeatureMatrix, y: Uint8Array): ScoreTerm {
  const scaler = fitMinMaxScaler(x);
  const classifier = logisticClassifier(fitLogisticRegression(scaler.transform(x), y, { c: 1 }));
  return {
    taps: [tap],
    score: (outputs) =>
      tf.tidy(
        () =>
          classifier.scoreTensor?.(
            scaleTensor(scaler, pooledTaps(outputs, [tap]).get(tap) as tf.Tensor2D),
          ) as tf.Tensor1D,
      ),
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
  /** Per class, the median of the term over clean reference images of that class (the hinge's zero). */
  typical: Float64Array,
): ScoreTerm {
  const targetTensor = tf.keep(tf.tensor1d(targets, 'int32'));
  const typicalTensor = tf.keep(tf.tensor1d(Float32Array.from(typical)));
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
        // How far outside the target class's clean distribution: 0 at its median.
        return tf.sub(
          tf.div(tf.addN(perLayer), taps.length),
          tf.gather(typicalTensor, rowTargets),
        ) as tf.Tensor1D;
      }),
    dispose: () => tf.dispose([targetTensor, typicalTensor]),
  };
}

/** The most likely wrong class of each image at the clean input (the feature-matching target). */
export function likelyWrongClasses(model: Classifier, x: tf.Tensor4D): Int32Array {
  return tf.tidy(() => {
    const { logits } = model.predict(x);
    const predicted = tf.oneHot(tf.argMax(logits, 1), logits.shape[1]);
    return Int32Array.from(tf.argMax(tf.sub(logits, tf.mul(predicted, 1e9)), 1).dataSync());
  });
}

/** Per class, the median over its reference images of mean_layers D²_c/d (the feature-matching hinge's zero). */
export function typicalFeatureDistances(
  gaussians: readonly ClassGaussian[],
  features: readonly FeatureMatrix[],
  labels: Int32Array,
  classes: number,
): Float64Array {
  const perImage = new Float64Array(labels.length);
  gaussians.forEach((gaussian, layer) => {
    const distances = mahalanobisDistances(gaussian, features[layer] as FeatureMatrix);
    labels.forEach((label, index) => {
      perImage[index] =
        (perImage[index] ?? 0) +
        (distances[index * classes + label] ?? 0) / gaussian.dimensions / gaussians.length;
    });
  });
  return Float64Array.from({ length: classes }, (_, c) => {
    const values = Array.from(perImage)
      .filter((_, index) => labels[index] === c)
      .sort((a, b) => a - b);
    return values.length === 0 ? 0 : (values[Math.floor(values.length / 2)] ?? 0);
  });
}
