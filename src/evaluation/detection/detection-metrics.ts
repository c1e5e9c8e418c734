/**
 * Detection metrics for scores where higher means adversarial (label 1) and lower clean (label 0):
 * AUC (ties count one half, models/metrics.ts), the true-positive rate at a 5 % false-positive rate
 * (the rate a deployment tolerates on clean inputs), and accuracy at a threshold chosen beforehand on
 * the training split (score ≥ threshold → adversarial).
 */
import { rocAuc, rocCurve, truePositiveRateAt } from '../../models/metrics.ts';

export interface DetectionMetrics {
  readonly auc: number;
  readonly truePositiveRateAt5: number;
  readonly accuracy: number;
  readonly samples: number;
}

export function detectionMetrics(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold: number,
): DetectionMetrics {
  let correct = 0;
  for (let i = 0; i < scores.length; i++) {
    const called = (scores[i] ?? 0) >= threshold ? 1 : 0;
    if (called === labels[i]) correct++;
  }
  return {
    auc: rocAuc(scores, labels),
    truePositiveRateAt5: truePositiveRateAt(rocCurve(scores, labels), 0.05),
    accuracy: scores.length === 0 ? Number.NaN : correct / scores.length,
    samples: scores.length,
  };
}
