/**
 * The classifier a detector puts over its characteristic (Ma et al. 2021 §5, SPEC.md §5):
 * - `logistic-regression`: L2, intercept, C chosen by 5-fold stratified cross-validation over
 *   logspace(−4, 4, 10) (sklearn LogisticRegressionCV, as the authors use for KD and LID); score = the
 *   decision function w·x + b, which is also differentiable (adaptive attacks rebuild it in tfjs);
 * - `random-forest` (DFeat): score = the mean over trees of the leaf share of adversarial rows;
 * - `svm` (QFeat): RBF kernel, score = the decision function.
 * One settings union, one fit and one restore, so detectors name their classifier as data.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';
import {
  fitLogisticRegressionCV,
  type LogisticRegression,
  type LogisticRegressionState,
  restoreLogisticRegression,
} from './classifiers/logistic-regression.ts';
import type { MinMaxScaler } from './classifiers/min-max-scaler.ts';
import { fitRandomForest, type RandomForestState, restoreRandomForest } from './classifiers/random-forest.ts';
import { fitSvm, restoreSvm, type SvmState } from './classifiers/svm.ts';

export type ClassifierSettings =
  | { readonly kind: 'logistic-regression' }
  | { readonly kind: 'random-forest'; readonly trees: number }
  | { readonly kind: 'svm'; readonly gamma: number; readonly c: number };

export type ClassifierKind = ClassifierSettings['kind'];

export type BinaryClassifierState = LogisticRegressionState | RandomForestState | SvmState;

export interface FittedBinaryClassifier {
  /** Higher = more likely adversarial. */
  score(x: FeatureMatrix): Float64Array;
  /** The score as a tfjs expression of [b, d] characteristics, when the classifier is differentiable. */
  scoreTensor?(x: tf.Tensor2D): tf.Tensor1D;
  toJSON(): BinaryClassifierState;
}

/** A fitted logistic regression as a detector classifier (also the adaptive attacks' surrogate). */
export function logisticClassifier(model: LogisticRegression): FittedBinaryClassifier {
  return {
    score: (x) => model.score(x),
    scoreTensor: (x) =>
      tf.tidy(
        () =>
          tf.add(
            tf.reshape(
              tf.matMul(x, tf.tensor2d(Float32Array.from(model.weights), [model.weights.length, 1])),
              [-1],
            ),
            model.intercept,
          ) as tf.Tensor1D,
      ),
    toJSON: () => model.toJSON(),
  };
}

export function fitBinaryClassifier(
  settings: ClassifierSettings,
  x: FeatureMatrix,
  y: Uint8Array,
  seed: number,
): FittedBinaryClassifier {
  switch (settings.kind) {
    case 'logistic-regression':
      return logisticClassifier(fitLogisticRegressionCV(x, y).model);
    case 'random-forest': {
      const forest = fitRandomForest(x, y, { trees: settings.trees, seed });
      return { score: (rows) => forest.score(rows), toJSON: () => forest.toJSON() };
    }
    case 'svm': {
      const svm = fitSvm(x, y, { gamma: settings.gamma, c: settings.c });
      return { score: (rows) => svm.score(rows), toJSON: () => svm.toJSON() };
    }
  }
}

export function restoreBinaryClassifier(state: BinaryClassifierState): FittedBinaryClassifier {
  switch (state.kind) {
    case 'logistic-regression':
      return logisticClassifier(restoreLogisticRegression(state));
    case 'random-forest': {
      const forest = restoreRandomForest(state);
      return { score: (rows) => forest.score(rows), toJSON: () => forest.toJSON() };
    }
    case 'svm': {
      const svm = restoreSvm(state);
      return { score: (rows) => svm.score(rows), toJSON: () => svm.toJSON() };
    }
    default:
      throw new MedrobustError(
        'invalid-model',
        `unknown detector classifier '${(state as { kind: string }).kind}'`,
        {
          hint: 'a detector file names one of: logistic-regression, random-forest, svm',
        },
      );
  }
}

/** The scaler's x·scale + offset as a tfjs expression (differentiable). */
export function scaleTensor(scaler: MinMaxScaler, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(
    () =>
      tf.add(
        tf.mul(x, tf.tensor2d(Float32Array.from(scaler.scale), [1, scaler.columns])),
        tf.tensor2d(Float32Array.from(scaler.offset), [1, scaler.columns]),
      ) as tf.Tensor2D,
  );
}
