/**
 * Classification metrics, with MedMNIST's evaluator semantics (medmnist/evaluator.py, Yang et al.
 * 2023) so numbers compare with its benchmark tables:
 * - binary: AUC of the positive-class score, accuracy at score > 0.5;
 * - multi-class and ordinal: the mean over classes of one-vs-rest AUCs, accuracy of the argmax;
 * - multi-label: the mean over labels of per-label AUCs and of per-label accuracies at 0.5.
 * ROC/AUC is computed by hand (no maintained npm package does it with ties): the area under the
 * ROC curve through every distinct threshold, i.e. the Mann–Whitney statistic in which a tied
 * positive/negative pair counts one half. Scores are probabilities (softmax or sigmoid outputs).
 */
import { MedrobustError } from '../core/errors.ts';
import type { Task } from '../data/image-set.ts';

export interface RocCurve {
  /** False-positive rates, from 0 to 1. */
  readonly falsePositiveRate: Float64Array;
  /** True-positive rates, from 0 to 1. */
  readonly truePositiveRate: Float64Array;
  /** Threshold of each point: predict positive when score ≥ threshold (+∞ for the first point). */
  readonly thresholds: Float64Array;
}

/** The ROC curve of scores against 0/1 labels, one point per distinct score. */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): RocCurve {
  if (scores.length !== labels.length) {
    throw new MedrobustError('invalid-argument', `${scores.length} scores for ${labels.length} labels`, {
      hint: 'give one score per labelled sample',
    });
  }
  const order = Array.from({ length: scores.length }, (_, index) => index).sort(
    (a, b) => (scores[b] ?? 0) - (scores[a] ?? 0),
  );
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) positives++;
  const negatives = labels.length - positives;
  const fpr = [0];
  const tpr = [0];
  const thresholds = [Number.POSITIVE_INFINITY];
  let truePositives = 0;
  let falsePositives = 0;
  for (let k = 0; k < order.length; k++) {
    const index = order[k] ?? 0;
    if (labels[index] === 1) truePositives++;
    else falsePositives++;
    const next = order[k + 1];
    // One point per distinct score: tied samples cross the threshold together.
    if (next === undefined || scores[next] !== scores[index]) {
      fpr.push(negatives === 0 ? 0 : falsePositives / negatives);
      tpr.push(positives === 0 ? 0 : truePositives / positives);
      thresholds.push(scores[index] ?? 0);
    }
  }
  return {
    falsePositiveRate: Float64Array.from(fpr),
    truePositiveRate: Float64Array.from(tpr),
    thresholds: Float64Array.from(thresholds),
  };
}

/** Area under the ROC curve (trapezoids); NaN when only one class is present, as AUC is undefined. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const curve = rocCurve(scores, labels);
  const last = curve.falsePositiveRate.length - 1;
  if ((curve.truePositiveRate[last] ?? 0) === 0 || (curve.falsePositiveRate[last] ?? 0) === 0)
    return Number.NaN;
  let area = 0;
  for (let i = 1; i <= last; i++) {
    const width = (curve.falsePositiveRate[i] ?? 0) - (curve.falsePositiveRate[i - 1] ?? 0);
    area += (width * ((curve.truePositiveRate[i] ?? 0) + (curve.truePositiveRate[i - 1] ?? 0))) / 2;
  }
  return area;
}

/** The largest true-positive rate at a false-positive rate no larger than `rate` (e.g. TPR at 5 % FPR). */
export function truePositiveRateAt(curve: RocCurve, rate: number): number {
  let best = 0;
  curve.falsePositiveRate.forEach((fpr, index) => {
    if (fpr <= rate + 1e-12) best = Math.max(best, curve.truePositiveRate[index] ?? 0);
  });
  return best;
}

export interface ClassificationMetrics {
  readonly auc: number;
  readonly accuracy: number;
  /** Recall (sensitivity) per class; per label for multi-label tasks. */
  readonly recall: readonly number[];
  /** confusion[true][predicted]; empty for multi-label tasks. */
  readonly confusion: readonly (readonly number[])[];
}

/**
 * MedMNIST-style metrics. `probabilities` is [count × classes] row-major; `labels` is [count] class
 * indices, or [count × classes] 0/1 targets for multi-label tasks.
 */
export function classificationMetrics(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  task: Task,
): ClassificationMetrics {
  const count = Math.floor(probabilities.length / classes);
  const column = (values: ArrayLike<number>, width: number, c: number) =>
    Float64Array.from({ length: count }, (_, n) => values[n * width + c] ?? 0);
  if (task === 'multi-label') {
    const aucs: number[] = [];
    const accuracies: number[] = [];
    const recall: number[] = [];
    for (let c = 0; c < classes; c++) {
      const scores = column(probabilities, classes, c);
      const targets = column(labels, classes, c);
      aucs.push(rocAuc(scores, targets));
      let correct = 0;
      let positives = 0;
      let found = 0;
      scores.forEach((score, n) => {
        const predicted = score > 0.5 ? 1 : 0;
        if (predicted === targets[n]) correct++;
        if (targets[n] === 1) {
          positives++;
          if (predicted === 1) found++;
        }
      });
      accuracies.push(correct / count);
      recall.push(positives === 0 ? Number.NaN : found / positives);
    }
    return { auc: mean(aucs), accuracy: mean(accuracies), recall, confusion: [] };
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let n = 0; n < count; n++) {
    let predicted = 0;
    if (task === 'binary') {
      predicted = (probabilities[n * classes + classes - 1] ?? 0) > 0.5 ? classes - 1 : 0;
    } else {
      for (let c = 1; c < classes; c++) {
        if ((probabilities[n * classes + c] ?? 0) > (probabilities[n * classes + predicted] ?? 0))
          predicted = c;
      }
    }
    const row = confusion[labels[n] ?? 0];
    if (row !== undefined) row[predicted] = (row[predicted] ?? 0) + 1;
  }
  const correct = confusion.reduce((sum, row, index) => sum + (row[index] ?? 0), 0);
  const recall = confusion.map((row, index) => {
    const total = row.reduce((sum, value) => sum + value, 0);
    return total === 0 ? Number.NaN : (row[index] ?? 0) / total;
  });
  const oneVsRest = (c: number) =>
    rocAuc(
      column(probabilities, classes, c),
      Float64Array.from({ length: count }, (_, n) => (labels[n] === c ? 1 : 0)),
    );
  const auc =
    task === 'binary'
      ? oneVsRest(classes - 1)
      : mean(Array.from({ length: classes }, (_, c) => oneVsRest(c)));
  return { auc, accuracy: correct / count, recall, confusion };
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}
